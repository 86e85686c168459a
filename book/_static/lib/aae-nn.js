/* aae-nn: the one small library the book's live figures run on. No framework, nothing from the network.
 *
 *   numbers   fp16 and uint8 arrays from base64; dense layers (matrix product, bias, ReLU, sigmoid),
 *             softmax; the networks `python -m aae_core export-decoder` writes (encoder and decoder).
 *             They are the function AAENNCore, which needs no page: chapter 1's trainer runs it in its
 *             Web Worker too, from its source text (aae-train-core.js)
 *   loading   scripts by an injected <script> tag, once per page (browsers refuse fetch on file://);
 *             weights scripts file themselves in window.AAE_WEIGHTS under their own URL
 *   drawing   28x28 digits on a canvas (ink dark on white, as the book's figures), small DOM helpers
 *   widgets   each live figure is an element <div class="aae-widget" data-widget="NAME">; mountAll
 *             loads the widget's script (widgets/aae-NAME.js) and its stylesheet once
 * Matrices are Float32Array, row-major; a weight is (out, in), as torch stores it.
 */
function AAENNCore() {
  "use strict";

  // ------------------------------------------------------------------ numbers
  // Every fp16 bit pattern's value, computed once: decoding 1.8M weights is then a table lookup.
  var HALF = (function () {
    var table = new Float32Array(65536);
    for (var h = 0; h < 65536; h++) {
      var sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
      table[h] = exponent === 0 ? sign * Math.pow(2, -14) * (fraction / 1024)
        : exponent === 31 ? (fraction ? NaN : sign * Infinity)
        : sign * Math.pow(2, exponent - 15) * (1 + fraction / 1024);
    }
    return table;
  })();

  function bytes(base64) {
    var text = atob(base64), out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  function halves(base64) {  // little-endian fp16 -> Float32Array
    var b = bytes(base64), out = new Float32Array(b.length >> 1);
    for (var i = 0; i < out.length; i++) out[i] = HALF[b[2 * i] | (b[2 * i + 1] << 8)];
    return out;
  }

  // Y (n, out) = act(X (n, in) W^T + b). Each weight row is read once for all n inputs.
  function dense(X, n, W, b, nIn, nOut, act, Y) {
    Y = Y || new Float32Array(n * nOut);
    for (var j = 0; j < nOut; j++) {
      var wo = j * nIn;
      for (var i = 0; i < n; i++) {
        var xo = i * nIn, s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
        for (; k + 3 < nIn; k += 4) {
          s0 += X[xo + k] * W[wo + k]; s1 += X[xo + k + 1] * W[wo + k + 1];
          s2 += X[xo + k + 2] * W[wo + k + 2]; s3 += X[xo + k + 3] * W[wo + k + 3];
        }
        for (; k < nIn; k++) s0 += X[xo + k] * W[wo + k];
        var s = (s0 + s1) + (s2 + s3) + b[j];
        Y[i * nOut + j] = act === "relu" ? (s > 0 ? s : 0) : act === "sigmoid" ? 1 / (1 + Math.exp(-s)) : s;
      }
    }
    return Y;
  }

  function softmax(x, from, count, out, at) {  // out[at..at+count) = softmax(x[from..from+count))
    var top = -Infinity, sum = 0, k;
    for (k = 0; k < count; k++) top = Math.max(top, x[from + k]);
    for (k = 0; k < count; k++) sum += (out[at + k] = Math.exp(x[from + k] - top));
    for (k = 0; k < count; k++) out[at + k] /= sum;
    return out;
  }

  function argmax(x, from, count) {
    var best = 0;
    for (var k = 1; k < count; k++) if (x[from + k] > x[from + best]) best = k;
    return best;
  }

  // A network from its weights script's bundle {part, manifest, weights}: a stack of dense layers.
  function Network(bundle) {
    var values = halves(bundle.weights), spec = bundle.manifest[bundle.part];
    this.part = bundle.part; this.manifest = bundle.manifest; this.outputs = spec.outputs;
    this.layers = spec.layers.map(function (l) {
      return { nIn: l["in"], nOut: l.out, activation: l.activation,
               W: values.subarray(l.weight[0], l.weight[0] + l.weight[1]),
               b: values.subarray(l.bias[0], l.bias[0] + l.bias[1]) };
    });
  }
  Network.prototype.forward = function (X, n) {  // (n, first in) -> (n, last out)
    for (var l = 0; l < this.layers.length; l++) {
      var layer = this.layers[l];
      X = dense(X, n, layer.W, layer.b, layer.nIn, layer.nOut, layer.activation);
    }
    return X;
  };

  // decode(decoder, digit, z): digit an integer (one-hot y) or n_classes values; z style_dim numbers.
  // Returns the 784 pixels in [0, 1].
  function decode(decoder, digit, z) {
    var m = decoder.manifest, x = new Float32Array(m.n_classes + m.style_dim);
    if (typeof digit === "number") x[digit] = 1;
    else for (var k = 0; k < m.n_classes; k++) x[k] = digit[k];
    for (var s = 0; s < m.style_dim; s++) x[m.n_classes + s] = z[s];
    return decoder.forward(x, 1);
  }

  // Every digit y with one style z: (n_classes, 784), one batch through the decoder.
  function decodeDigits(decoder, z) {
    var m = decoder.manifest, c = m.n_classes, width = c + m.style_dim, x = new Float32Array(c * width);
    for (var d = 0; d < c; d++) {
      x[d * width + d] = 1;
      for (var s = 0; s < m.style_dim; s++) x[d * width + c + s] = z[s];
    }
    return decoder.forward(x, c);
  }

  // encode(encoder, X, n): X (n, 784) -> {probs: q(y|x) (n, n_classes), z: (n, style_dim)}.
  function encode(encoder, X, n) {
    var out = encoder.forward(X, n), width = out.length / n, y = encoder.outputs.y_logits, zs = encoder.outputs.z;
    var c = y[1] - y[0], sd = zs[1] - zs[0], probs = new Float32Array(n * c), z = new Float32Array(n * sd);
    for (var i = 0; i < n; i++) {
      softmax(out, i * width + y[0], c, probs, i * c);
      z.set(out.subarray(i * width + zs[0], i * width + zs[1]), i * sd);
    }
    return { probs: probs, z: z };
  }

  return { HALF: HALF, bytes: bytes, halves: halves, dense: dense, softmax: softmax, argmax: argmax, Network: Network,
           decode: decode, decodeDigits: decodeDigits, encode: encode };
}

(function (global) {
  "use strict";
  if (global.AAENN) {  // loaded again (chapter 1's trainer has its own tag): mount what this tag asks for
    var again = document.currentScript;
    if (again && again.getAttribute("data-aae-static") !== null) global.AAENN.mountAll(again.getAttribute("data-aae-static"));
    return;
  }
  var nn = AAENNCore(), Network = nn.Network;

  // ------------------------------------------------------------------ loading
  var scripts = {}, networks = {};

  function absolute(src) { var a = document.createElement("a"); a.href = src; return a.href; }

  // load(src, done): run a script once per page by an injected tag; done(error) when it has run.
  function load(src, done) {
    var url = absolute(src), entry = scripts[url];
    if (!entry) {
      entry = scripts[url] = { done: false, error: null, waiting: [] };
      var tag = document.createElement("script");
      tag.src = url;
      tag.onload = tag.onerror = function (event) {
        entry.done = true;
        if (event.type === "error") entry.error = new Error("could not load " + url);
        entry.waiting.splice(0).forEach(function (f) { f(entry.error); });
      };
      document.head.appendChild(tag);
    }
    if (entry.done) done(entry.error); else entry.waiting.push(done);
  }

  // network(src, done): the Network a weights script holds; done(error, net). Decoded once per page.
  function network(src, done) {
    var url = absolute(src);
    if (networks[url]) return done(null, networks[url]);
    load(url, function (error) {
      if (error) return done(error);
      if (!networks[url]) {
        var bundle = global.AAE_WEIGHTS && global.AAE_WEIGHTS[url];
        if (!bundle) return done(new Error(url + " holds no weights"));
        networks[url] = new Network(bundle);
        delete global.AAE_WEIGHTS[url];  // the base64 text is no longer needed
      }
      done(null, networks[url]);
    });
  }

  // ------------------------------------------------------------------ drawing
  function element(tag, attributes, parent, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // paint(canvas, images, count, side): `count` side x side images of values in [0, 1] side by side,
  // ink dark on white, scaled to fill the canvas without smoothing.
  function paint(canvas, images, count, side) {
    side = side || 28; count = count || 1;
    var small = document.createElement("canvas");
    small.width = side * count; small.height = side;
    var context = small.getContext("2d"), image = context.createImageData(side * count, side), data = image.data;
    for (var d = 0; d < count; d++) {
      for (var r = 0; r < side; r++) for (var c = 0; c < side; c++) {
        var v = images[d * side * side + r * side + c], p = 4 * (r * side * count + d * side + c);
        data[p] = data[p + 1] = data[p + 2] = Math.round(255 * (1 - Math.min(1, Math.max(0, v))));
        data[p + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
    var target = canvas.getContext("2d");
    target.imageSmoothingEnabled = false;
    target.drawImage(small, 0, 0, canvas.width, canvas.height);
  }

  var spare = NaN;
  function normal() {  // a standard normal (Box-Muller, the second value kept for the next call)
    if (spare === spare) { var s = spare; spare = NaN; return s; }
    var u = 1 - Math.random(), v = Math.random(), r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  function now() { return global.performance ? performance.now() : Date.now(); }

  // A page-wide message between widgets (the draw pad hands its z to the style explorer).
  var listeners = {};
  function on(name, f) { (listeners[name] = listeners[name] || []).push(f); }
  function emit(name, detail) { (listeners[name] || []).forEach(function (f) { f(detail); }); }

  // ------------------------------------------------------------------ widgets
  var widgets = {};

  // mountAll(base): every unmounted .aae-widget on the page; base is the _static folder's URL.
  function mountAll(base) {
    if (!document.querySelector("link[data-aae-widgets]")) {
      element("link", { rel: "stylesheet", href: base + "widgets/aae-widgets.css", "data-aae-widgets": "" }, document.head);
    }
    document.querySelectorAll(".aae-widget:not([data-mounted])").forEach(function (root) {
      var name = root.getAttribute("data-widget");
      root.setAttribute("data-mounted", "");
      load(base + "widgets/aae-" + name + ".js", function (error) {
        if (error || !widgets[name]) {
          root.textContent = "This figure could not load its script.";
          throw error || new Error("no widget " + name);
        }
        root.innerHTML = "";
        widgets[name](root, JSON.parse(root.getAttribute("data-config") || "{}"), base);
      });
    });
  }

  global.AAENN = Object.assign(nn, {
    core: AAENNCore, load: load, network: network,
    element: element, paint: paint, normal: normal, now: now, on: on, emit: emit, widgets: widgets, mountAll: mountAll,
  });

  var me = document.currentScript;  // the widgets' bootstrap names the _static folder on this tag
  if (me && me.getAttribute("data-aae-static") !== null) mountAll(me.getAttribute("data-aae-static"));
})(window);

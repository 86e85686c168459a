/* The AAE decoder in the browser: (y, z) -> a 28x28 digit, with plain matrix products.
 *
 * Reads the bundle that `python -m aae_core export-decoder` writes (decoder-weights.js sets
 * window.AAE_DECODER = {manifest, weights: base64 of little-endian fp16}). No framework, no
 * network: chapter 4 mounts an explorer (digit buttons, style sliders, a canvas) with it.
 */
(function (global) {
  "use strict";

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

  function load(bundle) {
    var bytes = Uint8Array.from(atob(bundle.weights), function (c) { return c.charCodeAt(0); });
    var values = new Float32Array(bytes.length / 2);
    for (var i = 0; i < values.length; i++) values[i] = HALF[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
    var layers = bundle.manifest.layers.map(function (layer) {
      return {
        n_in: layer["in"], n_out: layer.out, activation: layer.activation,
        weight: values.subarray(layer.weight[0], layer.weight[0] + layer.weight[1]),
        bias: values.subarray(layer.bias[0], layer.bias[0] + layer.bias[1]),
      };
    });
    return { manifest: bundle.manifest, layers: layers };
  }

  // decode(decoder, digit, z): digit an integer (one-hot y) or an array of n_classes values;
  // z an array of style_dim numbers. Returns the 784 pixel intensities in [0, 1].
  function decode(decoder, digit, z) {
    var m = decoder.manifest, x = new Float32Array(m.n_classes + m.style_dim);
    if (typeof digit === "number") x[digit] = 1;
    else for (var k = 0; k < m.n_classes; k++) x[k] = digit[k];
    for (var s = 0; s < m.style_dim; s++) x[m.n_classes + s] = z[s];
    decoder.layers.forEach(function (layer) {
      var out = new Float32Array(layer.n_out), w = layer.weight, n = layer.n_in;
      for (var j = 0; j < layer.n_out; j++) {
        var sum = layer.bias[j], row = j * n;
        for (var i = 0; i < n; i++) sum += w[row + i] * x[i];
        out[j] = layer.activation === "relu" ? Math.max(sum, 0) : 1 / (1 + Math.exp(-sum));
      }
      x = out;
    });
    return x;
  }

  // Ink dark on white, as the book's matplotlib figures (gray_r).
  function draw(canvas, pixels) {
    var size = 28, small = document.createElement("canvas");
    small.width = small.height = size;
    var context = small.getContext("2d"), image = context.createImageData(size, size);
    for (var p = 0; p < size * size; p++) {
      var v = Math.round(255 * (1 - pixels[p]));
      image.data[4 * p] = image.data[4 * p + 1] = image.data[4 * p + 2] = v;
      image.data[4 * p + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    var target = canvas.getContext("2d");
    target.imageSmoothingEnabled = false;
    target.drawImage(small, 0, 0, canvas.width, canvas.height);
  }

  function element(tag, attributes, parent) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  // mount(root, bundle): a digit selector, one slider per style dimension, and the canvas.
  function mount(root, bundle) {
    var decoder = load(bundle), m = decoder.manifest, range = root.getAttribute("data-range") || "3";
    var state = { digit: 0, z: new Array(m.style_dim).fill(0) };
    root.innerHTML = "";
    var canvas = element("canvas", { width: 196, height: 196, "class": "aae-canvas",
                                     "aria-label": "decoded digit" }, root);
    var controls = element("div", { "class": "aae-controls" }, root);
    var digits = element("div", { "class": "aae-digits", role: "group", "aria-label": "digit y" }, controls);
    function redraw() { draw(canvas, decode(decoder, state.digit, state.z)); root.dataset.draws = (+root.dataset.draws || 0) + 1; }
    for (var d = 0; d < m.n_classes; d++) {
      var button = element("button", { type: "button", "data-digit": d }, digits);
      button.textContent = d;
      button.addEventListener("click", function (event) {
        state.digit = +event.target.getAttribute("data-digit");
        digits.querySelectorAll("button").forEach(function (b) { b.classList.toggle("active", b === event.target); });
        redraw();
      });
    }
    digits.firstChild.classList.add("active");
    for (var s = 0; s < m.style_dim; s++) {
      var label = element("label", { "class": "aae-slider" }, controls);
      label.appendChild(document.createTextNode("z" + (s + 1) + " "));
      var slider = element("input", { type: "range", min: -range, max: range, step: 0.05, value: 0,
                                      "data-dim": s }, label);
      slider.addEventListener("input", function (event) {
        state.z[+event.target.getAttribute("data-dim")] = +event.target.value;
        redraw();
      });
    }
    var reset = element("button", { type: "button", "class": "aae-reset" }, controls);
    reset.textContent = "z = 0";
    reset.addEventListener("click", function () {
      state.z.fill(0);
      controls.querySelectorAll("input[type=range]").forEach(function (r) { r.value = 0; });
      redraw();
    });
    redraw();
    return decoder;
  }

  global.AAEDecoder = { load: load, decode: decode, draw: draw, mount: mount };
})(window);

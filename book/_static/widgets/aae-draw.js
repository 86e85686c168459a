/* Chapter 4's draw pad: the reader draws a digit, the encoder reads it, the decoder writes its style.
 *
 * The strokes are inked on a PAD x PAD grid and made into an MNIST digit as MNIST's were made
 * (crop, longer side scaled to 20 pixels with area averaging, centre of mass on the centre of 28x28);
 * aae_core/chapters/drawing.py holds the same steps in Python, and the tests hold the two equal.
 * The encoder gives q(y|x) (ten bars) and z (ten numbers); the decoder draws that z as every digit.
 * The encoder's weights load on the first stroke or the first test digit, not with the page.
 */
(function () {
  "use strict";
  var nn = window.AAENN, el = nn.element;
  var PAD = 112, RADIUS = 4.5, BOX = 20, SIDE = 28, TIE = 1e-9;

  // ------------------------------------------------------------------ MNIST's preparation
  // Ink along the segment a-b: 1 where a pixel's centre is inside the pen's round tip, 0 beyond
  // radius + 0.5, linear between; kept where it is darker than what is there.
  function stamp(ink, size, radius, ax, ay, bx, by) {
    var dx = bx - ax, dy = by - ay, length2 = dx * dx + dy * dy, reach = radius + 0.5;
    var r0 = Math.max(0, Math.floor(Math.min(ay, by) - reach)), r1 = Math.min(size - 1, Math.ceil(Math.max(ay, by) + reach));
    var c0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach)), c1 = Math.min(size - 1, Math.ceil(Math.max(ax, bx) + reach));
    for (var r = r0; r <= r1; r++) for (var c = c0; c <= c1; c++) {
      var px = c + 0.5, py = r + 0.5, t = 0;
      if (length2 > 0) t = Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / length2));
      var ex = px - ax - t * dx, ey = py - ay - t * dy;
      var cover = Math.min(1, Math.max(0, reach - Math.sqrt(ex * ex + ey * ey)));
      if (cover > ink[r * size + c]) ink[r * size + c] = cover;
    }
  }

  function rasterize(strokes, size, radius) {  // strokes: [[x0, y0, x1, y1, ...], ...]
    var ink = new Float32Array(size * size);
    strokes.forEach(function (s) {
      if (s.length === 2) stamp(ink, size, radius, s[0], s[1], s[0], s[1]);
      for (var i = 2; i < s.length; i += 2) stamp(ink, size, radius, s[i - 2], s[i - 1], s[i], s[i + 1]);
    });
    return ink;
  }

  // (nOut, nIn): how much of each input pixel falls in each output pixel (rows sum to 1).
  function areaWeights(nIn, nOut) {
    var w = new Float64Array(nOut * nIn), step = nIn / nOut;
    for (var k = 0; k < nOut; k++) {
      var start = k * step, end = (k + 1) * step;
      for (var i = Math.floor(start); i < Math.min(nIn, Math.ceil(end)); i++) {
        w[k * nIn + i] = (Math.min(end, i + 1) - Math.max(start, i)) / step;
      }
    }
    return w;
  }

  function prepare(ink, size) {  // ink (size, size) -> the 784 values the encoder reads
    var top = size, bottom = -1, left = size, right = -1, r, c, k;
    for (r = 0; r < size; r++) for (c = 0; c < size; c++) if (ink[r * size + c] > 0) {
      top = Math.min(top, r); bottom = Math.max(bottom, r); left = Math.min(left, c); right = Math.max(right, c);
    }
    var image = new Float64Array(SIDE * SIDE), out = new Float32Array(SIDE * SIDE);
    if (bottom < 0) return out;
    var h = bottom - top + 1, w = right - left + 1, scale = BOX / Math.max(h, w);
    var oh = Math.max(1, Math.floor(h * scale + 0.5)), ow = Math.max(1, Math.floor(w * scale + 0.5));
    var wr = areaWeights(h, oh), wc = areaWeights(w, ow), rows = new Float64Array(oh * w);
    for (k = 0; k < oh; k++) for (r = 0; r < h; r++) {
      var a = wr[k * h + r];
      if (a) for (c = 0; c < w; c++) rows[k * w + c] += a * ink[(top + r) * size + left + c];
    }
    var y0 = (SIDE - oh) >> 1, x0 = (SIDE - ow) >> 1, mass = 0, my = 0, mx = 0;
    for (k = 0; k < oh; k++) for (var j = 0; j < ow; j++) {
      var v = 0;
      for (c = 0; c < w; c++) v += rows[k * w + c] * wc[j * w + c];
      image[(y0 + k) * SIDE + x0 + j] = v;
      mass += v; my += v * (y0 + k); mx += v * (x0 + j);
    }
    // whole pixels, to the nearest; a tie (a symmetric digit) goes the same way whatever the sums' rounding
    var sy = Math.floor((SIDE - 1) / 2 - my / mass + 0.5 + TIE), sx = Math.floor((SIDE - 1) / 2 - mx / mass + 0.5 + TIE);
    for (r = 0; r < SIDE; r++) for (c = 0; c < SIDE; c++) {
      var fr = r - sy, fc = c - sx;
      if (fr >= 0 && fr < SIDE && fc >= 0 && fc < SIDE) out[r * SIDE + c] = image[fr * SIDE + fc];
    }
    return out;
  }

  nn.pad = { PAD: PAD, RADIUS: RADIUS, stamp: stamp, rasterize: rasterize, prepare: prepare };

  // ------------------------------------------------------------------ the widget
  nn.widgets.draw = function (root, config, base) {
    var models = config.models, model = models[0], encoder = null, decoder = null, pending = 0;
    var ink = new Float32Array(PAD * PAD), strokes = [], drawing = null, loaded = null, shown = -1;
    var result = null;

    var bar = el("div", { "class": "aae-bar" }, root);
    el("span", { "class": "aae-label" }, bar, "model");
    var switcher = el("div", { "class": "aae-switch", role: "group", "aria-label": "model" }, bar);
    models.forEach(function (m, i) {
      el("button", { type: "button", "data-model": m.name, "aria-pressed": String(!i) }, switcher, m.label)
        .addEventListener("click", function () { setModel(m); });
    });
    var status = el("span", { "class": "aae-status", role: "status" }, bar, "Draw a digit in the box.");

    var main = el("div", { "class": "aae-main" }, root);
    var left = el("div", { "class": "aae-pad-column" }, main);
    var pad = el("canvas", { width: 2 * PAD, height: 2 * PAD, "class": "aae-pad", role: "img",
                             "aria-label": "drawing pad: draw a digit with the mouse, a pen or a finger" }, left);
    var buttons = el("div", { "class": "aae-actions" }, left);
    el("button", { type: "button", "class": "aae-load" }, buttons, "load a test digit").addEventListener("click", nextDigit);
    el("button", { type: "button", "class": "aae-clear" }, buttons, "clear").addEventListener("click", clear);

    var right = el("div", { "class": "aae-read" }, main);
    var seen = el("div", { "class": "aae-seen" }, right);
    var input = el("canvas", { width: 84, height: 84, "class": "aae-input", role: "img",
                               "aria-label": "the drawing as the encoder sees it: 28 by 28 pixels" }, seen);
    el("span", { "class": "aae-small" }, seen, "what the encoder reads (28\u00d728, centred as MNIST)");
    el("p", { "class": "aae-caption" }, right, "q(y | x): the encoder's probability of each digit");
    var bars = el("div", { "class": "aae-bars", role: "img", "aria-label": "probability of each digit" }, right), fills = [];
    for (var d = 0; d < 10; d++) {
      var column = el("div", { "class": "aae-bar-column" }, bars);
      fills.push(el("i", { style: "height: 0%" }, el("div", { "class": "aae-bar-box" }, column)));
      el("span", {}, column, String(d));
    }
    var verdict = el("p", { "class": "aae-verdict", "aria-live": "polite" }, right, "");
    el("p", { "class": "aae-caption" }, right, "z: the style, ten numbers");
    var zs = el("div", { "class": "aae-zs" }, right), zOut = [];
    for (var s = 0; s < 10; s++) {
      var cell = el("span", {}, zs);
      el("span", { "class": "aae-small" }, cell, "z" + (s + 1) + " ");
      zOut.push(el("output", {}, cell, "\u2013"));
    }
    var explore = el("button", { type: "button", "class": "aae-explore", disabled: "" }, right, "explore this style below \u2193");
    explore.addEventListener("click", function () {
      if (result) nn.emit("style", { model: model.name, digit: result.digit, z: Array.from(result.z) });
    });

    el("p", { "class": "aae-caption" }, root, "Your style z with every digit y:");
    var row = el("canvas", { width: 560, height: 56, "class": "aae-row", role: "img",
                             "aria-label": "the drawing's style z decoded as each digit 0 to 9" }, root);

    // ---------------------------------------------------------------- drawing with a pointer
    function point(event) {
      var box = pad.getBoundingClientRect();
      return [(event.clientX - box.left) / box.width * PAD, (event.clientY - box.top) / box.height * PAD];
    }
    pad.addEventListener("pointerdown", function (event) {
      if (drawing !== null || event.button > 0) return;
      event.preventDefault();
      pad.setPointerCapture(event.pointerId);
      drawing = event.pointerId;
      loaded = null;
      var p = point(event);
      strokes.push([p[0], p[1]]);
      stamp(ink, PAD, RADIUS, p[0], p[1], p[0], p[1]);
      changed(false);
      ensure();
    });
    pad.addEventListener("pointermove", function (event) {
      if (event.pointerId !== drawing) return;
      var stroke = strokes[strokes.length - 1], events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      (events.length ? events : [event]).forEach(function (e) {
        var p = point(e), n = stroke.length;
        stroke.push(p[0], p[1]);
        stamp(ink, PAD, RADIUS, stroke[n - 2], stroke[n - 1], p[0], p[1]);
      });
      changed(false);
    });
    function end(event) {
      if (event.pointerId !== drawing) return;
      drawing = null;
      changed(true);
    }
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);

    // ---------------------------------------------------------------- reading the drawing
    var queued = false, rowWanted = false;
    function changed(withRow) {  // repaint now; encode (and decode the row) once per frame
      nn.paint(pad, ink, 1, PAD);
      rowWanted = rowWanted || withRow;
      if (!queued) { queued = true; (window.requestAnimationFrame || setTimeout)(read); }
    }

    function read() {
      queued = false;
      var x = loaded || prepare(ink, PAD);
      nn.paint(input, x);
      if (!encoder) return;
      var empty = !strokes.length && !loaded, start = nn.now();
      if (empty) { result = null; show(null); return; }
      var code = nn.encode(encoder, x, 1);
      root.setAttribute("data-encode-ms", (nn.now() - start).toFixed(2));
      result = { probs: code.probs, z: code.z, digit: nn.argmax(code.probs, 0, 10) };
      show(result);
      if (rowWanted) {
        rowWanted = false;
        start = nn.now();
        nn.paint(row, nn.decodeDigits(decoder, result.z), 10);
        root.setAttribute("data-row-ms", (nn.now() - start).toFixed(2));
      }
      root.setAttribute("data-reads", +(root.getAttribute("data-reads") || 0) + 1);
    }

    function show(r) {
      for (var k = 0; k < 10; k++) {
        fills[k].style.height = r ? (100 * r.probs[k]).toFixed(1) + "%" : "0%";
        fills[k].className = r && k === r.digit ? "aae-top" : "";
        if (k < zOut.length) zOut[k].textContent = r ? (r.z[k] < 0 ? "\u2212" : "+") + Math.abs(r.z[k]).toFixed(2) : "\u2013";
      }
      verdict.textContent = r ? "The encoder reads a " + r.digit + " (" + (100 * r.probs[r.digit]).toFixed(0) + "%)" +
        (loaded && shown >= 0 ? "; the test digit is a " + window.AAE_TEST_DIGITS.labels[shown] + "." : ".") : "";
      if (r) explore.removeAttribute("disabled"); else explore.setAttribute("disabled", "");
      explore.hidden = !document.querySelector(".aae-widget[data-widget=explorer]");  // none on this page
      if (!r) nn.paint(row, new Float32Array(10 * 784), 10);
    }

    // ---------------------------------------------------------------- models, test digits, clearing
    function ensure(then) {  // the model's encoder and decoder, loaded on first use
      if (encoder && decoder) { if (then) then(); return; }
      var ticket = ++pending, need = 2;
      status.textContent = "loading " + model.label + "\u2026";
      function one(part) {
        nn.network(model.path + part + "-weights.js", function (error, net) {
          if (ticket !== pending) return;
          if (error) { status.textContent = "could not load the " + part; throw error; }
          if (part === "encoder") encoder = net; else decoder = net;
          if (--need) return;
          status.textContent = "";
          root.setAttribute("data-model", model.name);
          rowWanted = true;
          read();
          if (then) then();
        });
      }
      one("encoder"); one("decoder");
    }

    function setModel(m) {
      model = m; encoder = decoder = null;
      switcher.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.getAttribute("data-model") === m.name));
      });
      ensure();
    }

    function nextDigit() {
      nn.load(base + "widgets/test-digits.js", function (error) {
        if (error) throw error;
        var all = window.AAE_TEST_DIGITS, images = all.pixels || (all.pixels = nn.bytes(all.images));
        shown = (shown + 1) % all.labels.length;
        loaded = new Float32Array(784);
        for (var i = 0; i < 784; i++) loaded[i] = images[shown * 784 + i] / 255;
        strokes = [];
        for (var r = 0; r < PAD; r++) for (var c = 0; c < PAD; c++) {  // shown on the pad, 4x4 pixels each
          ink[r * PAD + c] = loaded[(r >> 2) * SIDE + (c >> 2)];
        }
        changed(true);
        ensure();
      });
    }

    function clear() {
      ink.fill(0); strokes = []; loaded = null; result = null;
      changed(true);
    }

    root.aaeDraw = {
      draw: function (more) {  // strokes in pad units, as the pointer would draw them
        loaded = null;
        more.forEach(function (s) { strokes.push(s.slice()); });
        rasterize(more, PAD, RADIUS).forEach(function (v, i) { if (v > ink[i]) ink[i] = v; });
        changed(true); ensure();
      },
      strokes: function () { return strokes; },
      input: function () { return loaded || prepare(ink, PAD); },
      result: function () { return result; },
      nextDigit: nextDigit, clear: clear, ensure: ensure,
    };
    changed(true);
  };
})();

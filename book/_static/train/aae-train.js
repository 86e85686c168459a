/* Chapter 1's in-page trainer: the controls and views around aae-train-core.js.
 *
 * AAETrainPage.mount(root, digits) builds the widget in `root` (digits: window.AAE_TRAIN_DIGITS,
 * from train-digits.js) and starts a Web Worker that trains; this file only draws what the worker
 * reports. The worker is built from a Blob of the core's source, which works on file:// and http
 * alike; where a browser refuses even that, the same code trains in the page.
 * root.aaeTrainer is the widget's handle (play, pause, step, reset, set, probe, state): the tests
 * drive the page through it and through the buttons a reader uses.
 */
(function (global) {
  "use strict";

  var DIGIT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];  // matplotlib's tab10, as the book's figures
  var LEARNING_RATES = [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1];
  var HEAT_FAKE = [221, 208, 240], HEAT_MID = [255, 255, 255], HEAT_REAL = [196, 232, 190];  // D(z) = 0, 0.5, 1

  var bytes = global.AAENN.bytes, element = global.AAENN.element;  // the book's library (lib/aae-nn.js)

  // The trainer, in a worker when the browser allows one, else in the page (the same code, and
  // the same messages); a worker that fails before its first answer hands over to the page.
  function startEngine(onMessage) {
    var engine = { kind: "worker" }, backlog = [];
    function inPage() {
      var handler = null;
      global.AAETrainCore(global.AAENN).serve({ post: function (m) { setTimeout(function () { onMessage(m); }, 0); },
                                    listen: function (f) { handler = f; } });
      engine.kind = "page";
      engine.post = function (m) { setTimeout(function () { handler(m); }, 0); };
    }
    try {
      var url = URL.createObjectURL(new Blob([global.AAETrain.workerSource()], { type: "text/javascript" }));
      var worker = new Worker(url);
      worker.onmessage = function (event) {
        if (url) { URL.revokeObjectURL(url); url = null; backlog = null; }
        onMessage(event.data);
      };
      worker.onerror = function () {
        if (!backlog) return;  // it has answered before: its errors are the trainer's
        worker.terminate();
        var replay = backlog;
        backlog = null;
        inPage();
        replay.forEach(engine.post);
      };
      engine.post = function (m) { if (backlog) backlog.push(m); worker.postMessage(m); };
    } catch (err) {
      inPage();
    }
    return engine;
  }

  function mount(root, digits) {
    var side = digits.side, pixels = side * side;
    var data = {
      train: { images: bytes(digits.train.images), labels: bytes(digits.train.labels) },
      val: { images: bytes(digits.val.images), labels: bytes(digits.val.labels) },
    };
    var seed = +(root.getAttribute("data-seed") || global.AAETrain.DEFAULTS.seed);
    var defaults = global.AAETrain.DEFAULTS, priors = global.AAETrain.PRIORS;
    var latest = null, history = { recon: [], disc: [], gen: [] }, waiting = {}, requests = 0, listeners = [];

    // ---------------------------------------------------------------- the DOM
    root.innerHTML = "";
    var bar = element("div", { "class": "aat-bar" }, root);
    var play = element("button", { type: "button", "class": "aat-play", "aria-pressed": "false" }, bar, "Play");
    var stepButton = element("button", { type: "button", "class": "aat-step" }, bar, "Step");
    var reset = element("button", { type: "button", "class": "aat-reset" }, bar, "Reset");
    var status = element("span", { "class": "aat-status", "aria-live": "polite" }, bar, "loading");

    var options = element("div", { "class": "aat-options" }, root);
    var priorLabel = element("label", {}, options, "prior ");
    var prior = element("select", { "class": "aat-prior" }, priorLabel);
    ["mixture", "gaussian", "swissroll"].forEach(function (name) {
      element("option", { value: name }, prior, priors[name].label);
    });
    prior.value = defaults.prior;
    var adversaryLabel = element("label", {}, options);
    var adversary = element("input", { type: "checkbox", "class": "aat-adversary" }, adversaryLabel);
    adversary.checked = defaults.adversary;
    adversaryLabel.appendChild(document.createTextNode(" adversary"));
    function rateSelect(text, cls, value) {
      var label = element("label", {}, options, text + " ");
      var select = element("select", { "class": cls }, label);
      LEARNING_RATES.forEach(function (lr) { element("option", { value: lr }, select, String(lr)); });
      select.value = String(value);
      return select;
    }
    var lrAE = rateSelect("autoencoder lr", "aat-lr-ae", defaults.lrAE);
    var lrDisc = rateSelect("D lr", "aat-lr-disc", defaults.lrDisc);
    var seedLabel = element("label", {}, options, "seed ");
    var seedInput = element("input", { type: "number", min: 0, max: 9999, step: 1, "class": "aat-seed" }, seedLabel);
    seedInput.value = seed;

    var views = element("div", { "class": "aat-views" }, root);
    var space = element("div", { "class": "aat-space" }, views);
    var codes = element("canvas", { width: 720, height: 720, "class": "aat-codes", role: "img",
      "aria-label": "code space: held-out digits' codes coloured by digit over samples of the prior, " +
                    "on the discriminator's output; click to decode a point" }, space);
    var legend = element("div", { "class": "aat-legend" }, space);
    DIGIT_COLORS.forEach(function (colour, d) {
      var key = element("span", { "class": "aat-key" }, legend);
      element("i", { style: "background:" + colour }, key);
      key.appendChild(document.createTextNode(String(d)));
    });
    var heatKey = element("span", { "class": "aat-heat-key" }, legend);
    element("span", {}, heatKey, "D says code");
    element("i", { "class": "aat-heat-bar" }, heatKey);
    element("span", {}, heatKey, "prior");
    var share = element("p", { "class": "aat-share" }, space, "");

    var sidebar = element("div", { "class": "aat-side" }, views);
    element("div", { "class": "aat-title" }, sidebar, "Losses over steps");
    var losses = element("canvas", { width: 640, height: 330, "class": "aat-losses", role: "img",
      "aria-label": "reconstruction loss and adversarial losses over training steps" }, sidebar);
    element("div", { "class": "aat-title" }, sidebar, "Held-out digits (top) and their reconstructions");
    var recons = element("canvas", { width: 640, height: 160, "class": "aat-recons", role: "img",
      "aria-label": "eight held-out digits and their reconstructions" }, sidebar);
    var probeBox = element("div", { "class": "aat-probe" }, sidebar);
    var decoded = element("canvas", { width: 112, height: 112, "class": "aat-decoded", role: "img",
      "aria-label": "the decoding of the clicked point" }, probeBox);
    var probeText = element("span", {}, probeBox, "Click in code space to decode that point.");

    // ---------------------------------------------------------------- the engine
    var engine = startEngine(receive);
    engine.post({
      type: "init", options: { seed: seed, prior: prior.value, adversary: adversary.checked,
                               lrAE: +lrAE.value, lrDisc: +lrDisc.value },
      train: { images: data.train.images.slice(), labels: data.train.labels.slice() },
      val: { images: data.val.images.slice(), labels: data.val.labels.slice() },
    });

    function receive(message) {
      if (message.type !== "state") return;
      var h = message.history;
      if (h.from === 0) history = { recon: [], disc: [], gen: [] };
      ["recon", "disc", "gen"].forEach(function (k) {
        history[k].length = h.from;
        Array.prototype.push.apply(history[k], Array.from(h[k]));
      });
      latest = message;
      root.dataset.engine = engine.kind;
      root.dataset.step = message.step;
      root.dataset.playing = message.playing;
      root.dataset.prior = message.options.prior;
      root.dataset.adversary = message.options.adversary;
      root.dataset.share = message.share.toFixed(4);
      root.dataset.ready = "true";
      play.textContent = message.playing ? "Pause" : "Play";
      play.setAttribute("aria-pressed", String(message.playing));
      status.textContent = "step " + message.step.toLocaleString("en-US") +
        (message.playing ? " \u00b7 " + Math.round(message.stepsPerSecond) + " steps/s" : "");
      share.textContent = Math.round(100 * message.share) + "% of held-out codes lie within 2\u03c3 of the " +
        priors[message.options.prior].label + (message.options.prior === "mixture" ? "' components" : "") +
        (message.options.adversary ? "" : " (adversary off: nothing pulls them there)");
      draw();
      if (message.request && waiting[message.request]) { waiting[message.request](summary()); delete waiting[message.request]; }
      listeners.slice().forEach(function (f) { f(message); });
    }

    // ---------------------------------------------------------------- drawing
    function draw() {
      if (!latest) return;
      drawCodes(); drawLosses(); drawRecons(); drawProbe();
    }

    function toCanvas(extent, size) {  // code space -> canvas pixels (y up)
      return function (x, y) { return [(x + extent) / (2 * extent) * size, (extent - y) / (2 * extent) * size]; };
    }

    function heatColour(p) {
      var from = p < 0.5 ? HEAT_FAKE : HEAT_MID, to = p < 0.5 ? HEAT_MID : HEAT_REAL, t = p < 0.5 ? 2 * p : 2 * p - 1;
      return [0, 1, 2].map(function (c) { return Math.round(from[c] + (to[c] - from[c]) * t); });
    }

    function drawCodes() {
      var m = latest, size = codes.width, ctx = codes.getContext("2d"), at = toCanvas(m.extent, size), i;
      var small = document.createElement("canvas");
      small.width = small.height = m.grid;
      var sctx = small.getContext("2d"), image = sctx.createImageData(m.grid, m.grid);
      for (i = 0; i < m.grid * m.grid; i++) {
        var c = heatColour(m.heat[i]);
        image.data[4 * i] = c[0]; image.data[4 * i + 1] = c[1]; image.data[4 * i + 2] = c[2]; image.data[4 * i + 3] = 255;
      }
      sctx.putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(small, 0, 0, size, size);
      // grid lines and tick labels at round numbers
      var stepSize = m.extent > 30 ? 10 : m.extent > 12 ? 5 : 2;
      ctx.strokeStyle = "rgba(0,0,0,0.12)"; ctx.lineWidth = 1; ctx.fillStyle = "#555"; ctx.font = "20px sans-serif";
      for (var v = -Math.floor(m.extent / stepSize) * stepSize; v <= m.extent; v += stepSize) {
        var p = at(v, v);
        ctx.beginPath(); ctx.moveTo(p[0], 0); ctx.lineTo(p[0], size); ctx.moveTo(0, p[1]); ctx.lineTo(size, p[1]); ctx.stroke();
        if (v !== 0 && Math.abs(v) < 0.9 * m.extent) { ctx.fillText(String(v), p[0] + 4, size - 8); ctx.fillText(String(v), 6, p[1] - 4); }
      }
      ctx.fillStyle = "rgba(40,40,40,0.35)";
      for (i = 0; i < m.prior.length / 2; i++) {
        var q = at(m.prior[2 * i], m.prior[2 * i + 1]);
        ctx.fillRect(q[0] - 2, q[1] - 2, 4, 4);
      }
      ctx.globalAlpha = 0.85;
      for (i = 0; i < m.labels.length; i++) {
        var r = at(m.codes[2 * i], m.codes[2 * i + 1]);
        ctx.fillStyle = DIGIT_COLORS[m.labels[i]];
        ctx.beginPath(); ctx.arc(r[0], r[1], 5, 0, 2 * Math.PI); ctx.fill();
      }
      ctx.globalAlpha = 1;
      if (m.probe) {
        var s = at(m.probe.z[0], m.probe.z[1]);
        ctx.strokeStyle = "#000"; ctx.lineWidth = 3;
        ctx.beginPath(); ctx.arc(s[0], s[1], 12, 0, 2 * Math.PI);
        ctx.moveTo(s[0] - 20, s[1]); ctx.lineTo(s[0] - 6, s[1]); ctx.moveTo(s[0] + 6, s[1]); ctx.lineTo(s[0] + 20, s[1]);
        ctx.moveTo(s[0], s[1] - 20); ctx.lineTo(s[0], s[1] - 6); ctx.moveTo(s[0], s[1] + 6); ctx.lineTo(s[0], s[1] + 20);
        ctx.stroke();
      }
      ctx.fillStyle = "#333"; ctx.font = "22px sans-serif";
      ctx.fillText("step " + m.step, 10, 28);
    }

    // Means over equal bins of steps, so a long history fits the width.
    function binned(values, bins) {
      var n = values.length, out = [];
      var per = Math.max(1, Math.ceil(n / bins));
      for (var i = 0; i < n; i += per) {
        var sum = 0, count = 0;
        for (var j = i; j < Math.min(n, i + per); j++) if (values[j] === values[j]) { sum += values[j]; count++; }
        out.push({ step: Math.min(n, i + per), value: count ? sum / count : NaN });
      }
      return out;
    }

    function drawPanel(ctx, top, height, width, series, total, title) {
      var left = 62, right = width - 12, lo = Infinity, hi = -Infinity;
      // the range of the later 90% of steps: the first few steps' large losses would flatten the rest
      series.forEach(function (s) {
        s.points.forEach(function (p, i) {
          if (p.value === p.value && (i >= s.points.length / 10 || s.points.length < 10)) { lo = Math.min(lo, p.value); hi = Math.max(hi, p.value); }
        });
      });
      ctx.fillStyle = "#333"; ctx.font = "20px sans-serif"; ctx.fillText(title, left, top + 18);
      ctx.strokeStyle = "#bbb"; ctx.lineWidth = 1; ctx.strokeRect(left, top + 26, right - left, height - 34);
      if (!(hi >= lo)) return;
      if (hi - lo < 1e-6) { hi += 0.5; lo -= 0.5; }
      var y0 = top + height - 8, y1 = top + 30;
      ctx.fillStyle = "#555"; ctx.font = "17px sans-serif"; ctx.textAlign = "right";
      ctx.fillText(hi.toPrecision(3), left - 6, y1 + 12); ctx.fillText(lo.toPrecision(3), left - 6, y0);
      ctx.textAlign = "left";
      ctx.save(); ctx.beginPath(); ctx.rect(left, top + 26, right - left, height - 34); ctx.clip();
      series.forEach(function (s) {
        ctx.strokeStyle = s.colour; ctx.lineWidth = 2.5; ctx.beginPath();
        var open = false;
        s.points.forEach(function (p) {
          if (p.value !== p.value) { open = false; return; }
          var x = left + (right - left) * p.step / Math.max(total, 1), y = y0 - (y0 - y1) * (p.value - lo) / (hi - lo);
          if (open) ctx.lineTo(x, y); else ctx.moveTo(x, y);
          open = true;
        });
        ctx.stroke();
      });
      ctx.restore();
    }

    function drawLosses() {
      var ctx = losses.getContext("2d"), w = losses.width, h = losses.height, n = history.recon.length, bins = 160;
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
      drawPanel(ctx, 0, h / 2, w, [{ points: binned(history.recon, bins), colour: "#1f77b4" }], n,
                "reconstruction (squared error per digit)");
      drawPanel(ctx, h / 2, h / 2, w, [{ points: binned(history.disc, bins), colour: "#9467bd" },
                                       { points: binned(history.gen, bins), colour: "#2ca02c" }], n,
                "adversarial: D (purple), encoder (green)");
      ctx.fillStyle = "#555"; ctx.font = "17px sans-serif"; ctx.textAlign = "right";
      ctx.fillText(n ? n.toLocaleString("en-US") + " steps" : "no steps yet", w - 14, h - 12);
      ctx.textAlign = "left";
    }

    function drawDigit(ctx, values, scale, x, y, size) {  // values in [0, 1], ink dark on white
      var small = document.createElement("canvas");
      small.width = small.height = side;
      var sctx = small.getContext("2d"), image = sctx.createImageData(side, side);
      for (var p = 0; p < pixels; p++) {
        var v = Math.round(255 * (1 - values[p] / scale));
        image.data[4 * p] = image.data[4 * p + 1] = image.data[4 * p + 2] = v; image.data[4 * p + 3] = 255;
      }
      sctx.putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, x, y, size, size);
    }

    function drawRecons() {
      var ctx = recons.getContext("2d"), m = latest, n = m.shown, tile = recons.width / n;
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, recons.width, recons.height);
      for (var i = 0; i < n; i++) {
        drawDigit(ctx, data.val.images.subarray(i * pixels, (i + 1) * pixels), 255, i * tile + 4, 2, tile - 8);
        drawDigit(ctx, m.recon.subarray(i * pixels, (i + 1) * pixels), 1, i * tile + 4, tile + 2, tile - 8);
      }
    }

    function drawProbe() {
      var ctx = decoded.getContext("2d"), m = latest;
      if (!m.probe) { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, decoded.width, decoded.height); return; }
      drawDigit(ctx, m.probe.pixels, 1, 0, 0, decoded.width);
      probeText.textContent = "Decoded at z = (" + m.probe.z[0].toFixed(2) + ", " + m.probe.z[1].toFixed(2) + "). Click elsewhere to decode another point.";
    }

    // ---------------------------------------------------------------- controls
    function send(message) { engine.post(message); }
    play.addEventListener("click", function () { send({ type: latest && latest.playing ? "pause" : "play" }); });
    stepButton.addEventListener("click", function () { send({ type: "step", count: 1 }); });
    reset.addEventListener("click", function () { send({ type: "reset", seed: +seedInput.value }); });
    seedInput.addEventListener("change", function () { send({ type: "reset", seed: +seedInput.value }); });
    prior.addEventListener("change", function () { send({ type: "set", options: { prior: prior.value } }); });
    adversary.addEventListener("change", function () { send({ type: "set", options: { adversary: adversary.checked } }); });
    lrAE.addEventListener("change", function () { send({ type: "set", options: { lrAE: +lrAE.value } }); });
    lrDisc.addEventListener("change", function () { send({ type: "set", options: { lrDisc: +lrDisc.value } }); });
    codes.addEventListener("click", function (event) {
      if (!latest) return;
      var box = codes.getBoundingClientRect(), e = latest.extent;
      var z = [-e + 2 * e * (event.clientX - box.left) / box.width, e - 2 * e * (event.clientY - box.top) / box.height];
      send({ type: "probe", z: z });
    });

    function summary() {
      var m = latest, all = history.recon.concat(history.disc, history.gen);
      return {
        step: m.step, playing: m.playing, seed: m.seed, options: m.options, share: m.share, extent: m.extent,
        stepsPerSecond: m.stepsPerSecond, digest: m.digest, engine: engine.kind,
        losses: { recon: history.recon.slice(-1)[0], disc: history.disc.slice(-1)[0], gen: history.gen.slice(-1)[0] },
        historyLength: history.recon.length,
        finite: all.every(function (v) { return v !== v || isFinite(v); }) && history.recon.every(isFinite),
        lossSums: { recon: history.recon.reduce(function (a, b) { return a + b; }, 0) },
        codes: Array.from(m.codes), labels: Array.from(m.labels),
      };
    }

    root.aaeTrainer = {
      play: function (until) { send({ type: "play", until: until }); },
      pause: function () { send({ type: "pause" }); },
      step: function (count) { send({ type: "step", count: count || 1 }); },
      reset: function (newSeed) { if (newSeed !== undefined) seedInput.value = newSeed; send({ type: "reset", seed: +seedInput.value }); },
      set: function (o) {
        if (o.prior) prior.value = o.prior;
        if (o.adversary !== undefined) adversary.checked = o.adversary;
        if (o.lrAE) lrAE.value = String(o.lrAE);
        if (o.lrDisc) lrDisc.value = String(o.lrDisc);
        send({ type: "set", options: o });
      },
      probe: function (z) { send({ type: "probe", z: z }); },
      // A fresh summary of the trainer's state (after every message sent before it).
      state: function () {
        return new Promise(function (resolve) { var id = ++requests; waiting[id] = resolve; send({ type: "snapshot", request: id }); });
      },
      onState: function (f) { listeners.push(f); },
    };
    return root.aaeTrainer;
  }

  global.AAETrainPage = { mount: mount, DIGIT_COLORS: DIGIT_COLORS };
})(window);

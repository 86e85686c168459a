/* Chapter 1's latent map: where three models put the codes of 2,000 validation digits, epoch by
 * epoch, over samples of the prior, and what each model's decoder draws at any point of code space.
 *
 * Config (the element's data-config): {path}, the folder that aae_core/chapters/latent_map.py
 * writes: latent-map.js (every model's codes at every stored epoch, the digits' labels, samples of
 * the prior; it loads with the page) and one decoder per model and epoch (<model>-epoch-<E>.js,
 * loaded the first time the reader decodes with it). The epoch slider moves every panel; the model
 * switch, or a click in a panel, picks the model whose decoder draws the marked point; a click or a
 * drag in any panel moves the point (arrow keys move it too). Below 640 px only the picked panel
 * shows.
 */
(function () {
  "use strict";
  var nn = window.AAENN, el = nn.element;
  // matplotlib's tab10, as the book's figures colour digits 0-9
  var DIGIT = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"];
  var PRIOR = "rgba(120, 120, 120, 0.28)", STEP = 0.1;

  nn.widgets.latent = function (root, config, base) {
    if (!document.querySelector("link[data-aae-latent]")) {
      el("link", { rel: "stylesheet", href: base + "widgets/aae-latent.css", "data-aae-latent": "" }, document.head);
    }
    var loading = el("p", { "class": "aae-status", role: "status" }, root, "loading the codes\u2026");
    nn.load(config.path + "latent-map.js", function (error) {
      var data = window.AAE_LATENT_MAP;
      if (error || !data) {
        loading.textContent = "The latent map could not load its codes.";
        throw error || new Error(config.path + "latent-map.js holds no codes");
      }
      root.removeChild(loading);
      build(data);
    });

    function build(data) {
      var n = data.n, epochs = data.epochs, lo = data.range[0], hi = data.range[1];
      var labels = nn.bytes(data.labels), prior = nn.halves(data.prior), codes = {};
      data.models.forEach(function (m) { codes[m.kind] = nn.halves(m.codes); });  // (epochs, n, 2)
      var state = { model: data.start.model, epoch: epochs.indexOf(data.start.epoch), z: data.start.z.slice() };
      var decoder = null, pending = 0, pixels = null;

      // ------------------------------------------------------------ controls
      var bar = el("div", { "class": "aae-bar" }, root);
      el("span", { "class": "aae-label" }, bar, "decode with");
      var switcher = el("div", { "class": "aae-switch", role: "group", "aria-label": "model" }, bar);
      data.models.forEach(function (m) {
        el("button", { type: "button", "data-model": m.kind, "aria-pressed": "false", title: m.label,
                       "aria-label": m.label },
           switcher, m.short || m.label)
          .addEventListener("click", function () { setModel(m.kind); });
      });
      var time = el("div", { "class": "aae-epochs" }, root);
      var sliderId = root.id + "-epoch";
      el("label", { "for": sliderId, "class": "aae-label" }, time, "after epoch");
      var track = el("div", { "class": "aae-epoch-track" }, time);
      var slider = el("input", { type: "range", id: sliderId, min: 0, max: epochs.length - 1, step: 1,
                                 value: state.epoch, "aria-valuetext": "" }, track);
      var ticks = el("div", { "class": "aae-epoch-ticks", "aria-hidden": "true" }, track);
      epochs.forEach(function (e, i) {
        var at = "calc(var(--aae-thumb) / 2 + (100% - var(--aae-thumb)) * " + i / Math.max(1, epochs.length - 1) + ")";
        el("span", { style: "left: " + at }, ticks, String(e));
      });
      var epochOut = el("output", { "for": sliderId, "class": "aae-epoch-out" }, time, "");
      slider.addEventListener("input", function () { setEpoch(+slider.value); });

      // ------------------------------------------------------------ the panels
      var panels = el("div", { "class": "aae-panels" }, root), views = [];
      data.models.forEach(function (m) {
        var figure = el("div", { "class": "aae-panel", "data-model": m.kind }, panels);
        el("div", { "class": "aae-panel-title" }, figure, m.label);
        var canvas = el("canvas", { width: 300, height: 300, tabindex: "0", role: "img",
                                    "aria-label": "codes of the " + m.label + ": click or drag to decode a point, " +
                                                  "arrow keys move the point" }, figure);
        var outside = el("div", { "class": "aae-outside" }, figure, "");
        views.push({ kind: m.kind, figure: figure, canvas: canvas, outside: outside });
        pointer(canvas, m.kind);
        canvas.addEventListener("keydown", function (event) {
          var move = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[event.key];
          if (!move) return;
          event.preventDefault();
          if (state.model !== m.kind) setModel(m.kind);
          setZ(state.z[0] + STEP * move[0], state.z[1] + STEP * move[1]);
        });
      });
      var legend = el("div", { "class": "aae-legend", "aria-hidden": "true" }, root);
      el("span", { "class": "aae-label" }, legend, "digit");
      DIGIT.forEach(function (color, d) {
        var item = el("span", {}, legend);
        el("i", { style: "background: " + color }, item);
        item.appendChild(document.createTextNode(String(d)));
      });
      var priorKey = el("span", {}, legend);
      el("i", { "class": "aae-prior-key" }, priorKey);
      priorKey.appendChild(document.createTextNode("prior samples"));

      // ------------------------------------------------------------ the decoded point
      var out = el("div", { "class": "aae-decoded" }, root);
      var image = el("canvas", { width: 112, height: 112, "class": "aae-digit", role: "img",
                                 "aria-label": "the marked point decoded" }, out);
      var words = el("div", {}, out);
      var readout = el("p", { "class": "aae-readout", "aria-live": "polite" }, words, "");
      el("p", { "class": "aae-hint" }, words, "Click or drag in any panel to decode another point; the slider " +
         "moves every panel to the same epoch.");

      // ------------------------------------------------------------ pointer: click or drag to decode
      function pointer(canvas, kind) {
        var active = null;
        function at(event) {
          var box = canvas.getBoundingClientRect();
          return [lo + (event.clientX - box.left) / box.width * (hi - lo),
                  hi - (event.clientY - box.top) / box.height * (hi - lo)];
        }
        canvas.addEventListener("pointerdown", function (event) {
          if (active !== null || event.button > 0) return;
          event.preventDefault();
          canvas.setPointerCapture(event.pointerId);
          canvas.focus({ preventScroll: true });
          active = event.pointerId;
          if (state.model !== kind) setModel(kind);
          var p = at(event);
          setZ(p[0], p[1]);
        });
        canvas.addEventListener("pointermove", function (event) {
          if (event.pointerId !== active) return;
          var p = at(event);
          setZ(p[0], p[1]);
        });
        function end(event) { if (event.pointerId === active) active = null; }
        canvas.addEventListener("pointerup", end);
        canvas.addEventListener("pointercancel", end);
      }

      // ------------------------------------------------------------ drawing
      function size(canvas) {  // the canvas's backing store at the screen's pixel density
        var css = canvas.clientWidth;
        if (!css) return false;
        var px = Math.round(css * (window.devicePixelRatio || 1));
        if (canvas.width !== px) { canvas.width = px; canvas.height = px; }
        return true;
      }

      function clamp(v) { return Math.max(lo, Math.min(hi, v)); }

      function drawPanel(view) {
        if (!size(view.canvas)) return;
        var c = view.canvas, g = c.getContext("2d"), w = c.width, scale = w / (hi - lo);
        var dot = Math.max(2, Math.round(w / 150)), half = dot / 2;
        var X = function (x) { return (x - lo) * scale; }, Y = function (y) { return (hi - y) * scale; };
        g.fillStyle = "#fff";
        g.fillRect(0, 0, w, w);
        g.strokeStyle = "#e4e4e4"; g.lineWidth = 1;
        var step = hi - lo > 16 ? 5 : 2;
        for (var t = Math.ceil(lo / step) * step; t <= hi; t += step) {
          g.strokeStyle = t === 0 ? "#bbb" : "#e8e8e8";
          g.beginPath(); g.moveTo(X(t), 0); g.lineTo(X(t), w); g.moveTo(0, Y(t)); g.lineTo(w, Y(t)); g.stroke();
        }
        g.fillStyle = PRIOR;
        for (var i = 0; i < prior.length; i += 2) g.fillRect(X(prior[i]) - half, Y(prior[i + 1]) - half, dot, dot);
        var z = codes[view.kind], from = state.epoch * n * 2, beyond = 0;
        g.globalAlpha = 0.85;
        for (var k = 0; k < n; k++) {  // a code beyond the window is drawn on its edge
          var x = z[from + 2 * k], y = z[from + 2 * k + 1];
          if (x < lo || x > hi || y < lo || y > hi) beyond++;
          g.fillStyle = DIGIT[labels[k]];
          g.fillRect(X(clamp(x)) - half, Y(clamp(y)) - half, dot, dot);
        }
        g.globalAlpha = 1;
        var share = Math.round(100 * beyond / n);
        view.outside.textContent = share ? share + "% of the codes beyond the edges" : "";
        g.fillStyle = "#555";
        g.font = Math.round(Math.max(w / 26, 10 * (window.devicePixelRatio || 1))) + "px sans-serif";
        g.textBaseline = "bottom";
        for (t = Math.ceil(lo / step) * step; t <= hi; t += step) {
          if (t !== 0 && t > lo && t < hi) g.fillText(String(t), X(t) + 3, w - 2);
        }
        g.textBaseline = "top";
        for (t = Math.ceil(lo / step) * step; t <= hi; t += step) {
          if (t !== 0 && t > lo && t < hi) g.fillText(String(t), 3, Y(t) + 2);
        }
        var mx = X(state.z[0]), my = Y(state.z[1]), r = Math.max(7, w / 30);
        var picked = view.kind === state.model;
        g.lineWidth = Math.max(2, w / 150);
        [["#fff", g.lineWidth + 3], [picked ? "#000" : "#777", g.lineWidth]].forEach(function (pen) {
          g.strokeStyle = pen[0]; g.lineWidth = pen[1];
          g.beginPath(); g.arc(mx, my, r, 0, 2 * Math.PI);
          g.moveTo(mx - 2 * r, my); g.lineTo(mx - r, my); g.moveTo(mx + r, my); g.lineTo(mx + 2 * r, my);
          g.moveTo(mx, my - 2 * r); g.lineTo(mx, my - r); g.moveTo(mx, my + r); g.lineTo(mx, my + 2 * r);
          g.stroke();
        });
      }

      function drawPanels() {
        var start = nn.now();
        views.forEach(drawPanel);
        root.setAttribute("data-map-ms", (nn.now() - start).toFixed(2));
        root.setAttribute("data-draws", +(root.getAttribute("data-draws") || 0) + 1);
      }

      var queued = false;
      function redraw() {  // once per frame, however many events asked
        if (queued) return;
        queued = true;
        (window.requestAnimationFrame || setTimeout)(function () { queued = false; drawPanels(); decode(); });
      }

      function label(kind) { return data.models.filter(function (m) { return m.kind === kind; })[0].label; }
      function format(v) { return (v < 0 ? "\u2212" : "") + Math.abs(v).toFixed(2); }

      function decode() {
        if (!decoder || decoder.key !== state.model + "@" + epochs[state.epoch]) return;
        var start = nn.now();
        pixels = decoder.net.forward(Float32Array.from(state.z), 1);
        nn.paint(image, pixels);
        root.setAttribute("data-decode-ms", (nn.now() - start).toFixed(2));
        root.setAttribute("data-decodes", +(root.getAttribute("data-decodes") || 0) + 1);
        readout.textContent = "The " + label(state.model) + " after epoch " + epochs[state.epoch] +
          " draws this at z = (" + format(state.z[0]) + ", " + format(state.z[1]) + ").";
        root.setAttribute("data-ready", "true");
      }

      function load() {  // the picked model's decoder at the shown epoch
        var key = state.model + "@" + epochs[state.epoch], ticket = ++pending;
        if (decoder && decoder.key === key) return redraw();
        readout.textContent = "loading the decoder\u2026";
        nn.network(config.path + state.model + "-epoch-" + epochs[state.epoch] + ".js", function (error, net) {
          if (ticket !== pending) return;  // the reader has moved on meanwhile
          if (error) { readout.textContent = "could not load this decoder"; throw error; }
          decoder = { key: key, net: net };
          redraw();
        });
      }

      // ------------------------------------------------------------ state
      function setModel(kind) {
        state.model = kind;
        switcher.querySelectorAll("button").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b.getAttribute("data-model") === kind));
        });
        views.forEach(function (v) { v.figure.classList.toggle("aae-picked", v.kind === kind); });
        root.setAttribute("data-model", kind);
        load();
        redraw();
      }

      function setEpoch(index) {
        state.epoch = Math.max(0, Math.min(epochs.length - 1, index));
        slider.value = state.epoch;
        epochOut.textContent = String(epochs[state.epoch]);
        slider.setAttribute("aria-valuetext", "epoch " + epochs[state.epoch]);
        root.setAttribute("data-epoch", String(epochs[state.epoch]));
        load();
        redraw();
      }

      function setZ(x, y) {
        state.z = [Math.max(lo, Math.min(hi, x)), Math.max(lo, Math.min(hi, y))];
        redraw();
      }

      if (window.ResizeObserver) new ResizeObserver(redraw).observe(panels);
      else window.addEventListener("resize", redraw);
      root.aaeLatent = { state: state, range: [lo, hi], epochs: epochs, setModel: setModel, setEpoch: setEpoch,
                         setZ: setZ, pixels: function () { return pixels; } };
      setModel(state.model);
      setEpoch(state.epoch);
    }
  };
})();

/* Chapter 4's style explorer: pick the digit y, move the ten style values z, see the decoder draw it.
 *
 * Config (the element's data-config): {models: [{name, label, path}], range}; the first model's
 * decoder loads with the page, another's only when the reader switches to it. Keys 0-9 pick the
 * digit; the sliders take arrows, page keys and touch. The draw pad (aae-draw.js) can hand over its
 * model, digit and z ("style" message).
 */
(function () {
  "use strict";
  var nn = window.AAENN, el = nn.element;

  nn.widgets.explorer = function (root, config) {
    var range = config.range || 3, models = config.models, decoder = null, sigma = 1, pending = 0;
    var state = { model: null, digit: 0, z: new Float32Array(10) };

    var bar = el("div", { "class": "aae-bar" }, root);
    el("span", { "class": "aae-label" }, bar, "model");
    var switcher = el("div", { "class": "aae-switch", role: "group", "aria-label": "model" }, bar);
    models.forEach(function (m) {
      el("button", { type: "button", "data-model": m.name, "aria-pressed": "false" }, switcher, m.label)
        .addEventListener("click", function () { setModel(m.name); });
    });
    var status = el("span", { "class": "aae-status", role: "status" }, bar);

    var main = el("div", { "class": "aae-main" }, root);
    var canvas = el("canvas", { width: 196, height: 196, "class": "aae-digit", role: "img", "aria-label": "the decoded digit" }, main);
    var controls = el("div", { "class": "aae-controls" }, main);
    var digits = el("div", { "class": "aae-digits", role: "group", "aria-label": "digit y (keys 0 to 9)" }, controls);
    el("span", { "class": "aae-label" }, digits, "y");
    for (var d = 0; d < 10; d++) {
      el("button", { type: "button", "data-digit": d, "aria-pressed": String(d === 0) }, digits, String(d))
        .addEventListener("click", function (event) { select(+event.currentTarget.getAttribute("data-digit")); });
    }
    var sliders = el("div", { "class": "aae-sliders" }, controls), inputs = [], readouts = [];
    el("span", {}, sliders);
    var scale = el("div", { "class": "aae-scale", "aria-hidden": "true" }, sliders);
    el("span", {}, sliders);
    for (var s = 0; s < 10; s++) {
      var id = root.id + "-z" + (s + 1);
      el("label", { "for": id }, sliders, "z" + (s + 1));
      var track = el("div", { "class": "aae-track" }, sliders);
      el("div", { "class": "aae-ticks", "aria-hidden": "true" }, track);
      inputs.push(el("input", { type: "range", id: id, min: -range, max: range, step: 0.05, value: 0, "data-dim": s }, track));
      readouts.push(el("output", { "for": id }, sliders, "0.00"));
      inputs[s].addEventListener("input", function (event) {
        var dim = +event.target.getAttribute("data-dim");
        state.z[dim] = +event.target.value;
        readouts[dim].textContent = format(state.z[dim]);
        redraw();
      });
    }
    var actions = el("div", { "class": "aae-actions" }, controls);
    el("button", { type: "button", "class": "aae-sample" }, actions, "sample z from the prior")
      .addEventListener("click", function () {
        setZ(Array.prototype.map.call(state.z, function () { return sigma * nn.normal(); }));
      });
    el("button", { type: "button", "class": "aae-zero" }, actions, "z = 0")
      .addEventListener("click", function () { setZ(new Float32Array(10)); });

    el("p", { "class": "aae-caption" }, root, "The same z with every digit y (click one to pick it):");
    var row = el("canvas", { width: 560, height: 56, "class": "aae-row", role: "img",
                             "aria-label": "the current style z decoded as each digit 0 to 9" }, root);
    row.addEventListener("click", function (event) {
      var box = row.getBoundingClientRect();
      select(Math.min(9, Math.floor(10 * (event.clientX - box.left) / box.width)));
    });
    root.addEventListener("keydown", function (event) {
      if (/^[0-9]$/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) select(+event.key);
    });

    function format(v) { return (v < 0 ? "\u2212" : "+") + Math.abs(v).toFixed(2); }

    // Marks at 0, +-1 and +-2 standard deviations of the prior, under every slider and named above them.
    function marks() {
      scale.innerHTML = "";
      root.querySelectorAll(".aae-ticks").forEach(function (t) { t.innerHTML = ""; });
      [-2, -1, 0, 1, 2].forEach(function (k) {
        var at = "calc(var(--aae-thumb) / 2 + (100% - var(--aae-thumb)) * " + (k * sigma + range) / (2 * range) + ")";
        el("span", { style: "left: " + at }, scale, k ? (k < 0 ? "\u2212" : "+") + Math.abs(k) + "\u03c3" : "0");
        root.querySelectorAll(".aae-ticks").forEach(function (t) {
          el("i", { style: "left: " + at, "class": k ? "" : "aae-zero-tick" }, t);
        });
      });
    }

    function setZ(values) {
      for (var i = 0; i < 10; i++) {
        state.z[i] = Math.max(-range, Math.min(range, Math.round(values[i] / 0.05) * 0.05));
        inputs[i].value = state.z[i];
        readouts[i].textContent = format(state.z[i]);
      }
      redraw();
    }

    function select(digit) {
      state.digit = digit;
      digits.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", String(+b.getAttribute("data-digit") === digit));
      });
      redraw();
    }

    function setModel(name, then) {
      var model = models.filter(function (m) { return m.name === name; })[0], ticket = ++pending;
      switcher.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.getAttribute("data-model") === name));
      });
      status.textContent = "loading the decoder\u2026";
      nn.network(model.path + "decoder-weights.js", function (error, net) {
        if (ticket !== pending) return;  // the reader has switched again meanwhile
        if (error) { status.textContent = "could not load this model's decoder"; throw error; }
        decoder = net; state.model = name; status.textContent = "";
        sigma = (net.manifest.source && net.manifest.source.prior_std) || 1;
        root.setAttribute("data-model", name);
        marks();
        if (then) then();
        redraw();
      });
    }

    var rowQueued = false;
    function redraw() {
      if (!decoder) return;
      var start = nn.now();
      nn.paint(canvas, nn.decode(decoder, state.digit, state.z));
      root.setAttribute("data-decode-ms", (nn.now() - start).toFixed(2));
      root.setAttribute("data-draws", +(root.getAttribute("data-draws") || 0) + 1);
      if (!rowQueued) { rowQueued = true; (window.requestAnimationFrame || setTimeout)(drawRow); }
    }
    function drawRow() {
      rowQueued = false;
      var start = nn.now();
      nn.paint(row, nn.decodeDigits(decoder, state.z), 10);
      root.setAttribute("data-row-ms", (nn.now() - start).toFixed(2));
      root.setAttribute("data-ready", "true");
    }

    nn.on("style", function (style) {  // from the draw pad: its model, digit and z
      setModel(style.model, function () {
        select(style.digit);
        setZ(style.z);
        root.scrollIntoView({ block: "nearest", behavior: "smooth" });
      });
    });
    root.aaeExplorer = { state: state, setModel: setModel, setZ: setZ, select: select,
                         decoder: function () { return decoder; } };
    setModel(models[0].name);
  };
})();

/* A small adversarial autoencoder that trains in plain JavaScript: chapter 1's in-page trainer.
 *
 * Everything the training needs is inside the one function AAETrainCore(nn), with nn the book's
 * layer library (lib/aae-nn.js: AAENNCore()), so that the page can run it twice: as a library in
 * the page (window.AAETrain = AAETrainCore(AAENN)) and, through the source text of both, as a Web
 * Worker built from a Blob (browsers refuse `new Worker("file.js")` on file://).
 * No framework, no DOM, nothing from the network.
 *
 * The network is chapter 1's demo at 14x14 (aae_core.chapters.browser_training builds the same one
 * in torch; the tests compare one step of each to 1e-5):
 *   encoder    x (n, 196) -> 64 relu -> 64 relu -> z (n, 2)       encoder.trunk.0, .trunk.2, .head_z
 *   decoder    z (n, 2)   -> 64 relu -> 64 relu -> x_hat sigmoid   decoder.0, .2, .4
 *   D          z (n, 2)   -> 64 relu -> 64 relu -> logit (n, 1)    disc_z.0, .2, .4
 * A step is the trainer's (aae_core/train.py): (1) reconstruction, (2a) D on prior samples and
 * codes, (2b) the encoder against the updated D; each phase with its own AdamW.
 * Matrices are Float32Array, row-major, weights (out, in) as torch stores them.
 */
function AAETrainCore(nn) {
  "use strict";

  var DEFAULTS = {
    side: 14, hidden: 64, discHidden: 64, codeDim: 2, batch: 64,
    lrAE: 3e-3, lrDisc: 3e-3, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: 0.01,
    noiseStd: 0.3, prior: "mixture", adversary: true, seed: 1,
  };

  // ------------------------------------------------------------------ seeded random numbers
  // mulberry32 for uniforms, Box-Muller for normals (the second value of each pair is kept).
  function hashSeed(seed, stream) {
    var h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 1, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
    return (h ^ (h >>> 15)) >>> 0;
  }

  function Random(seed, stream) {
    this.a = hashSeed(seed, stream || 0);
    this.spare = NaN;
  }
  Random.prototype.uniform = function () {  // [0, 1)
    var t = (this.a = (this.a + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  Random.prototype.normal = function () {
    if (this.spare === this.spare) { var s = this.spare; this.spare = NaN; return s; }
    var u = 1 - this.uniform(), v = this.uniform(), r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  Random.prototype.below = function (n) { return Math.floor(this.uniform() * n); };

  // ------------------------------------------------------------------ priors on the 2-D code
  // The mixture is chapter 1's (aae_core.losses.sample_gaussian_mixture: ten Gaussians of std 0.3
  // on a circle of radius 4); the Gaussian and the swiss roll cover about the same area.
  var PRIORS = {
    mixture: { label: "mixture of 10 Gaussians", components: 10, radius: 4, std: 0.3 },
    gaussian: { label: "Gaussian", std: 2 },
    swissroll: { label: "swiss roll", turns: [1.5 * Math.PI, 4.5 * Math.PI], radius: 5, std: 0.2 },
  };

  function samplePrior(name, n, random, out) {  // out (n, 2)
    var p = PRIORS[name];
    out = out || new Float32Array(2 * n);
    for (var i = 0; i < n; i++) {
      var x = 0, y = 0;
      if (name === "mixture") {
        var angle = 2 * Math.PI * random.below(p.components) / p.components;
        x = p.radius * Math.cos(angle); y = p.radius * Math.sin(angle);
      } else if (name === "swissroll") {
        var t = p.turns[0] + (p.turns[1] - p.turns[0]) * random.uniform(), r = p.radius * t / p.turns[1];
        x = r * Math.cos(t); y = r * Math.sin(t);
      }
      out[2 * i] = x + p.std * random.normal();
      out[2 * i + 1] = y + p.std * random.normal();
    }
    return out;
  }

  // The prior's centre lines: the mixture's means, the roll's spine (densely), the Gaussian's mean.
  function priorCentres(name) {
    var p = PRIORS[name], c = [];
    if (name === "mixture") {
      for (var k = 0; k < p.components; k++) {
        var a = 2 * Math.PI * k / p.components;
        c.push(p.radius * Math.cos(a), p.radius * Math.sin(a));
      }
    } else if (name === "swissroll") {
      for (var s = 0; s <= 2000; s++) {
        var t = p.turns[0] + (p.turns[1] - p.turns[0]) * s / 2000, r = p.radius * t / p.turns[1];
        c.push(r * Math.cos(t), r * Math.sin(t));
      }
    } else c.push(0, 0);
    return new Float32Array(c);
  }

  // Share of codes (n, 2) within 2 standard deviations of the prior's nearest centre.
  function withinTwoSigma(name, codes, n) {
    var centres = priorCentres(name), limit = 4 * PRIORS[name].std * PRIORS[name].std, inside = 0;
    for (var i = 0; i < n; i++) {
      var x = codes[2 * i], y = codes[2 * i + 1];
      for (var c = 0; c < centres.length; c += 2) {
        var dx = x - centres[c], dy = y - centres[c + 1];
        if (dx * dx + dy * dy < limit) { inside++; break; }
      }
    }
    return n ? inside / n : 0;
  }

  // ------------------------------------------------------------------ dense layers
  function Dense(nIn, nOut, activation, name) {
    this.nIn = nIn; this.nOut = nOut; this.activation = activation; this.name = name;
    this.W = new Float32Array(nOut * nIn); this.b = new Float32Array(nOut);   // (out, in), (out,)
    this.gW = new Float32Array(nOut * nIn); this.gb = new Float32Array(nOut);
  }

  // PyTorch's nn.Linear default: weights and biases uniform in +-1/sqrt(fan_in).
  Dense.prototype.init = function (random) {
    var bound = 1 / Math.sqrt(this.nIn);
    for (var i = 0; i < this.W.length; i++) this.W[i] = (2 * random.uniform() - 1) * bound;
    for (var j = 0; j < this.b.length; j++) this.b[j] = (2 * random.uniform() - 1) * bound;
  };

  // Y (n, out) = act(X (n, in) W^T + b): the library's dense layer
  Dense.prototype.forward = function (X, n, Y) {
    return nn.dense(X, n, this.W, this.b, this.nIn, this.nOut, this.activation, Y);
  };

  // dY (n, out) is the loss's gradient at the layer's output Y; it is turned, in place, into the
  // gradient at the pre-activation. Then gW = dY^T X and gb = sum dY (unless `frozen`: the
  // generator's pass through D), and dX (n, in) = dY W when dX is given.
  Dense.prototype.backward = function (X, Y, dY, n, dX, frozen) {
    var W = this.W, gW = this.gW, gb = this.gb, nIn = this.nIn, nOut = this.nOut, m = n * nOut, i, j, k;
    if (this.activation === "relu") { for (i = 0; i < m; i++) if (!(Y[i] > 0)) dY[i] = 0; }
    else if (this.activation === "sigmoid") { for (i = 0; i < m; i++) dY[i] = dY[i] * (1 - Y[i]) * Y[i]; }
    if (!frozen) {
      gW.fill(0); gb.fill(0);
      for (i = 0; i < n; i++) {
        var xo = i * nIn, yo = i * nOut;
        for (j = 0; j < nOut; j++) {
          var d = dY[yo + j];
          if (d === 0) continue;  // relu zeros: about half of them
          gb[j] += d;
          var wo = j * nIn;
          for (k = 0; k < nIn; k++) gW[wo + k] += d * X[xo + k];
        }
      }
    }
    if (dX) {
      dX.fill(0, 0, n * nIn);
      for (i = 0; i < n; i++) {
        var xi = i * nIn, yi = i * nOut;
        for (j = 0; j < nOut; j++) {
          var g = dY[yi + j];
          if (g === 0) continue;
          var wj = j * nIn;
          for (k = 0; k < nIn; k++) dX[xi + k] += g * W[wj + k];
        }
      }
    }
  };

  // A stack of dense layers with the buffers of its last forward pass (for backward).
  function MLP(sizes, activations, names) {
    this.layers = [];
    for (var l = 0; l + 1 < sizes.length; l++) this.layers.push(new Dense(sizes[l], sizes[l + 1], activations[l], names[l]));
    this.rows = 0; this.outs = []; this.grads = []; this.input = null;
  }
  MLP.prototype.ensure = function (n) {
    if (n <= this.rows) return;
    this.rows = n;
    this.outs = this.layers.map(function (l) { return new Float32Array(n * l.nOut); });
    this.grads = this.layers.map(function (l) { return new Float32Array(n * l.nIn); });  // dX of each layer
  };
  MLP.prototype.forward = function (X, n) {
    this.ensure(n); this.input = X;
    var x = X;
    for (var l = 0; l < this.layers.length; l++) x = this.layers[l].forward(x, n, this.outs[l]);
    return x;
  };
  // Back from dOut (n, last out) through the last forward pass; returns dX at the input if wanted.
  MLP.prototype.backward = function (dOut, n, wantInputGrad, frozen) {
    var d = dOut;
    for (var l = this.layers.length - 1; l >= 0; l--) {
      var input = l ? this.outs[l - 1] : this.input, dX = l || wantInputGrad ? this.grads[l] : null;
      this.layers[l].backward(input, this.outs[l], d, n, dX, frozen);
      d = dX;
    }
    return d;
  };

  // ------------------------------------------------------------------ losses (chapter 1's)
  // Squared error summed over pixels, mean over the batch; its gradient into dXhat.
  function reconstructionLoss(xHat, x, n, pixels, dXhat) {
    var loss = 0;
    for (var i = 0; i < n * pixels; i++) { var e = xHat[i] - x[i]; loss += e * e; dXhat[i] = 2 * e / n; }
    return loss / n;
  }

  // Binary cross-entropy of logits against one target, mean over `count` rows from `from`; the
  // gradient (sigmoid(l) - t) / count goes into dLogits.
  function bceWithLogits(logits, from, count, target, dLogits) {
    var loss = 0;
    for (var i = from; i < from + count; i++) {
      var l = logits[i];
      loss += Math.max(l, 0) - l * target + Math.log1p(Math.exp(-Math.abs(l)));
      dLogits[i] = (1 / (1 + Math.exp(-l)) - target) / count;
    }
    return loss / count;
  }

  // ------------------------------------------------------------------ AdamW (torch.optim.AdamW's update)
  function AdamW(layers) {
    this.layers = layers; this.t = 0;
    this.state = layers.map(function (l) {
      return { mW: new Float32Array(l.W.length), vW: new Float32Array(l.W.length),
               mb: new Float32Array(l.b.length), vb: new Float32Array(l.b.length) };
    });
  }
  function adamUpdate(p, g, m, v, lr, o, c1, c2) {
    var decay = 1 - lr * o.weightDecay, b1 = o.beta1, b2 = o.beta2, stepSize = lr / c1, root = Math.sqrt(c2);
    for (var i = 0; i < p.length; i++) {
      var gi = g[i];
      p[i] = p[i] * decay;
      m[i] = m[i] + (gi - m[i]) * (1 - b1);
      v[i] = v[i] * b2 + (1 - b2) * gi * gi;
      p[i] = p[i] - stepSize * (m[i] / (Math.sqrt(v[i]) / root + o.eps));
    }
  }
  AdamW.prototype.step = function (lr, o) {
    this.t += 1;
    var c1 = 1 - Math.pow(o.beta1, this.t), c2 = 1 - Math.pow(o.beta2, this.t);
    for (var l = 0; l < this.layers.length; l++) {
      var layer = this.layers[l], s = this.state[l];
      adamUpdate(layer.W, layer.gW, s.mW, s.vW, lr, o, c1, c2);
      adamUpdate(layer.b, layer.gb, s.mb, s.vb, lr, o, c1, c2);
    }
  };

  // ------------------------------------------------------------------ the model and its step
  function Model(options) {
    var o = this.options = Object.assign({}, DEFAULTS, options || {});
    var pixels = o.side * o.side, h = o.hidden, dh = o.discHidden, c = o.codeDim;
    this.encoder = new MLP([pixels, h, h, c], ["relu", "relu", "none"],
                           ["encoder.trunk.0", "encoder.trunk.2", "encoder.head_z"]);
    this.decoder = new MLP([c, h, h, pixels], ["relu", "relu", "sigmoid"], ["decoder.0", "decoder.2", "decoder.4"]);
    this.disc = new MLP([c, dh, dh, 1], ["relu", "relu", "none"], ["disc_z.0", "disc_z.2", "disc_z.4"]);
    var init = new Random(o.seed, 0);
    this.layers().forEach(function (l) { l.init(init); });
    this.optimizers = {
      reconstruction: new AdamW(this.encoder.layers.concat(this.decoder.layers)),
      discriminator: new AdamW(this.disc.layers),
      generator: new AdamW(this.encoder.layers),
    };
    this.steps = 0;
  }
  Model.prototype.layers = function () { return this.encoder.layers.concat(this.decoder.layers, this.disc.layers); };

  // {name.weight: Float32Array, name.bias: ...}, torch's state_dict names.
  Model.prototype.getWeights = function (grads) {
    var out = {};
    this.layers().forEach(function (l) { out[l.name + ".weight"] = (grads ? l.gW : l.W).slice(); out[l.name + ".bias"] = (grads ? l.gb : l.b).slice(); });
    return out;
  };
  Model.prototype.setWeights = function (weights) {
    this.layers().forEach(function (l) { l.W.set(weights[l.name + ".weight"]); l.b.set(weights[l.name + ".bias"]); });
  };

  // One training step on a batch: x (n, pixels) the clean images, xIn the noisy ones the
  // networks see, prior (n, 2) samples of the prior (used when the adversary is on). With
  // `capture`, the gradients of each phase are returned too.
  Model.prototype.trainStep = function (x, xIn, prior, n, capture) {
    var o = this.options, opt = this.optimizers, out = { losses: {} };
    var enc = this.encoder, dec = this.decoder, disc = this.disc;
    // (1) reconstruction: encoder and decoder learn to rebuild x from xIn.
    var z = enc.forward(xIn, n);                              // (n, 2)
    var xHat = dec.forward(z, n);                             // (n, 196)
    var pixels = o.side * o.side, dXhat = this.scratch(n * pixels, "dXhat");
    out.losses.recon = reconstructionLoss(xHat, x, n, pixels, dXhat);
    enc.backward(dec.backward(dXhat, n, true), n, false);
    var autoencoder = enc.layers.concat(dec.layers);
    if (capture) out.reconstruction = this.gradsOf(autoencoder);
    opt.reconstruction.step(o.lrAE, o);
    if (!o.adversary) { this.steps += 1; return out; }  // a plain AE
    // (2a) D learns to call prior samples real (1) and codes fake (0).
    // Prior samples and codes go through D as one batch of 2n, the
    // codes as constants.
    z = enc.forward(xIn, n);
    var both = this.scratch(4 * n, "both");
    var dLogits = this.scratch(2 * n, "dLogits");
    both.set(prior.subarray(0, 2 * n), 0);
    both.set(z.subarray(0, 2 * n), 2 * n);
    var logits = disc.forward(both, 2 * n);                   // (2n, 1)
    out.losses.disc = bceWithLogits(logits, 0, n, 1, dLogits) +
                      bceWithLogits(logits, n, n, 0, dLogits);
    disc.backward(dLogits, 2 * n, false);
    if (capture) out.discriminator = this.gradsOf(disc.layers);
    opt.discriminator.step(o.lrDisc, o);
    // (2b) the encoder learns to make the updated D call its codes real;
    // D is frozen. The encoder is unchanged since (2a): its buffers hold
    // the activations of z's pass.
    logits = disc.forward(z, n);                              // (n, 1)
    out.losses.gen = bceWithLogits(logits, 0, n, 1, dLogits);
    enc.backward(disc.backward(dLogits, n, true, true), n, false);
    if (capture) out.generator = this.gradsOf(enc.layers);
    opt.generator.step(o.lrAE, o);
    this.steps += 1;
    return out;
  };
  Model.prototype.scratch = function (size, name) {
    this._scratch = this._scratch || {};
    if (!this._scratch[name] || this._scratch[name].length < size) this._scratch[name] = new Float32Array(size);
    return this._scratch[name];
  };
  Model.prototype.gradsOf = function (layers) {
    var out = {};
    layers.forEach(function (l) { out[l.name + ".weight"] = l.gW.slice(); out[l.name + ".bias"] = l.gb.slice(); });
    return out;
  };

  // Forward passes in chunks (no training): codes of images, decodings of codes, D's output.
  function inChunks(net, X, n, nIn, nOut, chunk) {
    var out = new Float32Array(n * nOut);
    for (var i = 0; i < n; i += chunk) {
      var m = Math.min(chunk, n - i);
      out.set(net.forward(X.subarray(i * nIn, (i + m) * nIn), m).subarray(0, m * nOut), i * nOut);
    }
    return out;
  }
  Model.prototype.encode = function (X, n) { return inChunks(this.encoder, X, n, this.encoder.layers[0].nIn, this.options.codeDim, 128); };
  Model.prototype.decode = function (Z, n) { var p = this.options.side * this.options.side; return inChunks(this.decoder, Z, n, this.options.codeDim, p, 128); };
  Model.prototype.discriminate = function (Z, n) {  // D(z) as a probability of "from the prior"
    var logits = inChunks(this.disc, Z, n, this.options.codeDim, 1, 256);
    for (var i = 0; i < n; i++) logits[i] = 1 / (1 + Math.exp(-logits[i]));
    return logits;
  };

  // An FNV-1a digest of every weight's bits: equal digests, equal weights.
  Model.prototype.digest = function () {
    var h = 0x811c9dc5;
    this.layers().forEach(function (l) {
      [l.W, l.b].forEach(function (a) {
        var words = new Uint32Array(a.buffer, a.byteOffset, a.length);
        for (var i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193) >>> 0;
      });
    });
    return ("00000000" + h.toString(16)).slice(-8);
  };

  // ------------------------------------------------------------------ a training run on digits
  // Digits as uint8 (n, 196); batches as aae_core.data.BatchCycler draws them (a fresh permutation
  // each pass, n // batch batches per pass). Streams: 0 weights, 1 batch order, 2 noise and prior.
  function Run(data, options) {
    this.data = data;
    this.options = Object.assign({}, DEFAULTS, options || {});
    this.reset(this.options.seed);
  }
  Run.prototype.reset = function (seed) {
    var o = this.options;
    o.seed = seed === undefined ? o.seed : seed;
    this.model = new Model(o);
    this.model.options = o;  // one options object: set() reaches the model too
    this.order = new Random(o.seed, 1); this.sampler = new Random(o.seed, 2);
    this.perm = new Uint32Array(this.data.n); this.position = this.data.n;  // a new pass at the first step
    var p = o.side * o.side;
    this.x = new Float32Array(o.batch * p); this.xIn = new Float32Array(o.batch * p); this.prior = new Float32Array(o.batch * 2);
    this.history = { recon: [], disc: [], gen: [] };
  };
  Run.prototype.set = function (options) {
    var o = this.options;
    Object.keys(options).forEach(function (k) { if (k in DEFAULTS && k !== "seed") o[k] = options[k]; });
  };
  Run.prototype.nextBatch = function () {
    var n = this.data.n, b = Math.min(this.options.batch, n), perm = this.perm;
    if (this.position + b > n) {
      for (var i = 0; i < n; i++) perm[i] = i;
      for (var j = n - 1; j > 0; j--) { var k = this.order.below(j + 1), t = perm[j]; perm[j] = perm[k]; perm[k] = t; }
      this.position = 0;
    }
    this.position += b;
    return perm.subarray(this.position - b, this.position);
  };
  Run.prototype.step = function () {
    var o = this.options, p = o.side * o.side, idx = this.nextBatch(), n = idx.length, images = this.data.images;
    var x = this.x, xIn = this.xIn, s = this.sampler;
    for (var i = 0; i < n; i++) {
      var from = idx[i] * p, to = i * p;
      for (var q = 0; q < p; q++) {
        var v = images[from + q] / 255;
        x[to + q] = v;
        xIn[to + q] = v + o.noiseStd * s.normal();
      }
    }
    if (o.adversary) samplePrior(o.prior, n, s, this.prior);
    var losses = this.model.trainStep(x, xIn, this.prior, n).losses;
    this.history.recon.push(losses.recon);
    this.history.disc.push(o.adversary ? losses.disc : NaN);
    this.history.gen.push(o.adversary ? losses.gen : NaN);
    return losses;
  };
  Object.defineProperty(Run.prototype, "steps", { get: function () { return this.model.steps; } });

  // ------------------------------------------------------------------ the worker's side
  // serve(port) answers the page: init, play (until a step), pause, step, reset, set, probe,
  // snapshot. While playing it trains in slices of about 30 ms and posts a snapshot (codes of the
  // held-out digits, D over the visible code space, reconstructions, new losses) every ~150 ms.
  function serve(port) {
    var run = null, val = null, playing = false, until = Infinity, sent = 0, lastSnapshot = 0;
    var probe = null, clock = { steps: 0, ms: 0, since: 0, stepsAt: 0 }, GRID = 40, SHOWN = 8, PRIOR_SHOWN = 500;
    var now = function () { return (typeof performance !== "undefined" ? performance : Date).now(); };
    var tick = (function () {  // a zero-delay yield, so messages (pause) get through between slices
      if (typeof MessageChannel === "undefined") return function (f) { setTimeout(f, 0); };
      var channel = new MessageChannel(), queue = [];
      channel.port1.onmessage = function () { queue.shift()(); };
      return function (f) { queue.push(f); channel.port2.postMessage(0); };
    })();

    function snapshot(extra) {
      var o = run.options, m = run.model, side = o.side, codes = m.encode(val.images, val.n);
      var extent = 6;  // the view: [-extent, extent]^2, wider when codes fly further out
      var far = [];
      for (var i = 0; i < 2 * val.n; i++) far.push(Math.abs(codes[i]));
      far.sort(function (a, b) { return a - b; });
      extent = Math.max(6, 1.1 * far[Math.floor(0.98 * (far.length - 1))] || 6);
      var grid = new Float32Array(2 * GRID * GRID);
      for (var r = 0; r < GRID; r++) for (var c = 0; c < GRID; c++) {
        grid[2 * (r * GRID + c)] = -extent + (c + 0.5) * 2 * extent / GRID;
        grid[2 * (r * GRID + c) + 1] = extent - (r + 0.5) * 2 * extent / GRID;
      }
      var shown = new Float32Array(SHOWN * side * side), pix = side * side;
      shown.set(val.images.subarray(0, SHOWN * pix));
      var h = run.history, message = {
        type: "state", step: run.steps, playing: playing, seed: o.seed, options: Object.assign({}, o),
        codes: codes, labels: val.labels, extent: extent, grid: GRID, heat: m.discriminate(grid, GRID * GRID),
        recon: m.decode(m.encode(shown, SHOWN), SHOWN), shown: SHOWN,
        prior: samplePrior(o.prior, PRIOR_SHOWN, new Random(7, 3)),
        share: withinTwoSigma(o.prior, codes, val.n),
        history: { from: sent, recon: h.recon.slice(sent), disc: h.disc.slice(sent), gen: h.gen.slice(sent) },
        stepsPerSecond: clock.ms > 0 ? 1000 * clock.steps / clock.ms : 0,
        digest: m.digest(),
      };
      if (probe) message.probe = { z: probe, pixels: m.decode(new Float32Array(probe), 1) };
      Object.assign(message, extra || {});
      sent = h.recon.length;
      lastSnapshot = now();
      port.post(message);
    }

    function loop() {
      if (!playing) return;
      var start = now();
      while (playing && now() - start < 30) {
        run.step();
        if (run.steps >= until) playing = false;
      }
      if (!playing || now() - lastSnapshot > 150) snapshot();
      clock.steps = run.steps - clock.stepsAt; clock.ms = now() - clock.since;
      if (playing) tick(loop);
    }

    port.listen(function (msg) {
      if (msg.type === "init") {
        val = { images: Float32Array.from(msg.val.images, function (v) { return v / 255; }),
                labels: msg.val.labels, n: msg.val.labels.length };
        run = new Run({ images: msg.train.images, n: msg.train.labels.length }, msg.options);
        sent = 0; snapshot({ ready: true });
        return;
      }
      if (!run) return;
      if (msg.type === "play") {
        until = msg.until || Infinity;
        if (!playing && run.steps < until) {
          playing = true; clock = { steps: 0, ms: 0, since: now(), stepsAt: run.steps };
          tick(loop);
        } else snapshot();
      } else if (msg.type === "pause") {
        playing = false; snapshot();
      } else if (msg.type === "step") {
        playing = false;
        for (var i = 0; i < (msg.count || 1); i++) run.step();
        snapshot();
      } else if (msg.type === "reset") {
        playing = false; run.reset(msg.seed); sent = 0; snapshot({ reset: true });
      } else if (msg.type === "set") {
        run.set(msg.options); if (!playing) snapshot();
      } else if (msg.type === "probe") {
        probe = msg.z; if (!playing) snapshot();
      } else if (msg.type === "snapshot") snapshot({ request: msg.request });
    });
  }

  // The source of a worker that runs this library and serves the page (see the file's header).
  function workerSource() {
    return "var AAETrain = (" + AAETrainCore.toString() + ")((" + nn.core.toString() + ")());\n" +
      "AAETrain.serve({ post: function (m) { self.postMessage(m); }, " +
      "listen: function (f) { self.onmessage = function (e) { f(e.data); }; } });\n";
  }

  return {
    DEFAULTS: DEFAULTS, PRIORS: PRIORS, Random: Random, Dense: Dense, MLP: MLP, AdamW: AdamW, Model: Model, Run: Run,
    samplePrior: samplePrior, priorCentres: priorCentres, withinTwoSigma: withinTwoSigma,
    reconstructionLoss: reconstructionLoss, bceWithLogits: bceWithLogits, serve: serve, workerSource: workerSource,
  };
}

if (typeof window !== "undefined") window.AAETrain = AAETrainCore(window.AAENN);

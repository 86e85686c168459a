"""R runs of the same network trained in one process, each layer's weights stacked along a leading run axis.

One run at batch 100 leaves most of a GPU idle: a step is a few hundred small operations, each paying
its own launch and optimizer overhead. Stacking R runs along a leading axis turns each linear layer
into one product over weights of shape (R, out, in), one batched kernel on a GPU, so the overhead is
paid once for all R. (On a CPU a run already spends about 80% of its step in matrix products at the
machine's matrix-multiply rate, so stacking there saves next to nothing.) Everything else stays each
run's own: its data (label draw, unlabeled pool), its batch order, its noise and prior samples (its
own generator, drawn in the order a single run draws them), its learning-rate schedule and its
momentum. The runs' losses are summed for the backward pass, and since each run's loss depends only
on its own slice of the weights, each slice gets exactly its own run's gradient.

Each run keeps a plain SemiSupervisedAAE and torch optimizers, into which the stacked weights and
momenta are copied after every epoch: its checkpoint is a single run's checkpoint, and a stacked run
resumes from R ordinary run folders (or a single trainer from one of them).
"""
from __future__ import annotations

import math
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .. import data as mnist_data  # looked up when called: a test hands in its MNIST by patching load_mnist
from ..config import PHASES, ModelConfig, TrainConfig
from ..data import BatchCycler, SemiSupervisedData
from ..devices import describe_machine, resolve_device
from ..errors import AAEError, NonFiniteLossError
from ..evaluate import accuracy
from ..losses import classification_loss, discriminator_loss, generator_loss, reconstruction_loss
from ..models import SemiSupervisedAAE
from ..runs.files import make_folder
from ..runs.folder import RunFolder
from ..runs.records import Summary
from ..runs.training import check_before_writing, drive, warn_of_machine_change
from ..train import (CHECK_EVERY, at_milestone, build_optimizers, frozen, kept_after, phase_parameters,
                     sample_prior, steps_per_epoch, with_noise)
from .cuda_graphs import GraphedCall, can_use_cuda_graphs


VECTOR_BYTES = 64  # the widest vector a CPU kernel loads (AVX-512)


def products(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """a (R, n, k) times b (R, k, m), plus bias (R, m) if given. On a GPU one batched kernel for all R;
    on a CPU the R products one by one with the kernel a single run uses: about a quarter faster there
    than torch.bmm, and summed in a single run's order."""
    if a.device.type != "cpu":
        return torch.bmm(a, b) if bias is None else torch.baddbmm(bias.unsqueeze(1), a, b)
    out = a.new_empty(a.shape[0], a.shape[1], b.shape[2])
    for r in range(a.shape[0]):
        if bias is None:
            torch.mm(a[r], b[r], out=out[r])
        else:
            torch.addmm(bias[r], a[r], b[r], out=out[r])
    return out


class StackedProduct(torch.autograd.Function):
    """x (R, N, in) times weights (R, out, in), plus bias (R, out), with the backward written out: autograd
    would form the weights' gradient as x^T g in the (R, in, out) layout and transpose it, a batched product
    that runs at about a third of the speed on CPU; g^T x gives the (R, out, in) gradient directly."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return products(x, weight.transpose(1, 2), bias)

    @staticmethod
    def backward(ctx, grad):  # grad (R, N, out)
        x, weight = ctx.saved_tensors
        grad_x = products(grad, weight) if ctx.needs_input_grad[0] else None  # (R, N, in)
        grad_weight = products(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None  # (R, out, in)
        grad_bias = grad.sum(dim=1) if ctx.needs_input_grad[2] else None  # (R, out)
        return grad_x, grad_weight, grad_bias


class StackedLinear(nn.Module):
    """R linear layers as one: x (R, N, in) -> (R, N, out), weights stored as nn.Linear stores them."""

    def __init__(self, layers: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))  # (R, out, in)
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))  # (R, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return StackedProduct.apply(x, self.weight, self.bias)


def stack_sequential(networks: list[nn.Sequential]) -> nn.Sequential:
    """The same layers in the same order, each Linear stacked over the R networks."""
    return nn.Sequential(*(StackedLinear([net[i] for net in networks]) if isinstance(layer, nn.Linear) else layer
                           for i, layer in enumerate(networks[0])))


class StackedEncoder(nn.Module):
    def __init__(self, encoders: list):
        super().__init__()
        self.trunk = stack_sequential([e.trunk for e in encoders])
        self.head_y = StackedLinear([e.head_y for e in encoders])
        self.head_z = StackedLinear([e.head_z for e in encoders])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)  # (R, N, 1000)
        return self.head_y(h), self.head_z(h)  # (R, N, 10), (R, N, 10)


class StackedAAE(nn.Module):
    """R SemiSupervisedAAEs as one module, its parameters in the order of one model's parameters."""

    def __init__(self, models: list[SemiSupervisedAAE]):
        super().__init__()
        self.encoder = StackedEncoder([m.encoder for m in models])
        self.decoder = stack_sequential([m.decoder for m in models])
        self.disc_y = stack_sequential([m.disc_y for m in models])
        self.disc_z = stack_sequential([m.disc_z for m in models])

    def discriminators(self) -> dict[str, nn.Module]:
        return {"y": self.disc_y, "z": self.disc_z}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y_logits, z = self.encoder(x)
        return self.decoder(torch.cat([y_logits.softmax(dim=-1), z], dim=-1))


def pad_and_stack(batches: list[torch.Tensor]) -> torch.Tensor:
    """(R, N_max, ...) from R batches of up to N_max rows, the missing rows zeros."""
    rows = max(len(batch) for batch in batches)
    return torch.stack([torch.cat([batch, batch.new_zeros(rows - len(batch), *batch.shape[1:])]) for batch in batches])


def check_stackable(cfgs: list[TrainConfig], model_cfgs: list[ModelConfig], data: list[SemiSupervisedData]) -> None:
    """One line naming what keeps runs apart: the architecture, batch size, epoch length, or what
    stacking does not do (AdamW, the NN baseline, runs without an adversary or without labels)."""
    if len(set(model_cfgs)) > 1:
        raise AAEError("runs of different architectures cannot be stacked")
    for name in ("batch_size", "epochs", "device", "precision"):
        if len({getattr(cfg, name) for cfg in cfgs}) > 1:
            raise AAEError(f"runs with different {name.replace('_', ' ')}s cannot be stacked")
    lengths = {steps_per_epoch(c.epoch_def, len(d.unlabeled_x), len(d.labeled_x), c.batch_size) for c, d in zip(cfgs, data)}
    if len(lengths) > 1:
        raise AAEError("runs with epochs of different lengths (--unlabeled, --epoch-def) cannot be stacked")
    for cfg in cfgs:
        if cfg.optimizer.name != "sgd" or cfg.supervised_only or not cfg.regularize or cfg.precision != "fp32":
            raise AAEError(f"stacking trains fp32 SGD presets of the full AAE; {cfg.preset} "
                           f"{'(NN baseline)' if cfg.supervised_only else ''} runs on its own")
    if model_cfgs[0].n_classes == 0:
        raise AAEError("stacking needs the semi-supervised AAE (n_classes > 0)")


@dataclass
class StackedRun:
    """One run inside a stack: its settings, data, model and random streams, as a single Trainer has them."""

    cfg: TrainConfig
    data: SemiSupervisedData
    model: SemiSupervisedAAE
    sampler: torch.Generator
    unlabeled_batches: BatchCycler
    labeled_batches: BatchCycler
    optimizers: dict  # torch optimizers over the model's own weights: the checkpoint's optimizer state

    @classmethod
    def fresh(cls, cfg: TrainConfig, data: SemiSupervisedData, model_cfg: ModelConfig, device) -> "StackedRun":
        torch.manual_seed(cfg.seed)  # as make_trainer: the run's initial weights
        model = SemiSupervisedAAE(model_cfg).to(device)
        return cls(cfg, data.to(device), model, torch.Generator(device=device).manual_seed(cfg.seed),
                   BatchCycler(len(data.unlabeled_x), cfg.batch_size, seed=cfg.seed + 1),
                   BatchCycler(len(data.labeled_x), cfg.batch_size, seed=cfg.seed + 2),
                   build_optimizers(model, cfg.optimizer))

    def noise(self, x: torch.Tensor, std: float) -> torch.Tensor:
        return with_noise(x, std, self.sampler)

    def prior(self, code: str, n: int) -> torch.Tensor:
        return sample_prior(code, n, self.model.cfg, self.cfg, self.sampler)


class StackedTrainer:
    """Trains R runs at once (see the module docstring); `fit` calls `on_epoch(run_index, record)` for each
    run after each epoch, once the run's model and optimizers hold the stacked state, and
    `on_diverged(run_index, error)` for a run whose loss turned NaN/inf: that run stops (its slice of the
    stack computes on, read by no one), the others go on. Without `on_diverged` the error is raised."""

    loss_names = ["recon", "disc_y", "disc_z", "gen_y", "gen_z", "class"]

    def __init__(self, runs: list[StackedRun], device: torch.device, cuda_graphs: bool | None = None):
        self.runs, self.device = runs, device
        self.on_epoch: Callable | None = None
        self.on_diverged: Callable | None = None
        self.diverged: set[int] = set()  # the runs whose loss turned NaN/inf
        self.net = StackedAAE([run.model for run in runs]).to(device)
        phases = phase_parameters(self.net)
        self.params = {phase: phases[phase] for phase in PHASES}
        self.buffers: dict[str, list[torch.Tensor | None]] = {phase: [None] * len(ps) for phase, ps in self.params.items()}
        self.epoch, self.history = 0, [[] for _ in runs]
        self.momentum = {phase: [run.cfg.optimizer.momentum.get(phase, 0.0) for run in runs] for phase in PHASES}
        # On a GPU the whole stacked step is one CUDA graph (None: wherever graphs work); the learning
        # rates are baked into a recording, so a drop of the schedule records the step again.
        graphed = can_use_cuda_graphs(torch.device(device)) if cuda_graphs is None else cuda_graphs
        self.run_step = GraphedCall(self.step_on, [run.sampler for run in runs], self.baked_rates) if graphed \
            else self.step_on

    # ------------------------------------------------------------------ the step, phase by phase
    def update(self, phase: str, loss: torch.Tensor) -> None:
        """zero_grad, backward, and each run's slice updated by torch's fused SGD kernel with the run's own
        rate and momentum: one pass over weight, gradient and momentum, the update a single run makes."""
        params = self.params[phase]
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for i, p in enumerate(params):
                if p.grad is None:
                    continue
                first = self.buffers[phase][i] is None
                if first:  # the kernel starts the momentum at the gradient
                    self.buffers[phase][i] = torch.empty_like(p)
                buf = self.buffers[phase][i]
                rates = list(zip(self.lr[phase], self.momentum[phase]))
                # The update is elementwise, so runs with one rate and momentum are updated in one call,
                # unless a run's slice would not start on a vector boundary (a head's 10 biases): the
                # kernel's scalar tail rounds differently from its vector body.
                together = len(set(rates)) == 1 and (p[0].numel() * p.element_size()) % VECTOR_BYTES == 0
                slices = [(p, p.grad, buf, *rates[0])] if together else \
                    [(p[r], p.grad[r], buf[r], lr, momentum) for r, (lr, momentum) in enumerate(rates)]
                for weight, grad, momentum_buffer, lr, momentum in slices:
                    torch._fused_sgd_([weight], [grad], [momentum_buffer], weight_decay=0.0, momentum=momentum,
                                      lr=lr, dampening=0.0, nesterov=False, maximize=False, is_first_step=first)
                p.grad = None

    def step(self) -> torch.Tensor:
        """One step of every run; returns their losses (R, 6)."""
        return self.run_step(*self.next_indices())

    def next_indices(self) -> list[torch.Tensor]:
        """The next step's batch indices of every run: R unlabeled batches, then R labeled ones."""
        return ([run.unlabeled_batches.next_on(self.device) for run in self.runs]
                + [run.labeled_batches.next_on(self.device) for run in self.runs])

    def baked_rates(self) -> tuple:
        return tuple(tuple(self.lr[phase]) for phase in PHASES)

    def step_on(self, *indices: torch.Tensor) -> torch.Tensor:
        """The step of every run on the images at these indices (see next_indices); their losses (R, 6)."""
        runs, net = self.runs, self.net
        idx_u, idx_l = indices[:len(runs)], indices[len(runs):]
        x_u = torch.stack([run.data.unlabeled_x[i] for run, i in zip(runs, idx_u)])  # (R, B, 784)
        x_in = torch.stack([run.noise(x, run.cfg.noise_std) for run, x in zip(runs, x_u)])
        # (1) reconstruction
        x_hat = net(x_in)
        recon = [reconstruction_loss(x_hat[r], x_u[r], run.cfg.recon_loss) for r, run in enumerate(runs)]
        self.update("reconstruction", sum(recon))
        # (2a) the discriminators, on prior samples and detached codes (one batch of 2N each)
        y_logits, z = net.encoder(x_in)
        codes = {"y": y_logits.softmax(dim=-1), "z": z}
        n = x_u.shape[1]
        d_losses = {}
        for name, disc in net.discriminators().items():
            prior = torch.stack([run.prior(name, n) for run in runs])
            logits = disc(torch.cat([prior, codes[name].detach()], dim=1))  # (R, 2N, 1)
            d_losses[name] = [discriminator_loss(*logits[r].split(n)) for r in range(len(runs))]
        self.update("discriminator", sum(sum(v) for v in d_losses.values()))
        # (2b) the encoder as generator, against the updated discriminators
        discs = net.discriminators()
        with frozen(*discs.values()):
            fooled = {name: disc(codes[name]) for name, disc in discs.items()}  # (R, N, 1)
            g_losses = {name: [generator_loss(logits[r]) for r in range(len(runs))] for name, logits in fooled.items()}
            self.update("generator", sum(sum(v) for v in g_losses.values()))
        # (3) semi-supervised: cross-entropy on each run's labeled batch
        # (fewer labels than a batch make a smaller labeled batch: padded with zero rows that no loss reads)
        x_l = pad_and_stack([run.noise(run.data.labeled_x[i], run.cfg.labeled_noise) for run, i in zip(runs, idx_l)])
        y_l = [run.data.labeled_y[i] for run, i in zip(runs, idx_l)]
        class_logits, _ = net.encoder(x_l)
        classes = [classification_loss(class_logits[r, :len(y_l[r])], y_l[r]) for r in range(len(runs))]
        self.update("semi_supervised", sum(classes))
        return torch.stack([torch.stack([recon[r], d_losses["y"][r], d_losses["z"][r], g_losses["y"][r],
                                         g_losses["z"][r], classes[r]]).detach() for r in range(len(runs))])

    # ------------------------------------------------------------------ epochs and state
    def set_learning_rates(self) -> None:
        self.lr = {phase: [run.cfg.optimizer.lr_at(phase, self.epoch) for run in self.runs] for phase in PHASES}

    @property
    def steps_per_epoch(self) -> int:
        cfg, data = self.runs[0].cfg, self.runs[0].data
        return steps_per_epoch(cfg.epoch_def, len(data.unlabeled_x), len(data.labeled_x), cfg.batch_size)

    def train_epoch(self) -> None:
        start, steps = time.perf_counter(), self.steps_per_epoch
        self.set_learning_rates()
        sums = torch.zeros(len(self.runs), len(self.loss_names), device=self.device)
        for step in range(1, steps + 1):
            sums += self.step()
            if step % CHECK_EVERY == 0 or step == steps:
                means = (sums / step).tolist()
                self.check_finite(means, step)
        self.unstack()
        seconds = time.perf_counter() - start
        self.epoch += 1
        for r, run in enumerate(self.runs):
            if r in self.diverged:
                continue
            record = {"epoch": self.epoch, "steps": steps, **{f"loss_{k}": v for k, v in zip(self.loss_names, means[r])},
                      "val_accuracy": accuracy(run.model, run.data.val_x, run.data.val_y),
                      **at_milestone(self.epoch, run.cfg, run.model, run.data), "seconds": seconds}
            self.history[r].append(record)
            if self.on_epoch is not None:
                self.on_epoch(r, record)

    def check_finite(self, means: list[list[float]], step: int) -> None:
        """Each run's mean losses so far: a run with one NaN/inf is stopped (see the class docstring)."""
        for r, row in enumerate(means):
            bad = [name for name, v in zip(self.loss_names, row) if not math.isfinite(v)]
            if bad and r not in self.diverged:
                err = NonFiniteLossError(
                    f"run {r + 1} of the stack ({self.runs[r].cfg.preset}, seed {self.runs[r].cfg.seed}): loss "
                    f"{', '.join(bad)} became NaN/inf in epoch {self.epoch + 1}; that run stopped, "
                    f"{kept_after(self.epoch)}", self.epoch + 1, step, bad)
                if self.on_diverged is None:
                    raise err
                self.diverged.add(r)
                self.on_diverged(r, err)

    def fit(self, epochs: int, on_epoch: Callable | None = None, on_diverged: Callable | None = None) -> None:
        """Train every run to `epochs` (or until each has diverged)."""
        self.on_epoch, self.on_diverged = on_epoch, on_diverged
        while self.epoch < epochs and len(self.diverged) < len(self.runs):
            self.train_epoch()

    # the views of the stack that the driver of run folders (runs.training.drive) reads
    @property
    def cfgs(self) -> list[TrainConfig]:
        return [run.cfg for run in self.runs]

    @property
    def models(self) -> list[SemiSupervisedAAE]:
        return [run.model for run in self.runs]

    @property
    def data(self) -> list[SemiSupervisedData]:
        return [run.data for run in self.runs]

    @property
    def description(self) -> str:
        """How the weights were updated, in a summary's words."""
        return f"stacked: {len(self.runs)} runs, batched products, fused SGD after each backward pass"

    @torch.no_grad()
    def unstack(self) -> None:
        """Each run's model weights and torch momentum buffers from the stacked ones."""
        for r, run in enumerate(self.runs):
            for stacked, own in zip(self.net.parameters(), run.model.parameters()):
                own.copy_(stacked[r])
            own_phases = phase_parameters(run.model)
            for phase in PHASES:
                for buf, weight in zip(self.buffers[phase], own_phases[phase]):
                    if buf is not None:
                        run.optimizers[phase].state[weight]["momentum_buffer"] = buf[r].clone()

    @torch.no_grad()
    def restack(self) -> None:
        """The stacked weights and momenta from the runs' own (after loading their checkpoints)."""
        for i, stacked in enumerate(self.net.parameters()):
            stacked.copy_(torch.stack([list(run.model.parameters())[i] for run in self.runs]))
        for phase in PHASES:
            own = [phase_parameters(run.model)[phase] for run in self.runs]
            for i in range(len(self.params[phase])):
                bufs = [run.optimizers[phase].state.get(params[i], {}).get("momentum_buffer")
                        for run, params in zip(self.runs, own)]
                self.buffers[phase][i] = None if any(b is None for b in bufs) else torch.stack(bufs)

    def state_dict(self, r: int) -> dict:
        """Run r's checkpoint, in the format of Trainer.state_dict (so a single Trainer can resume it)."""
        run = self.runs[r]
        return {"epoch": self.epoch, "history": self.history[r], "model": run.model.state_dict(),
                "optimizers": {phase: opt.state_dict() for phase, opt in run.optimizers.items()},
                "sampler": run.sampler.get_state(), "unlabeled_batches": run.unlabeled_batches.state_dict(),
                "labeled_batches": run.labeled_batches.state_dict()}

    def load_state_dicts(self, states: list[dict]) -> None:
        epochs = {int(state["epoch"]) for state in states}
        if len(epochs) > 1:
            raise AAEError(f"the stacked runs stopped at different epochs ({sorted(epochs)}); resume them one by one")
        for run, state, r in zip(self.runs, states, range(len(states))):
            run.model.load_state_dict(state["model"])
            for phase, opt in run.optimizers.items():
                opt.load_state_dict(state["optimizers"][phase])
            run.sampler.set_state(state["sampler"])
            run.unlabeled_batches.load_state_dict(state["unlabeled_batches"])
            run.labeled_batches.load_state_dict(state["labeled_batches"])
            self.history[r] = list(state["history"])
        self.epoch = epochs.pop()
        self.restack()


def train_stacked_runs(outs: list, cfgs: list[TrainConfig], model_cfg: ModelConfig = ModelConfig(), *,
                       resume: bool = False, force: bool = False, report=None, mnist=None,
                       allow_dirty: bool = False, checkpoint_every: int = 1) -> list[Summary | None]:
    """Train the run folders `outs` (one per config) in one process, stacked, and return their summaries.
    Each folder ends as a single run's would (config, history, checkpoint, summary.json, model.pt, its
    fingerprint), except for `stacked_with` in its summary; each is locked while the stack writes it.
    Finished folders are left alone when resuming. A run whose loss turns NaN/inf keeps its last good
    checkpoint and gets its diverged.json, as a single run does; its summary is None and the others go
    on. `checkpoint_every` epochs (and after the last) each folder gets its checkpoint and history: on a
    GPU an epoch takes under a second, writing R checkpoints of 45 MB far longer."""
    say = report or (lambda line: None)
    if len(outs) != len(cfgs) or len(outs) < 1:
        raise AAEError("give one run folder per configuration")
    folders = [RunFolder(out) for out in outs]
    if len({str(folder.path.resolve()) for folder in folders}) < len(folders):
        raise AAEError("two of the stacked runs share a run folder")
    for cfg, folder in zip(cfgs, folders):
        check_before_writing(folder, cfg, model_cfg, None, force, allow_dirty)
    todo = [i for i, (cfg, folder) in enumerate(zip(cfgs, folders))
            if force or not (resume and folder.finished_with(cfg, model_cfg))]
    for i in sorted(set(range(len(outs))) - set(todo)):
        say(f"{folders[i].path}: already finished (test accuracy {folders[i].summary().test_accuracy:.2f}%)")
    if not todo:
        return [folder.summary() for folder in folders]
    cfgs, folders = [cfgs[i] for i in todo], [folders[i] for i in todo]
    device = resolve_device(cfgs[0].device)
    mnist = mnist if mnist is not None else mnist_data.load_mnist()
    data = [mnist_data.prepare_data(cfg, mnist) for cfg in cfgs]
    check_stackable(cfgs, [model_cfg] * len(cfgs), data)
    with ExitStack() as locks:
        for folder in folders:
            make_folder(folder.path)
            locks.enter_context(folder.locked())
        states = [folder.start(cfg, model_cfg, resume=resume, force=force,
                               labeled_images=mnist_data.labeled_images_hash(cfg, mnist),
                               machine=describe_machine(device))
                  for cfg, folder in zip(cfgs, folders)]
        for folder in folders:
            warn_of_machine_change(folder, say)
        trainer = StackedTrainer([StackedRun.fresh(cfg, d, model_cfg, device) for cfg, d in zip(cfgs, data)], device)
        return drive(folders, trainer, states, say, checkpoint_every=checkpoint_every, stacked=True)

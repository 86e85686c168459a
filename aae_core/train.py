"""The Trainer: one semi-supervised AAE step in three phases, epochs, history and resumable state.

One step (Makhzani et al. 2015, section 5), on an unlabeled batch x_u and a labeled batch (x_l, y_l):
  (1) reconstruction   encoder + decoder minimise ||decode(encode(x_u + noise)) - x_u||^2
  (2) regularization   D_y, D_z learn to tell prior samples from codes; then the encoder,
                       as generator, learns to fool both
  (3) semi-supervised  the encoder's y head minimises cross-entropy on (x_l, y_l)
Each phase has its own optimizer, as in Latała's reproduction. How a phase's loss becomes an
update is the updater's job: `PlainUpdater` below is the textbook zero_grad / backward / step;
the faster updaters of `aae_core.speed` compute the same update and are tested equal to it. The
trainer takes its data as tensors (it never builds a data set) and reports each epoch to
callbacks: saving checkpoints, printing and plotting are theirs.
"""
from __future__ import annotations

import contextlib
import math
import time
from typing import Callable, Iterable

import torch
from tqdm.auto import tqdm

from .config import FP32_PHASES, PHASES, ModelConfig, OptimizerConfig, TrainConfig
from .data import BatchCycler, SemiSupervisedData, batches_per_pass
from .devices import resolve_device
from .errors import AAEError, NonFiniteLossError
from .evaluate import accuracy
from .losses import (classification_loss, discriminator_loss, generator_loss, reconstruction_loss,
                     sample_categorical, sample_gaussian, sample_gaussian_mixture)
from .models import SemiSupervisedAAE

Callback = Callable[["Trainer", dict], None]
CHECK_EVERY = 50  # steps between syncs that update the progress bar and look for NaN


def steps_per_epoch(epoch_def: str, n_unlabeled: int, n_labeled: int, batch_size: int) -> int:
    """'unlabeled': one pass over the unlabeled pool (500 steps at 50,000 / 100).
    'labeled': Latała's epoch, one pass over the labeled set (1 step at 100 labels)."""
    return batches_per_pass(n_unlabeled if epoch_def == "unlabeled" else n_labeled, batch_size)


def at_milestone(epoch: int, cfg: TrainConfig, model: SemiSupervisedAAE, data: SemiSupervisedData) -> dict:
    """{"test_accuracy": ...} after a milestone epoch of cfg, else {}: one more evaluation in eval mode
    (no random number drawn, the model's mode restored), so the training is bit for bit the same. A
    milestone is reported as a point of a curve; no choice is made on it."""
    if epoch not in cfg.milestones:
        return {}
    return {"test_accuracy": accuracy(model, data.test_x, data.test_y)}


def kept_after(epochs_done: int) -> str:
    """What a run that diverged after `epochs_done` good epochs leaves to resume from, in words."""
    if epochs_done == 0:
        return "no epoch had finished, so there is no checkpoint"
    return f"the last good checkpoint (epoch {epochs_done}) is kept"


@contextlib.contextmanager
def frozen(*modules: torch.nn.Module):
    """Parameters of `modules` get no gradient inside: the generator's backward skips D's weights."""
    params = [p for m in modules for p in m.parameters()]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def with_noise(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """x plus Gaussian noise of `std`, drawn from the run's own generator."""
    return x + std * torch.randn(x.shape, generator=generator, device=x.device)


def sample_prior(code: str, n: int, model_cfg: ModelConfig, cfg: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """n samples of the prior of code 'y' (one-hot categorical) or 'z' (the run's Gaussian or mixture)."""
    if code == "y":
        return sample_categorical(n, model_cfg.n_classes, generator)
    sample = sample_gaussian_mixture if cfg.z_prior == "mixture" else sample_gaussian
    return sample(n, model_cfg.style_dim, cfg.prior_std, generator)


def phase_parameters(
    model: SemiSupervisedAAE,
) -> dict[str, list[torch.nn.Parameter]]:
    """What each phase moves: (1) encoder and decoder, (2a) the
    discriminators, (2b) and (3) the whole encoder, trunk and heads."""
    encoder, decoder = model.encoder, model.decoder
    discriminators = model.discriminators().values()
    return {
        "reconstruction": [*encoder.parameters(), *decoder.parameters()],
        "discriminator": [p for d in discriminators for p in d.parameters()],
        "generator": list(encoder.parameters()),
        "semi_supervised": list(encoder.parameters()),
    }


def build_optimizers(model: SemiSupervisedAAE, opt: OptimizerConfig, **flags) -> dict[str, torch.optim.Optimizer]:
    """One optimizer per phase (SGD with the phase's momentum, or AdamW); the learning rates are set
    each epoch by the schedule. `flags` pick torch's kernel (fused, foreach), never the math."""
    optimizers = {}
    for phase, params in phase_parameters(model).items():
        if opt.name == "sgd":
            optimizers[phase] = torch.optim.SGD(params, lr=0.0, momentum=opt.momentum.get(phase, 0.0), **flags)
        elif opt.name == "adamw":
            optimizers[phase] = torch.optim.AdamW(params, lr=0.0, **flags)
        else:
            raise AAEError(f"unknown optimizer {opt.name!r}")
    return optimizers


class PlainUpdater:
    """How a phase's loss becomes an update, as every tutorial writes it: zero_grad, backward, step,
    with the phase's own torch optimizer. With bf16 a phase computes under autocast (its fp32
    weights cast to bf16 in each matrix product); the fp32 weights are the ones updated and saved.

    The Trainer calls only `network`, `autocast` and `update`; `aae_core.speed` builds faster
    updaters with the same four methods (and `step_runner`), each tested equal to this one."""

    description = "torch optimizer steps after each backward pass"

    def __init__(self, model: SemiSupervisedAAE, cfg: TrainConfig, device: torch.device, **optimizer_flags):
        self.model, self.device = model, device
        self.fp32_phases = FP32_PHASES[cfg.precision]
        self.optimizer_flags = {"fused": None, "foreach": None, **optimizer_flags}
        self.optimizers = build_optimizers(model, cfg.optimizer, **self.optimizer_flags)

    def network(self, phase: str) -> SemiSupervisedAAE:
        """The model a phase computes with (a faster updater may hand out a bf16 copy)."""
        return self.model

    def autocast(self, phase: str):
        """The one mixed-precision context: bf16 matrix products in the phases that are not fp32."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=phase not in self.fp32_phases)

    def update(self, phase: str, loss: torch.Tensor) -> None:
        optimizer = self.optimizers[phase]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def step_runner(self, step_fn: Callable, generator: torch.Generator, loss_names: list[str]) -> Callable:
        """What runs a step: the step function itself (a CUDA graph of it, in aae_core.speed)."""
        return step_fn

    def state_dict(self) -> dict:
        return {phase: opt.state_dict() for phase, opt in self.optimizers.items()}

    def load_state_dict(self, state: dict) -> None:
        for phase, opt in self.optimizers.items():
            opt.load_state_dict(state[phase])
            for group in opt.param_groups:  # a checkpoint's kernel flags may not exist on this device
                group.update(self.optimizer_flags)


UpdaterFactory = Callable[[SemiSupervisedAAE, TrainConfig, torch.device], PlainUpdater]


class Trainer:
    """Trains a SemiSupervisedAAE on given tensors; `fit` runs epochs, callbacks see each one's record.

    `updater` builds the object that turns a phase's loss into an update: by default `PlainUpdater`,
    the textbook loop chapter 2 prints. Whoever trains a real run (`train_run`, the command line)
    passes the fastest updater for the run's precision and device (`aae_core.speed.updaters`)."""

    def __init__(self, model: SemiSupervisedAAE, cfg: TrainConfig, data: SemiSupervisedData,
                 device: torch.device | str | None = None, callbacks: Iterable[Callback] = (),
                 progress: bool = True, updater: UpdaterFactory = PlainUpdater):
        self.cfg = cfg
        self.device = torch.device(device) if device is not None else resolve_device(cfg.device)
        self.model = model.to(self.device)  # fp32 weights: what is saved, evaluated and returned
        self.updater = updater(self.model, cfg, self.device)
        self.data = data.to(self.device)
        self.callbacks = list(callbacks)
        self.progress = progress
        # Own random streams, so a resumed run continues them exactly (global RNG is never used).
        self.sampler = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.unlabeled_batches = BatchCycler(len(data.unlabeled_x), cfg.batch_size, seed=cfg.seed + 1)
        self.labeled_batches = (BatchCycler(len(data.labeled_x), cfg.batch_size, seed=cfg.seed + 2)
                                if len(data.labeled_x) else None)  # None: no labels, no phase (3)
        self.run_step = self.updater.step_runner(self.step_on, self.sampler, self.loss_names)
        self.epoch = 0  # epochs completed
        self.history: list[dict] = []
        self.set_learning_rates()  # so that the phase methods can be called on their own

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.updater.optimizers

    # ----------------------------------------------------------------- the step, phase by phase
    def add_noise(self, x: torch.Tensor, std: float | None = None) -> torch.Tensor:
        """Gaussian input noise of `std` (default the run's noise_std; training only); the
        reconstruction target stays clean."""
        return with_noise(x, self.cfg.noise_std if std is None else std, self.sampler)

    def reconstruction_phase(self, x_in: torch.Tensor,
                             x_target: torch.Tensor) -> torch.Tensor:
        """(1) Encoder and decoder learn to reconstruct x_target (N, 784)."""
        with self.updater.autocast("reconstruction"):
            x_hat = self.updater.network("reconstruction")(x_in)  # (N, 784)
        loss = reconstruction_loss(x_hat.float(), x_target, self.cfg.recon_loss)
        self.updater.update("reconstruction", loss)
        return loss.detach()

    def sample_prior(self, code: str, n: int) -> torch.Tensor:
        """n samples of the prior of code 'y' (one-hot categorical) or 'z' (Gaussian or mixture)."""
        return sample_prior(code, n, self.model.cfg, self.cfg, self.sampler)  # (n, 10)

    def regularization_phase(self,
                             x_in: torch.Tensor) -> dict[str, torch.Tensor]:
        """(2) D_y, D_z learn prior vs. code; the encoder learns to fool them."""
        # the generator's network too: (2b) reuses the codes of (2a)
        net = self.updater.network("discriminator")
        discs, n = net.discriminators(), len(x_in)
        with self.updater.autocast("discriminator"):
            y_logits, z = net.encoder(x_in)  # (N, 10), (N, 10)
            codes = {"y": y_logits.float().softmax(dim=1), "z": z}
            # (2a) Update D: codes are detached, so only the discriminators
            # learn here. Prior samples and codes go through each D as one
            # batch of 2N (the same math as two passes).
            d_losses = {}
            for name, disc in discs.items():
                prior = self.sample_prior(name, n)
                both = torch.cat([prior, codes[name].detach()])  # (2N, 10)
                d_losses[name] = discriminator_loss(*disc(both).float().split(n))
        self.updater.update("discriminator", sum(d_losses.values()))
        # (2b) Update the encoder against the updated D. The encoder has not
        # changed since its forward pass above, so those codes are exactly what
        # a fresh pass would give.
        with self.updater.autocast("generator"), frozen(*discs.values()):
            g_losses = {name: generator_loss(disc(codes[name]).float())
                        for name, disc in discs.items()}
            self.updater.update("generator", sum(g_losses.values()))
        return {**{f"disc_{k}": v.detach() for k, v in d_losses.items()},
                **{f"gen_{k}": v.detach() for k, v in g_losses.items()}}

    def semi_supervised_phase(self, x_in: torch.Tensor,
                              labels: torch.Tensor) -> torch.Tensor:
        """(3) The y head learns the labels of one labeled batch."""
        with self.updater.autocast("semi_supervised"):
            y_logits, _ = self.updater.network("semi_supervised").encoder(x_in)
        loss = classification_loss(y_logits.float(), labels)
        self.updater.update("semi_supervised", loss)
        return loss.detach()

    def train_step(self) -> dict[str, torch.Tensor]:
        """One step on the next unlabeled and labeled batches; returns the losses (on device)."""
        return self.run_step(*self.next_batches())

    def next_batches(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The next step's indices (on the device) into the unlabeled and the labeled images; None
        for a set the step does not use (no unlabeled image for the NN baseline, no labels)."""
        unlabeled = None if self.cfg.supervised_only else self.unlabeled_batches.next_on(self.device)
        labeled = None if self.labeled_batches is None else self.labeled_batches.next_on(self.device)
        return unlabeled, labeled

    def step_on(self, unlabeled: torch.Tensor | None, labeled: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The three phases on the images at these indices (see next_batches); returns the losses."""
        d, losses = self.data, {}
        if unlabeled is not None:
            x_u = d.unlabeled_x[unlabeled]  # (B, 784)
            x_u_noisy = self.add_noise(x_u)
            losses["recon"] = self.reconstruction_phase(x_u_noisy, x_u)
            if self.cfg.regularize:
                losses.update(self.regularization_phase(x_u_noisy))
        if labeled is not None:
            x_l, y_l = d.labeled_x[labeled], d.labeled_y[labeled]  # (B_l, 784), (B_l,)
            losses["class"] = self.semi_supervised_phase(self.add_noise(x_l, self.cfg.labeled_noise), y_l)
        return losses

    @property
    def loss_names(self) -> list[str]:
        """The losses this configuration computes, in the order of a step."""
        if self.cfg.supervised_only:
            return ["class"]
        names = ["recon"]
        if self.cfg.regularize:
            discs = self.model.discriminators()
            names += [f"disc_{k}" for k in discs] + [f"gen_{k}" for k in discs]
        return names + (["class"] if self.labeled_batches is not None else [])

    # ----------------------------------------------------------------- epochs
    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(self.cfg.epoch_def, len(self.data.unlabeled_x), len(self.data.labeled_x),
                               self.cfg.batch_size)

    def set_learning_rates(self) -> None:
        """Each phase's rate for the current epoch (the step schedule of the preset)."""
        for phase, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = self.cfg.optimizer.lr_at(phase, self.epoch)

    def train_epoch(self, total_epochs: int) -> dict:
        start = time.perf_counter()
        for phase in PHASES:
            self.updater.network(phase).train()
        self.set_learning_rates()
        steps, names = self.steps_per_epoch, self.loss_names
        sums = torch.zeros(len(names), device=self.device)
        bar = tqdm(range(1, steps + 1), desc=f"epoch {self.epoch + 1}/{total_epochs}", leave=False,
                   disable=not self.progress, mininterval=1.0)
        for step in bar:
            losses = self.train_step()
            sums += torch.stack([losses[name] for name in names])
            if step % CHECK_EVERY == 0 or step == steps:
                means = (sums / step).tolist()
                self._check_finite(dict(zip(names, means)), step)
                bar.set_postfix({name: f"{v:.3g}" for name, v in zip(names, means)}, refresh=False)
        bar.close()
        record = {"epoch": self.epoch + 1, "steps": steps}
        record.update({f"loss_{name}": v for name, v in zip(names, means)})
        if self.model.cfg.n_classes:  # an unsupervised AAE has no classifier to validate
            record["val_accuracy"] = accuracy(self.model, self.data.val_x, self.data.val_y)
            record.update(at_milestone(self.epoch + 1, self.cfg, self.model, self.data))
        record["seconds"] = time.perf_counter() - start
        return record

    def _check_finite(self, means: dict[str, float], step: int) -> None:
        bad = [name for name, v in means.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteLossError(
                f"loss {', '.join(bad)} became NaN/inf in epoch {self.epoch + 1} (by step {step}); stopped, "
                f"{kept_after(self.epoch)}", self.epoch + 1, step, bad)

    def fit(self, epochs: int | None = None) -> list[dict]:
        """Train until `epochs` (default cfg.epochs) are complete; callbacks see each epoch's record."""
        total = epochs if epochs is not None else self.cfg.epochs
        while self.epoch < total:
            record = self.train_epoch(total)
            self.epoch += 1
            self.history.append(record)
            for callback in self.callbacks:
                callback(self, record)
        return self.history

    # ----------------------------------------------------------------- resumable state
    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "history": self.history,
            "model": self.model.state_dict(),
            "optimizers": self.updater.state_dict(),
            "sampler": self.sampler.get_state(),
            "unlabeled_batches": self.unlabeled_batches.state_dict(),
            "labeled_batches": self.labeled_batches.state_dict() if self.labeled_batches else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.history = int(state["epoch"]), list(state["history"])
        self.model.load_state_dict(state["model"])
        self.updater.load_state_dict(state["optimizers"])
        self.sampler.set_state(state["sampler"].cpu() if hasattr(state["sampler"], "cpu") else state["sampler"])
        # a recorded step (a CUDA graph) would go on updating the replaced momenta: a fresh runner
        self.run_step = self.updater.step_runner(self.step_on, self.sampler, self.loss_names)
        self.unlabeled_batches.load_state_dict(state["unlabeled_batches"])
        if self.labeled_batches is not None:
            self.labeled_batches.load_state_dict(state["labeled_batches"])


def make_trainer(cfg: TrainConfig, data: SemiSupervisedData, model_cfg: ModelConfig | None = None, **trainer_kwargs) -> Trainer:
    """A fresh model, initialised from cfg.seed, and its Trainer: the usual way to start a run."""
    torch.manual_seed(cfg.seed)  # weight initialisation is the only use of the global RNG
    model = SemiSupervisedAAE(model_cfg if model_cfg is not None else ModelConfig())
    return Trainer(model, cfg, data, **trainer_kwargs)

"""The Trainer: one semi-supervised AAE step in three phases, epochs, history and resumable state.

One step (Makhzani et al. 2015, section 5), on an unlabeled batch x_u and a labeled batch (x_l, y_l):
  (1) reconstruction   encoder + decoder minimise ||decode(encode(x_u + noise)) - x_u||^2
  (2) regularization   D_y, D_z learn to tell prior samples from codes; then the encoder,
                       as generator, learns to fool both
  (3) semi-supervised  the encoder's y head minimises cross-entropy on (x_l, y_l)
Each phase has its own optimizer, as in the seed reproduction; in fp32 its fused steps run weight by
weight inside the backward pass (backward_updates.py). With bf16 the phases compute with a bf16
copy of the model (weight_copies.py); the fp32 model is what is saved and evaluated. On a GPU
the whole step is recorded once as a CUDA graph and replayed (cuda_graphs.py). The
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

from .backward_updates import UpdatesInBackward, can_update_in_backward
from .config import BF16_WEIGHTS, FP32_PHASES, PHASES, TrainConfig
from .cuda_graphs import GraphedStep, can_use_cuda_graphs
from .data import BatchCycler, SemiSupervisedData, batches_per_pass
from .errors import AAEError
from .evaluate import accuracy
from .losses import (classification_loss, discriminator_loss, generator_loss, reconstruction_loss,
                     sample_categorical, sample_gaussian, sample_gaussian_mixture)
from .models import SemiSupervisedAAE
from .weight_copies import CopyOptimizer, bf16_copy, sync_copies

Callback = Callable[["Trainer", dict], None]
CHECK_EVERY = 50  # steps between syncs that update the progress bar and look for NaN


def steps_per_epoch(epoch_def: str, n_unlabeled: int, n_labeled: int, batch_size: int) -> int:
    """'unlabeled': one pass over the unlabeled pool (500 steps at 50,000 / 100).
    'labeled': the seed repository's epoch, one pass over the labeled set (1 step at 100 labels)."""
    return batches_per_pass(n_unlabeled if epoch_def == "unlabeled" else n_labeled, batch_size)


class NonFiniteLossError(AAEError):
    """A loss became NaN or infinite: the epoch is abandoned, its checkpoint never written."""

    def __init__(self, message: str, epoch: int, step: int, losses: list[str]):
        super().__init__(message)
        self.epoch, self.step, self.losses = epoch, step, losses  # 1-based epoch; step within it


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; a named device that is not there is an AAEError."""
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if not available.get(name, False):
        raise AAEError(f"device {name!r} is not available on this machine; use --device auto or cpu")
    return torch.device(name)


FUSED_DEVICE_TYPES = ("cpu", "cuda")  # where torch ships fused SGD and AdamW kernels


def best_optimizer_kernel(device: torch.device) -> str:
    """'fused' (one pass over each tensor per update) where available, else 'foreach'."""
    return "fused" if device.type in FUSED_DEVICE_TYPES else "foreach"


def kernel_flags(kernel: str) -> dict:
    """The optimizer arguments that select `kernel`; the update's math is the same for all three."""
    return {"fused": {"fused": True, "foreach": False}, "foreach": {"fused": False, "foreach": True},
            "loop": {"fused": False, "foreach": False}}[kernel]


def optimizer_flags(name: str, kernel: str, graphed: bool = False) -> dict:
    """kernel_flags, and for a step recorded as a CUDA graph AdamW's capturable form (its step count
    on the GPU; torch refuses to record the other). Plain SGD records as it is."""
    return {**kernel_flags(kernel), **({"capturable": graphed} if name == "adamw" else {})}


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], momentum: float,
                    kernel: str = "foreach", graphed: bool = False) -> torch.optim.Optimizer:
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.0, momentum=momentum, **optimizer_flags(name, kernel))
    if name == "adamw":
        return torch.optim.AdamW(params, lr=0.0, **optimizer_flags(name, kernel, graphed))
    raise AAEError(f"unknown optimizer {name!r}")


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


class Trainer:
    """Trains a SemiSupervisedAAE on given tensors; `fit` runs epochs, callbacks see each one's record."""

    def __init__(self, model: SemiSupervisedAAE, cfg: TrainConfig, data: SemiSupervisedData,
                 device: torch.device | str | None = None, callbacks: Iterable[Callback] = (),
                 progress: bool = True, optimizer_kernel: str | None = None, bf16_weights: str = "copies",
                 update_in_backward: bool = True, cuda_graphs: bool | None = None):
        if bf16_weights not in BF16_WEIGHTS:
            raise AAEError(f"bf16_weights must be one of {', '.join(BF16_WEIGHTS)}, not {bf16_weights!r}")
        self.cfg = cfg
        self.device = torch.device(device) if device is not None else resolve_device(cfg.device)
        self.model = model.to(self.device)  # fp32 weights: what is saved, evaluated and returned
        self.fp32_phases = FP32_PHASES[cfg.precision]
        with_copies = cfg.precision != "fp32" and bf16_weights == "copies"
        self.net = bf16_copy(self.model) if with_copies else self.model  # what the step computes with
        self.data = data.to(self.device)
        self.callbacks = list(callbacks)
        self.progress = progress
        opt = cfg.optimizer
        phase_params = {
            "reconstruction": [*model.encoder.parameters(), *model.decoder.parameters()],
            "discriminator": [p for disc in model.discriminators().values() for p in disc.parameters()],
            "generator": list(model.encoder.parameters()),
            "semi_supervised": list(model.encoder.parameters()),
        }
        self.optimizer_kernel = optimizer_kernel or best_optimizer_kernel(self.device)
        # on a GPU the step is replayed as one CUDA graph (None: wherever the device has them)
        self.graphed = can_use_cuda_graphs(self.device) if cuda_graphs is None else cuda_graphs
        self.optimizers = {phase: build_optimizer(opt.name, phase_params[phase], opt.momentum.get(phase, 0.0),
                                                  self.optimizer_kernel, self.graphed)
                           for phase in PHASES}
        if with_copies:
            copy_of = dict(zip(self.model.parameters(), self.net.parameters()))
            self.optimizers = {phase: CopyOptimizer(o, copy_of, in_fp32=phase in self.fp32_phases)
                               for phase, o in self.optimizers.items()}
        # torch's fused steps, weight by weight inside the backward pass, where they can run so
        # (not with bf16 copies: their compiled update of a whole phase is faster than one per weight)
        self.in_backward = (UpdatesInBackward(self.optimizers) if update_in_backward and not with_copies
                            and all(can_update_in_backward(o) for o in self.optimizers.values()) else None)
        # Own random streams, so a resumed run continues them exactly (global RNG is never used).
        self.sampler = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.unlabeled_batches = BatchCycler(len(data.unlabeled_x), cfg.batch_size, seed=cfg.seed + 1)
        self.labeled_batches = (BatchCycler(len(data.labeled_x), cfg.batch_size, seed=cfg.seed + 2)
                                if len(data.labeled_x) else None)  # None: no labels, no phase (3)
        self.graphed_step = GraphedStep(self) if self.graphed else None
        self.epoch = 0  # epochs completed
        self.history: list[dict] = []
        self.set_learning_rates()  # so that the phase methods can be called on their own

    @property
    def update_kernel(self) -> str:
        """How the weights are updated, in words (the bench prints it)."""
        graphed = ", each step one CUDA graph" if self.graphed_step is not None else ""
        if self.net is self.model:
            when = " inside the backward pass" if self.in_backward is not None else ""
            autocast = "autocast, " if self.cfg.precision != "fp32" else ""
            return f"{autocast}{self.optimizer_kernel} optimizer steps{when}{graphed}"
        kernels = sorted({optimizer.kernel for optimizer in self.optimizers.values()})
        return f"bf16 weight copies, {' and '.join(kernels)} updates{graphed}"

    # ----------------------------------------------------------------- the step, phase by phase
    def autocast(self, phase: str):
        """The one mixed-precision context: bf16 matrix products in the phases that are not fp32 (inputs
        cast to bf16; the weights are bf16 copies already, or fp32 cast with bf16_weights='autocast')."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=phase not in self.fp32_phases)

    def net_for(self, phase: str) -> SemiSupervisedAAE:
        """What `phase` computes with: the fp32 model in an fp32 phase, else the step's network."""
        return self.model if phase in self.fp32_phases else self.net

    def _update(self, phase: str, loss: torch.Tensor) -> None:
        optimizer = self.optimizers[phase]
        optimizer.zero_grad(set_to_none=True)
        if self.in_backward is None:
            loss.backward()
            optimizer.step()
            return
        with self.in_backward.phase(phase):
            loss.backward()

    def add_noise(self, x: torch.Tensor, std: float | None = None) -> torch.Tensor:
        """Gaussian input noise of `std` (default the run's noise_std; training only); the
        reconstruction target stays clean."""
        std = self.cfg.noise_std if std is None else std
        return x + std * torch.randn(x.shape, generator=self.sampler, device=x.device)

    def reconstruction_phase(self, x_in: torch.Tensor, x_target: torch.Tensor) -> torch.Tensor:
        """(1) Encoder and decoder learn to reconstruct x_target (N, 784) from x_in."""
        with self.autocast("reconstruction"):
            x_hat = self.net_for("reconstruction")(x_in)  # (N, 784)
        loss = reconstruction_loss(x_hat.float(), x_target, self.cfg.recon_loss)
        self._update("reconstruction", loss)
        return loss.detach()

    def sample_prior(self, code: str, n: int) -> torch.Tensor:
        """n samples of the prior of code 'y' (one-hot categorical) or 'z' (Gaussian or mixture)."""
        cfg = self.model.cfg
        if code == "y":
            return sample_categorical(n, cfg.n_classes, self.sampler)  # (n, 10)
        sample = sample_gaussian_mixture if self.cfg.z_prior == "mixture" else sample_gaussian
        return sample(n, cfg.style_dim, self.cfg.prior_std, self.sampler)  # (n, 10)

    def regularization_phase(self, x_in: torch.Tensor) -> dict[str, torch.Tensor]:
        """(2) D_y and D_z learn prior vs. code; then the encoder learns to fool them."""
        net = self.net_for("discriminator")  # the generator's too: (2b) reuses the codes of (2a)
        discs, n = net.discriminators(), len(x_in)
        with self.autocast("discriminator"):
            y_logits, z = net.encoder(x_in)  # (N, 10), (N, 10)
            codes = {"y": y_logits.float().softmax(dim=1), "z": z}
            # (2a) Update D: codes are detached, so only the discriminators learn here. Prior
            # samples and codes go through each D as one batch of 2N (the same math as two passes).
            d_losses = {name: discriminator_loss(*disc(torch.cat([self.sample_prior(name, n), codes[name].detach()]))
                                                 .float().split(n))
                        for name, disc in discs.items()}
        self._update("discriminator", sum(d_losses.values()))
        # (2b) Update the encoder against the updated D. The encoder has not changed since its
        # forward pass above, so those codes are exactly what a fresh pass would give.
        with self.autocast("generator"), frozen(*discs.values()):
            g_losses = {name: generator_loss(disc(codes[name]).float()) for name, disc in discs.items()}
            self._update("generator", sum(g_losses.values()))
        return {**{f"disc_{k}": v.detach() for k, v in d_losses.items()},
                **{f"gen_{k}": v.detach() for k, v in g_losses.items()}}

    def semi_supervised_phase(self, x_in: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(3) The y head learns the labels of one labeled batch."""
        with self.autocast("semi_supervised"):
            y_logits, _ = self.net_for("semi_supervised").encoder(x_in)
        loss = classification_loss(y_logits.float(), labels)
        self._update("semi_supervised", loss)
        return loss.detach()

    def train_step(self) -> dict[str, torch.Tensor]:
        """One step on the next unlabeled and labeled batches; returns the losses (on device)."""
        unlabeled, labeled = self.next_batches()
        if self.graphed_step is not None:
            return self.graphed_step(unlabeled, labeled)
        return self.step_on(unlabeled, labeled)

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
        self.model.train()
        self.net.train()
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
        record["seconds"] = time.perf_counter() - start
        return record

    def _check_finite(self, means: dict[str, float], step: int) -> None:
        bad = [name for name, v in means.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteLossError(
                f"loss {', '.join(bad)} became NaN/inf in epoch {self.epoch + 1} (by step {step}); stopped, the "
                f"last good checkpoint (epoch {self.epoch}) is kept", self.epoch + 1, step, bad)

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
            "optimizers": {phase: opt.state_dict() for phase, opt in self.optimizers.items()},
            "sampler": self.sampler.get_state(),
            "unlabeled_batches": self.unlabeled_batches.state_dict(),
            "labeled_batches": self.labeled_batches.state_dict() if self.labeled_batches else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.history = int(state["epoch"]), list(state["history"])
        self.model.load_state_dict(state["model"])
        if self.net is not self.model:
            sync_copies(self.model, self.net)
        for phase, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][phase])
            for group in opt.param_groups:  # the saved kernel may not exist on this device
                group.update(optimizer_flags(self.cfg.optimizer.name, self.optimizer_kernel, self.graphed))
        self.sampler.set_state(state["sampler"].cpu() if hasattr(state["sampler"], "cpu") else state["sampler"])
        if self.graphed_step is not None:  # a recording would go on updating the replaced momenta
            self.graphed_step = GraphedStep(self)
        self.unlabeled_batches.load_state_dict(state["unlabeled_batches"])
        if self.labeled_batches is not None:
            self.labeled_batches.load_state_dict(state["labeled_batches"])


def make_trainer(cfg: TrainConfig, data: SemiSupervisedData, model_cfg=None, **trainer_kwargs) -> Trainer:
    """A fresh model, initialised from cfg.seed, and its Trainer: the usual way to start a run."""
    from .config import ModelConfig

    torch.manual_seed(cfg.seed)  # weight initialisation is the only use of the global RNG
    model = SemiSupervisedAAE(model_cfg if model_cfg is not None else ModelConfig())
    return Trainer(model, cfg, data, **trainer_kwargs)

"""Chapter 1's demo models and how they train: their shared settings, a runner for each kind (the book's
Trainer, or the VAE's loop), and what is read of a trained model (its 2-D codes, its decoder's drawings).

    autoencoder  the book's SemiSupervisedAAE with no y code, trained by the Trainer without its
                 adversarial phase (regularize=False): reconstruction only
    vae          a variational autoencoder of the same size with the same prior (demo_vae.py)
    aae          the same SemiSupervisedAAE, with the adversarial phase: D_z tells samples of the
                 prior (ten Gaussians on a circle) from codes, the encoder learns to fool it

Everything else is shared: the images, their order in batches, the input noise, AdamW and its
schedule, the seed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from ..config import ModelConfig, TrainConfig, check_seed, is_int
from ..data import SemiSupervisedData
from ..errors import AAEError
from ..losses import sample_gaussian_mixture
from ..speed.updaters import fastest_updater
from ..train import make_trainer
from .demo_vae import VAE, VAETrainer

KINDS = {"autoencoder": "plain autoencoder", "vae": "variational autoencoder",
         "aae": "adversarial autoencoder"}
SHORT = {"autoencoder": "plain AE", "vae": "VAE", "aae": "AAE"}  # where space is short
COLORS = {"autoencoder": "tab:brown", "vae": "tab:purple", "aae": "tab:green"}  # one per model, every figure


@dataclass(frozen=True)
class DemoSettings:
    """What the three demo models share. The defaults are the shipped runs' (results/demo-2d)."""

    epochs: int = 200  # passes over the training images
    unlabeled: int = 10_000  # training images (of the 50,000 in the training split)
    hidden: int = 112  # width of every hidden layer (encoder, decoder, D_z)
    seed: int = 0
    prior_std: float = 0.3  # std of each of the prior's ten Gaussians (their means: radius 4)
    snapshots: tuple = (1, 3, 10, 30)  # epochs whose codes and decoder the latent map shows (and the last)
    n_map: int = 2000  # validation digits whose codes are kept at each snapshot
    device: str = "cpu"

    def train_config(self, kind: str = "aae") -> TrainConfig:
        """The Trainer's settings for `kind` (the VAE reads the same: batches, noise, optimizer)."""
        return TrainConfig(labels=0, unlabeled=self.unlabeled, epochs=self.epochs, seed=self.seed,
                           preset="adamw", z_prior="mixture", prior_std=self.prior_std,
                           regularize=kind == "aae", device=self.device)

    def model_config(self) -> ModelConfig:
        return ModelConfig(hidden_dim=self.hidden, disc_hidden_dim=self.hidden, n_classes=0,
                           style_dim=2, init_std=0)

    @property
    def snapshot_epochs(self) -> list[int]:
        """The snapshot epochs this run reaches, and always its last."""
        return sorted({e for e in self.snapshots if e <= self.epochs} | {self.epochs})

    def check(self) -> "DemoSettings":
        """Raise AAEError naming the first setting out of range; return self."""
        self.train_config().check(unsupervised=True)
        self.model_config().check()
        check_seed("seed", self.seed)
        if not (isinstance(self.snapshots, (tuple, list)) and self.snapshots
                and all(is_int(e) and e >= 1 for e in self.snapshots)):
            raise AAEError(f"snapshots must be positive epochs, got {self.snapshots!r}")
        if not (is_int(self.n_map) and 1 <= self.n_map <= 10_000):
            raise AAEError(f"n_map must be between 1 and the 10,000 validation digits, got {self.n_map!r}")
        return self

    def to_dict(self) -> dict:
        return {**asdict(self), "snapshots": list(self.snapshots)}


def make_runner(kind: str, settings: DemoSettings, data: SemiSupervisedData, device="cpu"):
    """A fresh model of `kind` and what trains it: the book's Trainer, or the VAE's loop."""
    if kind not in KINDS:
        raise AAEError(f"unknown demo model {kind!r}; one of {', '.join(KINDS)}")
    cfg = settings.train_config(kind)
    if kind == "vae":
        return VAETrainer(cfg, data, settings.model_config(), device)
    return make_trainer(cfg, data, settings.model_config(), device=device, progress=False, updater=fastest_updater)


@torch.no_grad()
def codes_of(model: nn.Module, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The 2-D codes (N, 2) of images x: the encoder's output, or for the VAE one draw of each
    q(z|x) (its codes are samples, as the AAE's q(z) is the distribution of all codes)."""
    was_training = model.training
    model.eval()
    if isinstance(model, VAE):
        generator = torch.Generator(device=x.device).manual_seed(seed)
        z = model.sample(x, generator)[0]
    else:
        z = model.encode(x)[1]
    model.train(was_training)
    return z.float().cpu()


def decoder_of(model: nn.Module) -> nn.Sequential:
    return model.decoder


def decode(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Images (N, 784) the decoder draws for codes z (N, 2)."""
    with torch.no_grad():
        return decoder_of(model)(z.to(next(model.parameters()).device)).cpu()


def fp16(module: nn.Module) -> dict:
    return {k: v.detach().to("cpu", torch.float16) for k, v in module.state_dict().items()}


def prior_samples(n: int, settings: DemoSettings, seed: int | None = None) -> torch.Tensor:
    """(n, 2) samples of the demo's prior, from their own seeded generator."""
    generator = torch.Generator().manual_seed(settings.seed if seed is None else seed)
    return sample_gaussian_mixture(n, 2, settings.prior_std, generator)


def train_model(kind: str, settings: DemoSettings, data: SemiSupervisedData, device="cpu",
                say: Callable[[str], None] = lambda line: None):
    """Train one demo model to settings.epochs; returns (runner, snapshots), where a snapshot holds
    the codes of the first n_map validation digits and the decoder's fp16 weights at that epoch."""
    runner = make_runner(kind, settings, data, device)
    x_map = data.val_x[: settings.n_map].to(runner.device)
    snapshots = {}
    for epoch in settings.snapshot_epochs:
        runner.fit(epoch)
        snapshots[epoch] = {"codes": codes_of(runner.model, x_map, settings.seed).half(),
                            "decoder": fp16(decoder_of(runner.model))}
        seconds = sum(r["seconds"] for r in runner.history)
        say(f"{KINDS[kind]}: epoch {epoch}/{settings.epochs}  reconstruction loss "
            f"{runner.history[-1]['loss_recon']:.2f}  {seconds:.0f} s")
    return runner, snapshots

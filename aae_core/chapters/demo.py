"""Chapter 1's demo: three small models with a 2-D code, trained on the same digits in the same way.

    autoencoder  the book's SemiSupervisedAAE with no y code, trained by the Trainer without its
                 adversarial phase (regularize=False): reconstruction only
    vae          a variational autoencoder (Kingma and Welling, 2013) of the same size with the same
                 prior: its encoder gives a Gaussian q(z|x) (a mean and a log-variance per code
                 dimension), its loss adds a one-sample estimate of KL(q(z|x) || p(z))
    aae          the same SemiSupervisedAAE, with the adversarial phase: D_z tells samples of the
                 prior (ten Gaussians on a circle) from codes, the encoder learns to fool it

Everything else is shared: the images, their order in batches, the input noise, AdamW and its
schedule, the seed. `train_demo` trains the three into a run folder each (`python -m aae_core
demo-2d --out results/demo-2d`), keeping the codes of the first validation digits and the decoder
at a few epochs for the chapter's latent map (`latent_map.py`). The figures of the demo are here
too: they only draw what this module stores.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..config import ModelConfig, TrainConfig, check_seed, is_int
from ..data import BatchCycler, SemiSupervisedData, load_mnist, prepare_data
from ..devices import resolve_device
from ..errors import AAEError
from ..losses import reconstruction_loss, sample_gaussian_mixture, share_near_mixture
from ..models import SemiSupervisedAAE, mlp
from ..provenance import git_commit, provenance
from ..runs.files import (LOCK, check_path, exclusive, make_folder, probe_writable, read_json_object,
                          refuse_dirty_results, refuse_foreign_files, torch_load, write_json, write_jsonl)
from ..speed.updaters import fastest_updater
from ..train import make_trainer, with_noise
from .plots import WIDTH, book_style

KINDS = {"autoencoder": "plain autoencoder", "vae": "variational autoencoder",
         "aae": "adversarial autoencoder"}
SHORT = {"autoencoder": "plain AE", "vae": "VAE", "aae": "AAE"}  # where space is short
COLORS = {"autoencoder": "tab:brown", "vae": "tab:purple", "aae": "tab:green"}  # one per model, every figure
RUN_FILES = ("config.json", "history.jsonl", "summary.json", "model.pt", "snapshots.pt")
MIXTURE = {"n_components": 10, "radius": 4.0}  # losses.sample_gaussian_mixture's defaults


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


# ----------------------------------------------------------------------------- the VAE
class VAE(nn.Module):
    """The demo's VAE: the AAE's encoder with two outputs per code dimension, its decoder as it is.

    x (N, 784) --encoder--> mean, log-variance (N, 2) each --sample--> z (N, 2) --decoder--> x_hat
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        h, d = cfg.hidden_dim, cfg.style_dim
        self.encoder = mlp([cfg.input_dim, h, h, 2 * d])  # the mean, then the log-variance
        self.decoder = mlp([d, h, h, cfg.input_dim], final=nn.Sigmoid())

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) = N(mean, diag(exp(log_var))): mean (N, 2), log_var (N, 2)."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var

    def sample(self, x: torch.Tensor, generator: torch.Generator):
        """z = mean + std * eps, eps ~ N(0, I): a draw of q(z|x) that gradients flow through."""
        mean, log_var = self.posterior(x)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device)
        return mean + (0.5 * log_var).exp() * eps, log_var, eps


def mixture_log_density(z: torch.Tensor, std: float, n_components: int = 10,
                        radius: float = 4.0) -> torch.Tensor:
    """log p(z) (N,) under the demo's prior: ten Gaussians of `std` on a circle."""
    angle = 2 * torch.pi * torch.arange(n_components, device=z.device) / n_components
    means = torch.zeros(n_components, z.shape[1], device=z.device)
    means[:, 0], means[:, 1] = radius * angle.cos(), radius * angle.sin()
    squared = (z[:, None, :] - means[None]).pow(2).sum(dim=2)  # (N, K)
    dim = z.shape[1]
    log_normalizer = dim * math.log(std) + 0.5 * dim * math.log(2 * math.pi)
    log_component = -0.5 * squared / std**2 - log_normalizer  # (N, K)
    return torch.logsumexp(log_component, dim=1) - math.log(n_components)


def vae_loss(model: VAE, x_in: torch.Tensor, x: torch.Tensor,
             prior_std: float, generator: torch.Generator):
    """The VAE's two terms, each a mean over the batch: the AAE's
    reconstruction loss, and KL(q(z|x) || p(z)) = E_q[log q(z|x) - log p(z)]
    estimated at one draw of z. The mixture has no closed-form KL, but its
    density is known: all that the estimate needs."""
    z, log_var, eps = model.sample(x_in, generator)
    recon = reconstruction_loss(model.decoder(z), x)
    # log q(z|x) at the drawn z, a Gaussian's log-density (z - mean = std*eps)
    log_q = -0.5 * (eps.pow(2) + log_var + math.log(2 * math.pi)).sum(dim=1)
    kl = (log_q - mixture_log_density(z, prior_std)).mean()
    return recon, kl


class VAETrainer:
    """The VAE's loop, shaped like the Trainer's: the same batch order, input noise, AdamW and
    learning-rate schedule; one phase (reconstruction plus KL) per step."""

    def __init__(self, cfg: TrainConfig, data: SemiSupervisedData, model_cfg: ModelConfig,
                 device: torch.device | str = "cpu"):
        torch.manual_seed(cfg.seed)  # the initial weights, as make_trainer
        self.cfg, self.device = cfg, torch.device(device)
        self.model = VAE(model_cfg).to(self.device)
        self.data = data.to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.0)
        self.sampler = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.batches = BatchCycler(len(data.unlabeled_x), cfg.batch_size, seed=cfg.seed + 1)
        self.epoch, self.history = 0, []

    def fit(self, epochs: int) -> list[dict]:
        while self.epoch < epochs:
            start, cfg = time.perf_counter(), self.cfg
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.optimizer.lr_at("reconstruction", self.epoch)
            self.model.train()
            steps, sums = self.batches.batches_per_pass, torch.zeros(2)
            for _ in range(steps):
                x = self.data.unlabeled_x[self.batches.next_on(self.device)]  # (B, 784)
                x_in = with_noise(x, cfg.noise_std, self.sampler)
                recon, kl = vae_loss(self.model, x_in, x, cfg.prior_std, self.sampler)
                self.optimizer.zero_grad(set_to_none=True)
                (recon + kl).backward()
                self.optimizer.step()
                sums += torch.stack([recon.detach(), kl.detach()]).cpu()
            self.epoch += 1
            means = (sums / steps).tolist()
            self.history.append({"epoch": self.epoch, "steps": steps, "loss_recon": means[0],
                                 "loss_kl": means[1], "seconds": time.perf_counter() - start})
        return self.history


# ----------------------------------------------------------------------------- training the three
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


class DemoRun:
    """One demo model's run folder: config.json, history.jsonl, model.pt (fp16), snapshots.pt
    (codes and decoders at the snapshot epochs) and, once finished, summary.json."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.kind = self.path.name

    @property
    def finished(self) -> bool:
        return (self.path / "summary.json").exists()

    def config(self) -> dict:
        return read_json_object(self.path / "config.json", "a demo run's config.json")

    def summary(self) -> dict:
        return read_json_object(self.path / "summary.json", "a demo run's summary.json")

    def history(self) -> list[dict]:
        from ..runs.files import read_history

        return read_history(self.path / "history.jsonl")

    def settings(self) -> DemoSettings:
        demo = self.config().get("demo", {})
        try:
            return DemoSettings(**{**demo, "snapshots": tuple(demo.get("snapshots", ()))}).check()
        except (TypeError, AAEError) as err:
            raise AAEError(f"{self.path / 'config.json'} holds no demo settings ({err})") from None

    def model(self) -> nn.Module:
        """The trained model, fp32, in eval mode."""
        payload = torch_load(self.path / "model.pt")
        try:
            model = (VAE if payload["kind"] == "vae" else SemiSupervisedAAE)(
                ModelConfig(**payload["model_config"]))
            model.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
        except (KeyError, TypeError, RuntimeError) as err:
            raise AAEError(f"{self.path / 'model.pt'} is not a demo model ({err})") from None
        return model.eval()

    def snapshots(self) -> dict:
        """{"epochs": [...], "labels": (n,) uint8, "codes": {epoch: (n, 2)}, "decoder": {epoch: weights}}."""
        payload = torch_load(self.path / "snapshots.pt")
        return {"epochs": [int(e) for e in payload["epochs"]], "labels": payload["labels"],
                "codes": {int(e): c.float() for e, c in payload["codes"].items()},
                "decoder": {int(e): w for e, w in payload["decoder"].items()}}

    def snapshot_decoder(self, epoch: int) -> nn.Sequential:
        """The decoder as it was after `epoch` (fp16 weights, computed in fp32)."""
        cfg = ModelConfig(**self.config()["model"])
        decoder = mlp([cfg.style_dim, cfg.hidden_dim, cfg.hidden_dim, cfg.input_dim],
                      final=nn.Sigmoid())
        decoder.load_state_dict({k: v.float() for k, v in self.snapshots()["decoder"][epoch].items()})
        return decoder.eval()

    def write(self, kind: str, settings: DemoSettings, runner, snapshots: dict, labels: torch.Tensor,
              val_x: torch.Tensor, commit: str, device: torch.device) -> dict:
        """history, weights and snapshots, then summary.json (the run is finished once it exists)."""
        from ..runs.files import atomic_write

        write_jsonl(self.path / "history.jsonl", runner.history)
        model_cfg = settings.model_config()
        payload = {"kind": kind, "model_config": asdict(model_cfg), "state_dict": fp16(runner.model)}
        atomic_write(self.path / "model.pt", lambda tmp: torch.save(payload, tmp))
        stored = {"epochs": list(snapshots), "labels": labels.to(torch.uint8),
                  "codes": {str(e): s["codes"] for e, s in snapshots.items()},
                  "decoder": {str(e): s["decoder"] for e, s in snapshots.items()}}
        atomic_write(self.path / "snapshots.pt", lambda tmp: torch.save(stored, tmp))
        codes = codes_of(runner.model, val_x.to(runner.device), settings.seed)
        summary = {"kind": kind, "model": KINDS[kind], "epochs": settings.epochs,
                   "steps": sum(r["steps"] for r in runner.history),
                   "share_within_2sd": share_near_mixture(codes, settings.prior_std),
                   "n_val": len(val_x), "unlabeled": settings.unlabeled, "hidden": settings.hidden,
                   "seed": settings.seed,
                   **provenance(device, sum(r["seconds"] for r in runner.history)),
                   "git_commit": commit}  # the commit the run started at (provenance reads HEAD now)
        write_json(self.path / "summary.json", summary)
        return summary


def train_demo(out: str | Path, settings: DemoSettings = DemoSettings(), kinds=tuple(KINDS),
               force: bool = False, allow_dirty: bool = False, mnist=None,
               report: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Train the demo models into out/<kind>/, one run folder each; returns their summaries.

    A finished run of the same settings is kept (and its summary returned); one of other settings
    is replaced only with `force`. Everything is checked before the first folder is written."""
    settings.check()
    out, say = check_path(out), report or (lambda line: None)
    refuse_foreign_files(out, KINDS, "demo run folders")
    todo = []
    for kind in kinds:
        if kind not in KINDS:
            raise AAEError(f"unknown demo model {kind!r}; one of {', '.join(KINDS)}")
        run = DemoRun(out / kind)
        refuse_foreign_files(run.path, RUN_FILES, "a demo run")
        if run.finished and not force:
            if run.settings() != settings:
                raise AAEError(f"{run.path} holds a finished run of other settings; pass --force to "
                               "replace it, or choose another --out")
            say(f"{KINDS[kind]}: already finished ({run.path})")
            continue
        refuse_dirty_results(run.path, allow_dirty)
        todo.append(kind)
    probe_writable(out)
    summaries = {kind: DemoRun(out / kind).summary() for kind in kinds if kind not in todo}
    if not todo:
        return summaries
    device = resolve_device(settings.device)
    data = prepare_data(settings.train_config(), mnist if mnist is not None else load_mnist())
    commit = git_commit()
    for kind in todo:
        run = DemoRun(out / kind)
        make_folder(run.path)
        with exclusive(run.path / LOCK, str(run.path)):
            (run.path / "summary.json").unlink(missing_ok=True)  # unfinished until written again
            write_json(run.path / "config.json", {
                "kind": kind, "model_name": KINDS[kind], "demo": settings.to_dict(),
                "train": settings.train_config(kind).to_dict(), "model": asdict(settings.model_config()),
                "git_commits": [commit]})
            runner, snapshots = train_model(kind, settings, data, device, say)
            summaries[kind] = run.write(kind, settings, runner, snapshots,
                                        data.val_y[: settings.n_map], data.val_x, commit, device)
        say(f"{KINDS[kind]}: {summaries[kind]['share_within_2sd']:.0f}% of the validation codes "
            f"within 2 std of a prior component ({run.path})")
    return {kind: summaries[kind] for kind in kinds}


def load_demo(results: str | Path) -> dict[str, DemoRun]:
    """The shipped demo runs {kind: DemoRun}, each finished; an AAEError naming what is missing."""
    runs = {kind: DemoRun(Path(results) / kind) for kind in KINDS}
    missing = [str(run.path) for run in runs.values() if not run.finished]
    if missing:
        raise AAEError(f"no finished demo run in {', '.join(missing)}; train them with "
                       "`python -m aae_core demo-2d --out results/demo-2d`, or pass retrain=True")
    return runs


def demo_models(results: str | Path, retrain: bool, settings: DemoSettings,
                say: Callable[[str], None] = print) -> tuple[dict, dict, DemoSettings]:
    """The three trained models {kind: model}, their histories and their settings: read from the
    shipped run folders in `results`, or, with `retrain`, trained here with `settings`."""
    if not retrain:
        runs = load_demo(results)
        settings = runs["aae"].settings()
        summary = runs["aae"].summary()
        say(f"Read the three models from {results}:\n{settings.epochs} epochs on "
            f"{settings.unlabeled:,} images, hidden layers of {settings.hidden} units, "
            f"commit {summary['git_commit'][:10]}.")
        return ({kind: run.model() for kind, run in runs.items()},
                {kind: run.history() for kind, run in runs.items()}, settings)
    settings.check()
    data = prepare_data(settings.train_config())
    device = resolve_device(settings.device)
    trained = {kind: train_model(kind, settings, data, device)[0] for kind in KINDS}
    say(f"Trained the three models here:\n{settings.epochs} epochs on {settings.unlabeled:,} "
        f"images, hidden layers of {settings.hidden} units.")
    return ({kind: runner.model.eval() for kind, runner in trained.items()},
            {kind: runner.history for kind, runner in trained.items()}, settings)


def nearest_component(codes: torch.Tensor, n_components: int = 10, radius: float = 4.0):
    """The index (N,) of each code's nearest mixture component and the distance (N,) to its mean."""
    angle = 2 * torch.pi * torch.arange(n_components, dtype=torch.float32) / n_components
    means = radius * torch.stack([angle.cos(), angle.sin()], dim=1)  # (K, 2)
    distance, index = torch.cdist(codes[:, :2].float().cpu(), means).min(dim=1)
    return index, distance


def components_filled(codes: torch.Tensor, std: float, within: float = 2.0) -> float:
    """How many of the ten components the codes within `within` std of one fill, counted as the
    exponential of the entropy of their shares: 10 when they spread evenly over all ten, 1 when
    they crowd into one (0 when no code is near any)."""
    index, distance = nearest_component(codes)
    near = index[distance <= within * std]
    if not len(near):
        return 0.0
    shares = torch.bincount(near, minlength=10).float() / len(near)
    shares = shares[shares > 0]
    return float(torch.exp(-(shares * shares.log()).sum()))


def share_table(clouds: dict[str, torch.Tensor], std: float) -> str:
    """One line per cloud of codes: the share within 2 std of a prior component, and how many of
    the ten components those codes fill."""
    width = max(map(len, clouds))
    lines = [f"{'':<{width}}  within 2σ  components filled"]
    for name, codes in clouds.items():
        lines.append(f"{name:<{width}}  {share_near_mixture(codes, std):8.1f}%"
                     f"{components_filled(codes, std):19.1f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figures
DIGIT_COLORS = "tab10"
PRIOR_GREY = "0.78"


VIEW = (-6.0, 6.0)  # the window of every code panel: the prior and a margin, the same for all


def beyond_view(codes) -> float:
    """Percentage of codes (N, 2) outside VIEW: the panels draw them on its edge."""
    codes = np.asarray(codes)
    return 100.0 * float(((codes < VIEW[0]) | (codes > VIEW[1])).any(axis=1).mean())


@book_style
def plot_codes(panels: dict[str, tuple], prior: torch.Tensor, title: str) -> Figure:
    """Two panels per row, all with the same axes (VIEW): each model's codes (N, 2) coloured by digit
    over the prior's samples in grey, then the prior alone. {panel title: (codes, digits)}. Codes
    beyond the window are drawn on its edge, and the panel's title says how many there are."""
    n = len(panels) + 1
    rows = (n + 1) // 2
    fig = Figure(figsize=(6.2, 3.0 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, 2, squeeze=False).ravel()
    prior = prior.numpy()
    for ax, (name, (codes, digits)) in zip(axes, [*panels.items(), ("samples of the prior", (None, None))]):
        ax.scatter(prior[:, 0], prior[:, 1], s=2, color=PRIOR_GREY if codes is not None else "0.35",
                   linewidths=0)
        if codes is not None:
            codes = np.asarray(codes)
            outside = beyond_view(codes)
            shown = np.clip(codes, *VIEW)
            points = ax.scatter(shown[:, 0], shown[:, 1], c=np.asarray(digits), cmap=DIGIT_COLORS,
                                vmin=-0.5, vmax=9.5, s=3, alpha=0.8, linewidths=0, clip_on=False)
            if outside >= 0.5:
                name = f"{name}\n({outside:.0f}% of the codes beyond the edges)"
        ax.set(title=name, xlim=VIEW, ylim=VIEW, aspect="equal", xlabel="code dimension 1",
               ylabel="code dimension 2")
    for ax in axes[n:]:
        ax.set_axis_off()
    fig.colorbar(points, ax=axes[:n].tolist(), ticks=range(10), label="digit", shrink=0.6)
    fig.suptitle(title)
    return fig


@book_style
def plot_reconstruction(histories: dict[str, list[dict]], title: str) -> Figure:
    """The reconstruction loss per epoch, one line per model (COLORS)."""
    fig = Figure(figsize=(WIDTH, 2.8), layout="constrained")
    ax = fig.subplots()
    for kind, history in histories.items():
        ax.plot([r["epoch"] for r in history], [r["loss_recon"] for r in history], color=COLORS[kind],
                label=KINDS[kind])
    ax.set(xlabel="epoch", ylabel="squared error per image\n(summed over pixels)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


@book_style
def plot_decoded_prior(images: dict[str, torch.Tensor], n_per_component: int, title: str) -> Figure:
    """Decodings of the same prior samples by each model, one block of rows per model and one column
    per prior component (counter-clockwise from the one at angle 0). {model: images
    (10 * n_per_component, 784), component by component}."""
    fig = Figure(figsize=(WIDTH, 0.7 * n_per_component * len(images) + 0.5 * len(images) + 0.6),
                 layout="constrained")
    for sub, (name, block) in zip(np.atleast_1d(fig.subfigures(len(images), 1)), images.items()):
        axes = sub.subplots(n_per_component, 10, squeeze=False)
        grid = block.view(10, n_per_component, 28, 28).transpose(0, 1)  # (row, component, 28, 28)
        for r in range(n_per_component):
            for k in range(10):
                ax = axes[r, k]
                ax.imshow(grid[r, k].numpy(), cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
        sub.suptitle(name)
    fig.suptitle(title)
    return fig

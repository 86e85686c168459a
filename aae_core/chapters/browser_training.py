"""Chapter 1's in-page trainer: an adversarial autoencoder that trains in the reader's browser.

The static book has no kernel, so the trainer is plain JavaScript (`book/_static/train/`):
`aae-train-core.js` holds the layers (their forward pass is the book's library, `lib/aae-nn.js`),
their backward passes, chapter 1's losses, AdamW, seeded random numbers and the priors, and runs
in a Web Worker; `aae-train.js` draws the page. The digits travel in a script, `train-digits.js`
(browsers refuse `fetch` on `file://`), written by

    python -c "from aae_core.chapters.browser_training import write_digits_script; write_digits_script()"

from the project's own split (`aae_core.data.train_val_split`): the first 2,000 training and
500 validation images, each 28x28 image averaged over 2x2 blocks to 14x14 and stored as uint8.

The network is chapter 1's demo at 14x14 and 64 units (`torch_model` builds it in torch: the same
`SemiSupervisedAAE` with no y code), trained the way chapter 1's `Trainer` trains it, with the
learning rates and Adam's beta1 of `PAGE` (larger steps than the chapter's, and the GAN-usual
beta1 = 0.5, so that prior matching shows within a few thousand steps). The tests check one
JavaScript step against a torch step of the same network and batch.
"""
from __future__ import annotations

import base64
import io
import json
import math
import posixpath
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import ModelConfig
from ..data import MNIST, load_mnist, train_val_split
from ..losses import sample_gaussian, sample_gaussian_mixture
from ..models import SemiSupervisedAAE

STATIC = Path(__file__).resolve().parents[2] / "book" / "_static" / "train"
DIGITS_SCRIPT = "train-digits.js"
FORMAT = "aae-train-digits/1"
SIDE = 14  # 28x28 digits averaged over 2x2 blocks
N_TRAIN, N_VAL = 2000, 500


@dataclass(frozen=True)
class PageSettings:
    """What the page trains with by default (aae-train-core.js's DEFAULTS say the same)."""

    hidden: int = 64  # encoder and decoder: two hidden layers of this width
    disc_hidden: int = 64  # D: two hidden layers of this width
    batch: int = 64
    lr: float = 3e-3  # every phase (the reader changes the autoencoder's and D's)
    betas: tuple = (0.5, 0.999)
    weight_decay: float = 0.01  # torch.optim.AdamW's default, as in chapter 1
    noise_std: float = 0.3  # input noise, chapter 1's (TrainConfig.noise_std)
    prior_std: float = 0.3  # the mixture's components, chapter 1's


PAGE = PageSettings()
# The priors of the page: the mixture is chapter 1's; the Gaussian and the swiss roll cover about as much.
GAUSSIAN_STD = 2.0
SWISS_ROLL = {"turns": (1.5 * math.pi, 4.5 * math.pi), "radius": 5.0, "std": 0.2}
PRIOR_NAMES = {"mixture": "mixture of 10 Gaussians", "gaussian": "Gaussian", "swissroll": "swiss roll"}


def downsample(images: torch.Tensor) -> torch.Tensor:
    """(N, 784) floats in [0, 1] -> (N, 196) uint8: the 8-bit pixels averaged over 2x2 blocks, rounded."""
    pixels = (images * 255).round().reshape(-1, 1, 28, 28)
    return F.avg_pool2d(pixels, 2).round().reshape(-1, SIDE * SIDE).to(torch.uint8)


def browser_digits(mnist: MNIST | None = None, n_train: int = N_TRAIN, n_val: int = N_VAL) -> dict[str, torch.Tensor]:
    """The page's digits: the first n_train training and n_val validation images of the fixed split."""
    mnist = mnist if mnist is not None else load_mnist()
    train_idx, val_idx = train_val_split(len(mnist.train_x))
    train_idx, val_idx = train_idx[:n_train], val_idx[:n_val]
    return {"train_images": downsample(mnist.train_x[train_idx]),
            "train_labels": mnist.train_y[train_idx].to(torch.uint8),
            "val_images": downsample(mnist.train_x[val_idx]), "val_labels": mnist.train_y[val_idx].to(torch.uint8)}


def _b64(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.contiguous().numpy().tobytes()).decode("ascii")


def write_digits_script(out: str | Path = STATIC, mnist: MNIST | None = None) -> Path:
    """Write train-digits.js (window.AAE_TRAIN_DIGITS: base64 uint8 images and labels) into `out`."""
    digits = browser_digits(mnist)
    bundle = {
        "format": FORMAT, "side": SIDE,
        **{part: {"n": len(digits[f"{part}_labels"]), "images": _b64(digits[f"{part}_images"]),
                  "labels": _b64(digits[f"{part}_labels"])} for part in ("train", "val")},
        "source": "MNIST training set, aae_core.data.train_val_split: first 2,000 training and 500 validation images, "
                  "2x2 averages of the 8-bit pixels",
    }
    path = Path(out) / DIGITS_SCRIPT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("// Written by aae_core.chapters.browser_training.write_digits_script; read by aae-train.js.\n"
                    f"window.AAE_TRAIN_DIGITS = {json.dumps(bundle)};\n")
    return path


def read_digits_script(path: str | Path = STATIC / DIGITS_SCRIPT) -> dict[str, torch.Tensor]:
    """The tensors of a written train-digits.js (the inverse of write_digits_script)."""
    text = Path(path).read_text()
    bundle = json.loads(text[text.index("{"): text.rindex("}") + 1])

    def tensor(part: str, key: str, width: int) -> torch.Tensor:
        raw = bytearray(base64.b64decode(bundle[part][key]))
        return torch.frombuffer(raw, dtype=torch.uint8).reshape(bundle[part]["n"], width) if width > 1 else \
            torch.frombuffer(raw, dtype=torch.uint8)

    return {"train_images": tensor("train", "images", SIDE * SIDE), "train_labels": tensor("train", "labels", 1),
            "val_images": tensor("val", "images", SIDE * SIDE), "val_labels": tensor("val", "labels", 1)}


def javascript_step(path: str | Path = STATIC / "aae-train-core.js") -> str:
    """The page's training step as aae-train-core.js writes it (Model.prototype.trainStep), for the chapter."""
    lines = Path(path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  Model.prototype.trainStep"))
    end = next(i for i in range(start, len(lines)) if lines[i] == "  };")
    return "\n".join(line[2:] for line in lines[start:end + 1])


def torch_model(settings: PageSettings = PAGE) -> SemiSupervisedAAE:
    """The page's network in torch: chapter 1's unsupervised AAE with a 2-D code, at 14x14."""
    return SemiSupervisedAAE(ModelConfig(input_dim=SIDE * SIDE, hidden_dim=settings.hidden, n_classes=0, style_dim=2,
                                         disc_hidden_dim=settings.disc_hidden, init_std=0))


def sample_page_prior(name: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 2) samples of one of the page's priors (the page draws its own with its own random numbers)."""
    if name == "mixture":
        return sample_gaussian_mixture(n, 2, PAGE.prior_std, generator)
    if name == "gaussian":
        return sample_gaussian(n, 2, GAUSSIAN_STD, generator)
    if name == "swissroll":
        low, high = SWISS_ROLL["turns"]
        t = low + (high - low) * torch.rand(n, generator=generator)
        r = SWISS_ROLL["radius"] * t / high
        spine = torch.stack([r * torch.cos(t), r * torch.sin(t)], dim=1)
        return spine + SWISS_ROLL["std"] * torch.randn(n, 2, generator=generator)
    raise ValueError(f"unknown prior {name!r}; one of {', '.join(PRIOR_NAMES)}")


class BrowserTrainer:
    """The in-page trainer as page content: the controls and views of aae-train.js, run in the
    reader's browser. `static` is the folder of book/_static/train as the page sees it; the layers
    come from the book's library beside it (book/_static/lib/aae-nn.js).

    Its HTML needs trusted output in Jupyter (scripts run); elsewhere the PNG shows the three priors.
    """

    _count = 0

    def __init__(self, static: str = "../_static/train/", seed: int = 1):
        self.static, self.seed = static.rstrip("/") + "/", seed
        self.lib = posixpath.normpath(self.static + "../lib") + "/"
        BrowserTrainer._count += 1
        self.element_id = f"aae-trainer-{BrowserTrainer._count}"

    def _repr_html_(self) -> str:
        return (f'<div class="aae-trainer" id="{self.element_id}" data-seed="{self.seed}">'
                f'<noscript>The in-page trainer needs JavaScript.</noscript></div>\n'
                f'<link rel="stylesheet" href="{self.static}aae-train.css">\n'
                f'<script src="{self.static}{DIGITS_SCRIPT}"></script>\n'
                f'<script src="{self.lib}aae-nn.js"></script>\n'
                f'<script src="{self.static}aae-train-core.js"></script>\n'
                f'<script src="{self.static}aae-train.js"></script>\n'
                f'<script>AAETrainPage.mount(document.getElementById("{self.element_id}"), '
                f'window.AAE_TRAIN_DIGITS);</script>')

    def _repr_png_(self) -> bytes:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 3.4), layout="constrained")
        generator = torch.Generator().manual_seed(self.seed)
        for ax, (name, label) in zip(fig.subplots(1, 3), PRIOR_NAMES.items()):
            points = sample_page_prior(name, 1000, generator).numpy()
            ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5, color="0.4")
            ax.set(title=label, xlim=(-6, 6), ylim=(-6, 6), aspect="equal", xlabel="code dimension 1",
                   ylabel="code dimension 2")
        fig.suptitle("The priors of the in-page trainer (training live needs the HTML book)")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80, facecolor="white")
        return buffer.getvalue()

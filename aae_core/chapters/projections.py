"""Where the style codes of real digits lie (chapter 4): how much of the digit a code z still
carries, and z of test digits projected onto a plane, coloured by the true digit.

A disentangled model keeps the digit in y, so the codes z of different digits mix in one cloud
and the decoder draws the digit y names. A model whose z still holds the digit sorts the codes
into regions; give its decoder a y that never came with such a z and it draws what z says.
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps, patheffects
from matplotlib.figure import Figure

from ..models import SemiSupervisedAAE, evaluating
from .generate import generate, model_device
from .plots import DIGIT_COLORS, book_style


@torch.no_grad()
def style_codes(model: SemiSupervisedAAE, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """The encoder's style codes z (N, style_dim) of images x (N, 784), on the CPU."""
    with evaluating(model):
        device = model_device(model)
        return torch.cat([model.encode(chunk.to(device))[1].float().cpu() for chunk in x.split(batch_size)])


def vote(digits: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """The most frequent digit of each row of digits (Q, k); a tie goes to the smaller digit."""
    counts = torch.nn.functional.one_hot(digits, n_classes).sum(dim=1)  # (Q, n_classes)
    return counts.argmax(dim=1)


def neighbour_digits(queries: torch.Tensor, codes: torch.Tensor, digits: torch.Tensor, k: int = 10) -> torch.Tensor:
    """For each query code (Q, D), the digit most common among its k nearest codes (N, D)."""
    nearest = torch.cdist(queries.float(), codes.float()).topk(k, largest=False).indices  # (Q, k)
    return vote(digits[nearest], int(digits.max()) + 1)


def digit_from_style(z: torch.Tensor, digits: torch.Tensor, k: int = 10) -> float:
    """Percentage of digits a k-nearest-neighbour vote in z reads right: each half of the codes
    is read from the other half (10% is chance; a z that holds only style stays near it)."""
    half = len(z) // 2
    first, second = slice(0, half), slice(half, 2 * half)
    right = torch.cat([neighbour_digits(z[second], z[first], digits[first], k) == digits[second],
                       neighbour_digits(z[first], z[second], digits[second], k) == digits[first]])
    return 100.0 * right.float().mean().item()


def sample_styles(model: SemiSupervisedAAE, n: int, prior_std: float = 1.0, seed: int = 0) -> torch.Tensor:
    """The n styles z (n, style_dim) that generate.samples_per_digit draws for its n columns
    (the same generator, the same order), so that a figure can mark where they lie."""
    return prior_std * torch.randn(n, model.cfg.style_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def what_samples_follow(model: SemiSupervisedAAE, judge, codes: torch.Tensor, digits: torch.Tensor,
                        samples_per_digit: int = 200, prior_std: float = 1.0, seed: int = 0,
                        k: int = 10) -> dict:
    """Decode y = d with styles z from the prior (judge.generated_agreement's draws, so "y" is its
    agreement) and let `judge` read each image. Returns the percentages read as the digit y
    asked for ("y") and as the digit most common among z's k nearest codes of real digits
    ("z"; `codes` (N, D) with their `digits` (N,)): which of the two codes decides the digit."""
    gen = torch.Generator().manual_seed(seed)
    asked = torch.arange(model.cfg.n_classes).repeat_interleave(samples_per_digit)
    z = prior_std * torch.randn(len(asked), model.cfg.style_dim, generator=gen)
    device = model_device(model)
    read = judge.classify(generate(model, asked.to(device), z.to(device))).cpu()
    near = neighbour_digits(z, codes, digits, k)
    return {"y": 100.0 * (read == asked).float().mean().item(), "z": 100.0 * (read == near).float().mean().item()}


def _oriented(basis: torch.Tensor) -> torch.Tensor:
    """Columns (D, 2) with the sign that makes each one's largest entry positive: the same plane
    always comes out the same way round."""
    signs = torch.sign(basis.gather(0, basis.abs().argmax(dim=0, keepdim=True)))
    return basis * signs


def principal_plane(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal component analysis: the mean (D,) and the two directions (D, 2) along which the
    codes vary most, whatever the digit."""
    mean = z.double().mean(dim=0)
    _, _, vh = torch.linalg.svd(z.double() - mean, full_matrices=False)
    return mean, _oriented(vh[:2].T)


def discriminant_plane(z: torch.Tensor, digits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fisher's linear discriminant analysis: the mean (D,) and the two directions (D, 2) along
    which the digits' mean codes lie furthest apart, measured against the spread within a digit."""
    z = z.double()
    mean = z.mean(dim=0)
    classes = digits.unique()
    means = torch.stack([z[digits == c].mean(dim=0) for c in classes])  # (C, D)
    shares = torch.stack([(digits == c).double().mean() for c in classes])  # (C,)
    centred = z - means[torch.searchsorted(classes, digits)]
    within = centred.T @ centred / len(z)  # (D, D)
    within += 1e-6 * within.trace() / len(within) * torch.eye(len(within), dtype=z.dtype)  # never singular
    between = (shares[:, None] * (means - mean)).T @ (means - mean)  # (D, D)
    whiten = torch.linalg.inv(torch.linalg.cholesky(within))
    _, vectors = torch.linalg.eigh(whiten @ between @ whiten.T)  # eigenvalues ascending
    basis = whiten.T @ vectors[:, -2:].flip(1)
    return mean, _oriented(basis / basis.norm(dim=0))


def project(z: torch.Tensor, plane: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Codes (N, D) as coordinates (N, 2) in a plane from principal_plane or discriminant_plane."""
    mean, basis = plane
    return ((z.double() - mean) @ basis).float()


@book_style
def plot_style_projection(panels: dict, axis_labels: tuple[str, str],
                          title: str = "Style codes z of test digits, by true digit") -> Figure:
    """One scatter per model, at most two per row: {panel title: {"points": (N, 2), "digits": (N,),
    "marks": {label: (x, y)} (optional)}}. Points are coloured by digit; each digit also gets the
    ellipse that holds its points within one standard deviation, named at its centre, so that
    overlapping digits stay readable; marks (codes the text discusses) are labelled stars."""
    n_cols = min(2, len(panels))
    n_rows = int(np.ceil(len(panels) / n_cols))
    fig = Figure(figsize=(3.4 * n_cols + 0.2, 3.1 * n_rows + 0.4), layout="constrained",
                 facecolor="white")  # at most 7 inches: read at the page's width; opaque in dark mode
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    cmap = colormaps[DIGIT_COLORS]
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    for ax, (name, panel) in zip(axes.flat, panels.items()):
        points, digits = np.asarray(panel["points"], dtype=float), np.asarray(panel["digits"])
        order = np.random.default_rng(0).permutation(len(points))  # no digit drawn wholly on top
        ax.scatter(points[order, 0], points[order, 1], color=cmap(digits[order] % 10), s=5, alpha=0.35,
                   linewidths=0)
        for digit in np.unique(digits):
            mine = points[digits == digit]
            centre = mine.mean(axis=0)
            ax.plot(*_ellipse(centre, np.cov(mine.T)), color=cmap(digit % 10), linewidth=1.8)
            ax.text(*centre, str(digit), ha="center", va="center", fontsize=12, weight="bold",
                    color=cmap(digit % 10), path_effects=halo)
        for label, (x, y) in panel.get("marks", {}).items():
            ax.plot(x, y, marker="*", markersize=14, color="black", markeredgecolor="white")
            ax.annotate(label, (x, y), xytext=(6, 4), textcoords="offset points", fontsize=9,
                        weight="bold", path_effects=halo)
        low, high = np.percentile(points, [0.5, 99.5], axis=0)  # the cloud, not its stragglers
        pad = 0.05 * (high - low).max()
        ax.set(title=name, xlabel=axis_labels[0], ylabel=axis_labels[1], aspect="equal",
               xlim=(low[0] - pad, high[0] + pad), ylim=(low[1] - pad, high[1] + pad))
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig


def _ellipse(centre: np.ndarray, cov: np.ndarray, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the one-standard-deviation ellipse of a 2-D Gaussian with this centre and covariance."""
    values, vectors = np.linalg.eigh(cov)
    angle = np.linspace(0, 2 * np.pi, n)
    circle = np.stack([np.cos(angle), np.sin(angle)])  # (2, n)
    points = centre[:, None] + vectors @ (np.sqrt(np.maximum(values, 0))[:, None] * circle)
    return points[0], points[1]

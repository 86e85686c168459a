"""Chapter 1's demo figures: the codes over the prior, the reconstruction loss, and the prior decoded.
They only draw what the demo stores."""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from .demo_training import COLORS, KINDS
from .plots import DIGIT_COLORS, WIDTH, book_style

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

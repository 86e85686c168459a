"""One training step taken apart (chapter 2): the model's parts by readable names, how far each
phase of a step moves each part, what the priors did to a trained model's codes, and the
package's own code as the chapter prints it.

The phase colours are the diagram's (book/_static/diagrams/semi-supervised-aae.svg), so that a
phase reads the same in the drawing, in the equations' headings and in the figure.
"""
from __future__ import annotations

import inspect
import textwrap
from typing import Callable

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..config import PHASES, PRESETS
from ..models import SemiSupervisedAAE, evaluating
from .tables import markdown_table
from .plots import book_style

# Okabe-Ito colours (told apart with any colour vision): the diagram's legend uses the same three.
PHASE_COLORS = {"reconstruction": "#0072B2", "regularization": "#D55E00", "semi-supervised": "#009E73"}
ACTIVATIONS = {nn.ReLU: "ReLU", nn.Sigmoid: "sigmoid"}


def model_parts(model: SemiSupervisedAAE) -> dict[str, nn.Module]:
    """The networks of the model by the names the book uses, the encoder split into its trunk and
    its two heads (phase 3 moves the trunk and the y head, never the z head)."""
    parts = {"encoder trunk": model.encoder.trunk, "y head": model.encoder.head_y,
             "z head": model.encoder.head_z, "decoder": model.decoder, "D_y": model.disc_y, "D_z": model.disc_z}
    return {name: part for name, part in parts.items() if part is not None}


def _flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().float().flatten().cpu() for p in module.parameters()])


def moved_by(model: SemiSupervisedAAE, call: Callable[[], object]) -> tuple[object, dict[str, float]]:
    """Run call() (one phase of a step) and return its result and how far it moved each part:
    the norm of the change of the part's weights over the norm of its weights before."""
    before = {name: _flat(part) for name, part in model_parts(model).items()}
    result = call()
    after = {name: _flat(part) for name, part in model_parts(model).items()}
    return result, {name: ((after[name] - before[name]).norm() / before[name].norm()).item() for name in before}


def _layers(name: str, module: nn.Module) -> list[tuple[nn.Linear, str]]:
    """(linear layer, the activation after it) for a head or an mlp, in order."""
    if isinstance(module, nn.Linear):
        return [(module, "softmax" if name == "y head" else "none (linear)")]
    children = list(module)
    last = "none (a logit)" if name.startswith("D_") else "none"
    return [(layer, ACTIVATIONS.get(type(children[i + 1]), last) if i + 1 < len(children) else last)
            for i, layer in enumerate(children) if isinstance(layer, nn.Linear)]


def layer_table(model: SemiSupervisedAAE) -> str:
    """Markdown: one row per part of the model (readable names), with the widths of its layers
    from input to output, the activation after each layer and its number of parameters."""
    rows = []
    for name, part in model_parts(model).items():
        layers = _layers(name, part)
        widths = " → ".join(str(n) for n in [layers[0][0].in_features] + [l.out_features for l, _ in layers])
        activations = ", ".join(activation for _, activation in layers)
        label = f"${name[0]}_{name[2]}$" if name.startswith("D_") else name  # D_y as the text writes it
        rows.append([label, widths, activations, f"{sum(p.numel() for p in part.parameters()):,}"])
    return markdown_table(["part", "layer widths", "activations", "parameters"], rows)


def presets_table(names: list[str]) -> str:
    """Markdown: each phase's optimizer and learning rates (the schedule, divided by 10 at each
    milestone) for several presets side by side, read from aae_core.config."""
    header = ["phase"]
    for name in names:
        opt = PRESETS[name]
        header.append(f"`{name}` ({'SGD' if opt.name == 'sgd' else 'AdamW'}, ÷10 at epochs "
                      f"{' and '.join(str(m) for m in opt.milestones)})")
    rows = []
    for phase in PHASES:
        row = [phase.replace("_", "-")]
        for name in names:
            opt = PRESETS[name]
            rates = " → ".join(f"{opt.lr[phase] * opt.gamma**k:g}" for k in range(len(opt.milestones) + 1))
            momentum = opt.momentum.get(phase)
            row.append(rates + (f", momentum {momentum}" if momentum is not None else ""))
        rows.append(row)
    return markdown_table(header, rows)


@book_style
def plot_phase_moves(changes: dict, title: str = "How far each phase of one step moves each part") -> Figure:
    """Bars on a log axis: the relative weight change of each part of the model (groups) after
    each phase ({phase: {part: value}}, phases named as in PHASE_COLORS, optionally with a
    number: '(1) reconstruction'). A part a phase does not touch gets no bar and the word 'none'."""
    phases = list(changes)
    parts = list(next(iter(changes.values())))
    values = np.array([[changes[p][part] for part in parts] for p in phases])
    width = 0.8 / len(phases)
    fig = Figure(figsize=(6.8, 3.3), layout="constrained", facecolor="white")  # opaque in dark mode
    ax = fig.subplots()
    positive = values[values > 0]
    floor = 10 ** np.floor(np.log10(positive.min())) / 10 if positive.size else 1e-8
    for k, phase in enumerate(phases):
        xs = np.arange(len(parts)) + (k - (len(phases) - 1) / 2) * width
        color = next((c for name, c in PHASE_COLORS.items() if name in phase), None)
        ax.bar(xs, np.where(values[k] > 0, values[k] - floor, np.nan), width, bottom=floor, color=color,
               label=phase)
        for x, v in zip(xs, values[k]):
            if v <= 0:
                ax.text(x, floor * 1.3, "none", rotation=90, ha="center", va="bottom", fontsize=9, color="0.3")
    ax.set_yscale("log")
    ax.set_ylim(floor, values.max() * 2)
    names = [part.replace("encoder ", "encoder\n").replace("D_y", "$D_y$").replace("D_z", "$D_z$")
             for part in parts]
    ax.set(xticks=range(len(parts)), xticklabels=names, xlabel="part of the model",
           ylabel="relative weight change (log scale)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=9, ncols=len(phases), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.suptitle(title)
    return fig


@torch.no_grad()
def y_summary(model: SemiSupervisedAAE, x: torch.Tensor, batch_size: int = 2000) -> dict:
    """What the encoder's y looks like on images x (N, 784): the mean of its largest probability,
    the percentage of images whose largest probability exceeds 0.99 (nearly one-hot), and how
    many images each category takes (its argmax)."""
    with evaluating(model):
        device = next(model.parameters()).device
        y = torch.cat([model.encode(chunk.to(device))[0].float().cpu() for chunk in x.split(batch_size)])
    largest = y.max(dim=1).values
    return {"mean_largest": largest.mean().item(), "nearly_one_hot": 100.0 * (largest > 0.99).float().mean().item(),
            "per_category": torch.bincount(y.argmax(dim=1), minlength=y.shape[1]).tolist()}


def source_block(*objects) -> str:
    """Markdown: the source of functions or methods as the package has it (read with inspect,
    dedented, never retyped), in one fenced Python block."""
    return "```python\n" + "\n".join(textwrap.dedent(inspect.getsource(obj)) for obj in objects) + "```"

"""Markdown tables the book renders from the package itself (presets, epochs, layer shapes), so
that no hyperparameter or shape is typed by hand into a chapter; and the formatting they share."""
from __future__ import annotations

from ..config import N_TRAIN, PHASES, PRESETS
from ..models import SemiSupervisedAAE
from ..train import steps_per_epoch


def duration(seconds: float) -> str:
    """Wall time as a reader says it: seconds under a minute and a half, else minutes."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def preset_table(name: str) -> str:
    """Optimizer, learning rate schedule and momentum of each phase of a preset."""
    opt = PRESETS[name]
    drops = " and ".join(str(m) for m in opt.milestones)
    rows = []
    for phase in PHASES:
        schedule = " → ".join(f"{opt.lr[phase] * opt.gamma**k:g}" for k in range(len(opt.milestones) + 1))
        rows.append([phase.replace("_", "-"), opt.name.upper() if opt.name == "sgd" else "AdamW", schedule,
                     opt.momentum.get(phase, "–")])
    return markdown_table(["phase", "optimizer", f"learning rate (÷10 at epochs {drops})", "momentum"], rows)


def epochs_table(label_counts=(100, 1000, "all"), batch_size: int = 100) -> str:
    """Steps per epoch under both epoch definitions, for the label counts of Table 3."""
    rows = []
    for labels in label_counts:
        n_labeled = N_TRAIN if labels == "all" else labels
        ours = steps_per_epoch("unlabeled", N_TRAIN, n_labeled, batch_size)
        seed = steps_per_epoch("labeled", N_TRAIN, n_labeled, batch_size)
        rows.append([labels, ours, seed, f"{ours // seed}×"])
    return markdown_table(["labels", "steps per epoch (ours)", "steps per epoch (Latała's code)",
                           "ours is longer by"], rows)


def layer_table(model: SemiSupervisedAAE, batch_size: int = 100) -> str:
    """Every linear layer of the model with its input and output shapes for a batch."""
    rows = []
    for network in ("encoder", "decoder", "disc_y", "disc_z"):
        module = getattr(model, network)
        if module is None:
            continue
        for name, layer in module.named_modules():
            if hasattr(layer, "in_features"):
                rows.append([network, name, f"({batch_size}, {layer.in_features})",
                             f"({batch_size}, {layer.out_features})", f"{layer.weight.numel() + layer.bias.numel():,}"])
    return markdown_table(["network", "layer", "input", "output", "parameters"], rows)


def mean_std(mean: float | None, std: float | None, n: int) -> str:
    if mean is None:
        return "–"
    return f"{mean:.2f} ± {std:.2f} ({n} seeds)" if std is not None else f"{mean:.2f} (1 seed)"

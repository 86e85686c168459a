"""Markdown tables the book renders from the package itself (epoch lengths), so
that no hyperparameter or shape is typed by hand into a chapter; and the formatting they share."""
from __future__ import annotations

from ..config import N_TRAIN, PAPER_LABELS
from ..train import steps_per_epoch


def duration(seconds: float) -> str:
    """Wall time as a reader says it: seconds under a minute and a half, else minutes."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def listed(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


def seeds_words(by_seed: dict, planned: int | None = None) -> str:
    """'seed 100', 'seeds 100 and 101': the seeds of {seed: value}, so that two kinds of run of one seed
    read as one seed; given the planned number, 'seeds 100 and 101 (2 of 5)', or 'all 5 seeds'."""
    seeds = sorted(by_seed)
    if planned is not None and len(seeds) == planned:
        return f"all {planned} seeds"
    words = ("seed " if len(seeds) == 1 else "seeds ") + listed([str(seed) for seed in seeds])
    return words if planned is None else f"{words} ({len(seeds)} of {planned})"


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def epochs_table(label_counts=PAPER_LABELS, batch_size: int = 100) -> str:
    """Steps per epoch under both epoch definitions, for the label counts of Table 3."""
    rows = []
    for labels in label_counts:
        n_labeled = N_TRAIN if labels == "all" else labels
        ours = steps_per_epoch("unlabeled", N_TRAIN, n_labeled, batch_size)
        latala = steps_per_epoch("labeled", N_TRAIN, n_labeled, batch_size)
        rows.append([labels, ours, latala, f"{ours // latala}×"])
    return markdown_table(["labels", "steps per epoch (ours)", "steps per epoch (Latała's code)",
                           "ours is longer by"], rows)


def mean_std(mean: float | None, std: float | None, n: int) -> str:
    if mean is None:
        return "–"
    return f"{mean:.2f} ± {std:.2f} ({n} seeds)" if std is not None else f"{mean:.2f} (1 seed)"

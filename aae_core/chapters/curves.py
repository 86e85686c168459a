"""Reading training curves (history.jsonl): when a run reaches an accuracy, what a learning-rate drop
changes, how far two runs drift apart. Validation accuracy only: a curve is for choices."""
from __future__ import annotations

from .tables import duration, markdown_table


def time_to_accuracy(history: list[dict], threshold: float) -> dict | None:
    """The first epoch whose validation accuracy reaches `threshold` (percent), with the steps and the
    training seconds spent until then; None if no epoch does. Validation, never test: a time to
    accuracy is a choice of checkpoint."""
    steps = seconds = 0.0
    for record in history:
        steps, seconds = steps + record["steps"], seconds + record["seconds"]
        if record["val_accuracy"] >= threshold:
            return {"epoch": record["epoch"], "steps": int(steps), "seconds": seconds,
                    "val_accuracy": record["val_accuracy"]}
    return None


def around_drop(history: list[dict], drop_epoch: int, window: int | None = None) -> dict | None:
    """Validation accuracy on both sides of a learning-rate drop after epoch `drop_epoch`: the best
    epoch of each side and each side's mean over the `window` epochs next to the drop (a whole side
    when None; a mean is steadier than a best on a noisy curve). None until an epoch after the drop."""
    before = history[:drop_epoch][-window:] if window else history[:drop_epoch]
    after = history[drop_epoch:][:window] if window else history[drop_epoch:]
    if not before or not after:
        return None

    def side(records):
        best = max(records, key=lambda r: r["val_accuracy"])
        return {"best": best["val_accuracy"], "best_epoch": best["epoch"], "epochs": (records[0]["epoch"], records[-1]["epoch"]),
                "mean": sum(r["val_accuracy"] for r in records) / len(records)}

    return {"before": side(before), "after": side(after)}


def drop_table(histories: dict, drop_epoch: int, window: int | None = None) -> str:
    """`around_drop` for each run ({name: history}) as a table; a run without epochs after the drop
    gets a row of dashes. Runs with no drop at that epoch are the control: their change is the noise."""
    rows = []
    for name, history in histories.items():
        sides = around_drop(history, drop_epoch, window)
        if sides is None:
            rows.append([name] + ["–"] * 5)
            continue
        before, after = sides["before"], sides["after"]
        rows.append([name, f"{before['mean']:.2f}% (epochs {before['epochs'][0]}-{before['epochs'][1]})",
                     f"{after['mean']:.2f}% (epochs {after['epochs'][0]}-{after['epochs'][1]})",
                     f"{after['mean'] - before['mean']:+.2f}",
                     f"{before['best']:.2f}% (epoch {before['best_epoch']})", f"{after['best']:.2f}% (epoch {after['best_epoch']})"])
    return markdown_table(["run", f"mean validation, up to epoch {drop_epoch}", f"mean validation, after epoch {drop_epoch}",
                           "change", "best before", "best after"], rows)


def curve_milestones(histories: dict, marks=(95.0, 97.0, 98.0)) -> str:
    """Landmarks of each run's curve ({name: history}): the class loss on the labelled images after
    epochs 1 and 10 (how long the labels keep pulling), the validation accuracy at epoch 10 and at its
    best, and when it first reaches each mark (epoch and training time on the run's device)."""
    def at(history, epoch, key):
        return next((f"{r[key]:.3g}" if key.startswith("loss") else f"{r[key]:.2f}%"
                     for r in history if r["epoch"] == epoch and key in r), "–")

    def first(history, mark):
        reached = time_to_accuracy(history, mark)
        return f"epoch {reached['epoch']} ({duration(reached['seconds'])})" if reached else "–"

    rows = []
    for name, history in histories.items():
        best = max(history, key=lambda r: r["val_accuracy"], default=None)
        rows.append([name, len(history), at(history, 1, "loss_class"), at(history, 10, "loss_class"),
                     at(history, 10, "val_accuracy"),
                     f"{best['val_accuracy']:.2f}% (epoch {best['epoch']})" if best else "–",
                     *(first(history, mark) for mark in marks)])
    return markdown_table(["run", "epochs done", "class loss, epoch 1", "class loss, epoch 10", "validation, epoch 10",
                           "best validation",
                           *(f"validation ≥ {mark:g}%" for mark in marks)], rows)


def trajectory_gap(history_a: list[dict], history_b: list[dict]) -> dict | None:
    """How far two runs' validation accuracies drift apart epoch by epoch: the largest gap and the
    gap at their last common epoch (points). Two runs of the same settings give the noise floor."""
    gaps = [a["val_accuracy"] - b["val_accuracy"] for a, b in zip(history_a, history_b)]
    if not gaps:
        return None
    return {"epochs": len(gaps), "largest": max(gaps, key=abs), "last": gaps[-1]}

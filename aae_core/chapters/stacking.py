"""Stacked runs beside the single runs they retrace (appendix C): a stack is only worth having if its
runs are the runs a single process would have trained, so the book compares them epoch by epoch and,
for whole runs, by their test accuracies (stacked − single, paired by run)."""
from pathlib import Path

from ..stats import paired_difference
from ..runs.folder import RunFolder


def same_epoch(a: dict, b: dict) -> bool:
    """Every mean loss and the validation accuracy of one epoch equal to the last bit."""
    keys = [key for key in a if key.startswith("loss_")] + ["val_accuracy"]
    return all(a[key] == b.get(key) for key in keys)


def retraces(stacked_root: Path, single_root: Path) -> list[dict]:
    """Each finished stacked run under `stacked_root` (labels-L/seed-S) beside the single run of the same
    label count and seed under `single_root`: how many of its epochs match the single run's bit for bit,
    and both runs' last validation accuracy; the test accuracies too where both ran as many epochs."""
    found = []
    for folder in sorted(stacked_root.glob("labels-*/seed-*")):
        stacked, single = RunFolder(folder), RunFolder(single_root / folder.parent.name / folder.name)
        if not (stacked.finished and single.finished):
            continue
        history, single_history = stacked.history(), single.history()
        summary, single_summary = stacked.summary(), single.summary()
        epochs = len(history)
        whole = epochs == len(single_history)
        found.append({
            "labels": folder.parent.name.removeprefix("labels-"), "seed": int(folder.name.removeprefix("seed-")),
            "epochs": epochs, "identical_epochs": sum(map(same_epoch, history, single_history)),
            "val": (history[-1]["val_accuracy"], single_history[epochs - 1]["val_accuracy"]),
            "test": (summary.test_accuracy, single_summary.test_accuracy) if whole else None,
            "machines": {summary.device, single_summary.device}})
    return found


def stacked_minus_single(runs: list[dict]) -> dict:
    """Stacked − single test accuracy over the whole runs, paired by run, with its 95% interval."""
    whole = [run for run in runs if run["test"] is not None]
    keyed = [{"accuracies": {(r["labels"], r["seed"]): r["test"][i] for r in whole}} for i in (0, 1)]
    return paired_difference(*keyed)

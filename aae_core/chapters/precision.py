"""fp32 against bf16 (or another precision), seed by seed: the runs that say whether a faster
precision changes what training reaches."""
from __future__ import annotations

import statistics

from ..stats import t_interval
from .tables import markdown_table


def read_precision_runs(folder, against: str = "bf16", fp32_folder=None) -> dict:
    """The pairs of fp32 and `against` runs under `folder` (<labels-L>/<precision>/seed-<S>) finished in
    both: {labels: {seed: {"fp32": RunFolder, against: RunFolder}}}, label counts and seeds in order.
    fp32_folder: the fp32 runs are there instead (<labels-L>/seed-<S>, as results/table3 holds them)."""
    from pathlib import Path

    from ..runs.folder import RunFolder

    cells = {}
    for labels_dir in Path(folder).glob("labels-*"):
        fp32_dir = labels_dir / "fp32" if fp32_folder is None else Path(fp32_folder) / labels_dir.name
        seeds = sorted(int(p.name.removeprefix("seed-")) for p in (labels_dir / against).glob("seed-*"))
        pairs = {seed: {"fp32": RunFolder(fp32_dir / f"seed-{seed}"), against: RunFolder(labels_dir / against / f"seed-{seed}")}
                 for seed in seeds}
        finished = {seed: runs for seed, runs in pairs.items() if all(run.finished for run in runs.values())}
        if finished:
            labels = labels_dir.name.removeprefix("labels-")
            cells[int(labels) if labels.isdigit() else labels] = finished
    return dict(sorted(cells.items(), key=lambda item: (isinstance(item[0], str), item[0])))


PRECISION_TOLERANCE = 0.3  # points: the margin within which a faster precision counts as the same


def seed_accuracies(seeds: dict) -> dict[str, list[float]]:
    """{precision: test accuracy of each seed} for one label count of read_precision_runs."""
    precisions = next(iter(seeds.values()))
    return {p: [runs[p].summary().test_accuracy for runs in seeds.values()] for p in precisions}


def seed_differences(accuracies: dict[str, list[float]], against: str = "bf16") -> list[float]:
    """Per seed, `against` minus fp32 test accuracy, in points (from seed_accuracies)."""
    return [b - f for f, b in zip(accuracies["fp32"], accuracies[against])]


def mean_difference(seeds: dict, against: str = "bf16") -> float:
    """Mean over the seeds of one label count of `against` minus fp32 test accuracy, in points."""
    return statistics.fmean(seed_differences(seed_accuracies(seeds), against))


def difference_interval(seeds: dict, against: str = "bf16") -> tuple[float, float] | None:
    """The 95% t-interval of the mean of `against` minus fp32 over the seeds of one label count."""
    return t_interval(seed_differences(seed_accuracies(seeds), against))


def precision_table(cells: dict, tolerance: float = PRECISION_TOLERANCE, against: str = "bf16") -> str:
    """fp32 against bf16 (or `against`), seed by seed, from read_precision_runs (finished pairs only). A
    seed's difference is `against` minus fp32 in points of test accuracy; beside their mean, its 95%
    t-interval, and what that interval allows ("the same" only when all of it lies within `tolerance`).
    No wall times: the runs shared the machine."""
    from .reproduction import interval_words, verdict_words

    def spread(values, sign=False):
        mean = f"{statistics.fmean(values):{'+' if sign else ''}.2f}"
        return f"{mean} ± {statistics.stdev(values):.2f}" if len(values) > 1 else mean

    rows = []
    for labels, seeds in cells.items():
        acc = seed_accuracies(seeds)
        diffs = seed_differences(acc, against)
        interval = difference_interval(seeds, against)
        rows.append([labels, ", ".join(map(str, seeds)), spread(acc["fp32"]), spread(acc[against]),
                     ", ".join(f"{d:+.2f}" for d in diffs), spread(diffs, sign=True),
                     interval_words(interval, sign=True), verdict_words(interval, tolerance)])
    return markdown_table(["labels", "seeds", "fp32 test accuracy", f"{against} test accuracy",
                           f"{against} − fp32 per seed", "mean difference ± std (points)",
                           "95% interval of the mean difference", f"what it says (margin {tolerance:g})"], rows)

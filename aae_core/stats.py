"""The protocol's arithmetic: 95% t-intervals of a mean, differences paired by seed, and what an
interval allows one to say against a margin. Chapter 3, the appendices and `reproduce` all use these."""
from __future__ import annotations

import statistics

# Two-sided 95% critical values of Student's t by degrees of freedom (n - 1).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         15: 2.131, 20: 2.086, 30: 2.042}


def t_interval(values: list[float]) -> tuple[float, float] | None:
    """The 95% t-interval of the mean of `values` (None for fewer than two)."""
    if len(values) < 2:
        return None
    df = len(values) - 1
    t = T_975.get(df) or T_975[max(k for k in T_975 if k <= df)]  # past the table: a slightly wider interval
    half = t * statistics.stdev(values) / len(values) ** 0.5
    mean = statistics.fmean(values)
    return mean - half, mean + half


def describe(values: dict, planned: int | None = None) -> dict:
    """A cell of a table from {seed: value}: the values, how many seeds were planned, mean, standard
    deviation and 95% t-interval (None where too few seeds give one)."""
    numbers = list(values.values())
    return {"accuracies": dict(values), "planned": planned,
            "mean": statistics.fmean(numbers) if numbers else None,
            "std": statistics.stdev(numbers) if len(numbers) > 1 else None, "interval": t_interval(numbers)}


def within(interval: tuple[float, float] | None, margin: float) -> bool:
    """"The same within `margin`" holds only when the whole interval of the difference lies inside it."""
    return interval is not None and -margin <= interval[0] and interval[1] <= margin


def interval_verdict(interval: tuple[float, float] | None, margin: float | None = None) -> str:
    """What a 95% interval of a difference allows: higher or lower only when all of it lies on one side
    of zero, the same only when all of it lies within `margin`, otherwise that the data cannot tell."""
    if interval is None:
        return "too few seeds"
    if margin is not None and within(interval, margin):
        return f"the same within {margin:g} points"
    return "higher" if interval[0] > 0 else "lower" if interval[1] < 0 else "cannot tell"


def paired_difference(chosen: dict, baseline: dict) -> dict:
    """chosen − baseline test accuracy, seed by seed over the seeds both finished, with its 95% interval."""
    seeds = sorted(set(chosen["accuracies"]) & set(baseline["accuracies"]))
    diffs = [chosen["accuracies"][s] - baseline["accuracies"][s] for s in seeds]
    planned = [cell["planned"] for cell in (chosen, baseline) if "planned" in cell]
    return {"seeds": seeds, "differences": diffs, "mean": statistics.fmean(diffs) if diffs else None,
            "interval": t_interval(diffs), "planned": min(planned) if planned else None}

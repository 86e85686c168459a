"""Table 3 as a set of ordinary `train` runs: plan them, run the missing ones, summarise.

Each cell of the table (labels x seed) is one run folder `<out>/labels-<L>/seed-<S>`, trained by
the `train` command itself, so a user can send the same commands to a cluster instead
(`reproduce --print-commands`). Finished runs are skipped, unfinished ones resumed.
"""
from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .runs import RunFolder


@dataclass(frozen=True)
class PlannedRun:
    labels: int | str
    seed: int
    folder: Path
    argv: tuple[str, ...]  # the train command, without the interpreter

    @property
    def state(self) -> str:
        """'finished', 'unfinished' (resumable) or 'missing'."""
        run = RunFolder(self.folder)
        return "finished" if run.finished else "unfinished" if run.started else "missing"

    def command(self) -> str:
        return shlex.join(["python", "-m", "aae_core", *self.argv])


def plan(labels: list, seeds: list[int], epochs: int, out: Path, train_options: list[str]) -> list[PlannedRun]:
    """One run per (labels, seed), in table order; `train_options` are passed to every run."""
    runs = []
    for n in labels:
        for seed in seeds:
            folder = out / f"labels-{n}" / f"seed-{seed}"
            argv = ("train", "--labels", str(n), "--seed", str(seed), "--epochs", str(epochs), *train_options,
                    "--out", str(folder), "--resume", "--quiet")
            runs.append(PlannedRun(n, seed, folder, argv))
    return runs


def run_all(runs: list[PlannedRun], jobs: int, log_dir: Path, report=print) -> list[PlannedRun]:
    """Run every unfinished run, `jobs` at a time (threads split between them); returns the failures."""
    todo = [run for run in runs if run.state != "finished"]
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // jobs))}
    failed, active = [], []

    def wait_for_one():
        run, proc, log = active.pop(0)
        proc.wait()
        log.close()
        if proc.returncode == 0:
            report(f"finished labels {run.labels} seed {run.seed}: test {RunFolder(run.folder).summary().test_accuracy:.2f}%")
        else:
            report(f"failed labels {run.labels} seed {run.seed} (exit {proc.returncode}); see {log.name}")
            failed.append(run)

    for run in todo:
        if len(active) >= jobs:
            wait_for_one()
        log = open(log_dir / f"labels-{run.labels}-seed-{run.seed}.log", "a")
        report(f"{'resuming' if run.state == 'unfinished' else 'starting'} labels {run.labels} seed {run.seed}: "
               f"{run.command()}")
        active.append((run, subprocess.Popen([sys.executable, "-m", "aae_core", *run.argv], stdout=log,
                                             stderr=subprocess.STDOUT, env=env), log))
    while active:
        wait_for_one()
    return failed


def summarise(runs: list[PlannedRun]) -> list[dict]:
    """Per label count: the finished seeds' test accuracies, their mean and (sample) std, and the mean
    validation accuracy of their final epochs (what a choice between presets may look at)."""
    rows = []
    for n in dict.fromkeys(run.labels for run in runs):
        summaries = {run.seed: RunFolder(run.folder).summary()
                     for run in runs if run.labels == n and run.state == "finished"}
        accuracies = {seed: summary.test_accuracy for seed, summary in summaries.items()}
        values = list(accuracies.values())
        rows.append({"labels": n, "accuracies": accuracies, "mean": statistics.fmean(values) if values else None,
                     "std": statistics.stdev(values) if len(values) > 1 else None,
                     "val_mean": statistics.fmean(s.val_accuracy for s in summaries.values()) if summaries else None,
                     "seeds_planned": sum(run.labels == n for run in runs)})
    return rows

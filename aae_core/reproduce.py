"""Table 3 as a set of ordinary `train` runs: plan them, run the missing ones, summarise; and the
protocol of the final table (its seeds, presets and interval arithmetic).

Each cell of the table (labels x seed) is one run folder `<out>/labels-<L>/seed-<S>`, planned as its
settings and trained by the `train` command rendered from them, so a user can send the same commands
to a cluster instead (`reproduce --print-commands`). Finished runs are skipped, unfinished ones resumed.
"""
from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import PAPER_LABELS, PRESETS, ModelConfig, TrainConfig
from .devices import resolve_device
from .errors import AAEError
from .options import as_options, settings_from_options
from .runs.files import make_folder, probe_writable, refuse_foreign_files
from .runs.folder import RUN_FILES, RunFolder
from .stats import describe


# The settings every planned command names, even at their defaults (the rest only where they differ).
PLANNED_SETTINGS = ("labels", "seed", "epochs", "preset", "precision", "device")


@dataclass(frozen=True)
class PlannedRun:
    folder: Path
    train_cfg: TrainConfig  # the settings of the run (what a finished folder must hold)
    model_cfg: ModelConfig = ModelConfig()
    allow_dirty: bool = False  # may train into results/ from uncommitted code

    @property
    def labels(self) -> int | str:
        return self.train_cfg.labels

    @property
    def seed(self) -> int:
        return self.train_cfg.seed

    @property
    def name(self) -> str:
        """'paper-sgd labels 100 seed 3': what the progress lines and the log's file name call the run."""
        return f"{self.train_cfg.preset} labels {self.labels} seed {self.seed}"

    @property
    def state(self) -> str:
        """'finished', 'unfinished' (resumable), 'missing', or 'other': the folder holds a run of other
        settings, which is never counted as this one."""
        run = RunFolder(self.folder)
        if not (run.finished or run.started):
            return "missing"
        if run.differs_from(self.train_cfg, self.model_cfg):
            return "other"
        return "finished" if run.finished else "unfinished"

    @property
    def argv(self) -> tuple[str, ...]:
        """The `train` command of this run, without the interpreter, rendered from its settings."""
        configs = (self.train_cfg, self.model_cfg)
        return ("train", *as_options(*configs, only=PLANNED_SETTINGS), *(["--allow-dirty"] if self.allow_dirty else []),
                *as_options(*configs, skip=PLANNED_SETTINGS), "--out", str(self.folder), "--resume", "--quiet")

    def command(self) -> str:
        return shlex.join(["python", "-m", "aae_core", *self.argv])


def plan(labels: list, seeds: list[int], epochs: int, out: Path, settings: TrainConfig | list[str] = TrainConfig(),
         model_cfg: ModelConfig = ModelConfig(), allow_dirty: bool = False) -> list[PlannedRun]:
    """One run per (labels, seed), in table order, each pair once, each of `settings` otherwise (they must be
    the settings the runs were made with: a finished folder counts only with its own). `settings` may also
    be given as `train` options, ["--preset", "adamw"]: the book's notebooks do."""
    if not isinstance(settings, TrainConfig):
        settings, model_cfg = settings_from_options(settings)
    return [PlannedRun(out / f"labels-{n}" / f"seed-{seed}", settings.with_(labels=n, seed=seed, epochs=epochs),
                       model_cfg, allow_dirty)
            for n in dict.fromkeys(labels) for seed in dict.fromkeys(seeds)]


def is_table_entry(path: Path) -> bool:
    """What reproduce writes into its --out: folders labels-N (a table), PRESET (the protocol), logs and
    jobs (a cluster's)."""
    return path.is_dir() and (path.name.startswith("labels-") or path.name in PRESETS or path.name in ("logs", "jobs"))


def check_plan(runs: list[PlannedRun], out: Path, writing: bool = True) -> None:
    """Before any run starts: every run's settings in range, no folder holding a run of other settings
    (it would be resumed into a failure, or counted under these), and, when `writing` (training here), the
    runs' device on this machine, `out` writable and no unfinished folder in use by another process (its run
    would be refused while the next ones start beside it, sharing its cores)."""
    for run in runs:
        run.train_cfg.check()
        run.model_cfg.check()
    if any((out / name).exists() for name in RUN_FILES):
        raise AAEError(f"{out} is one run's folder (train made it); reproduce writes a folder of runs "
                       "(labels-N/seed-S): choose another --out")
    refuse_foreign_files(out, (), "what reproduce writes", own=is_table_entry)  # a file as --out too
    for run in runs:
        if run.state == "other":
            differs = RunFolder(run.folder).differs_from(run.train_cfg, run.model_cfg)
            raise AAEError(f"{run.folder} holds a run of other settings ({differs}); give another --out, "
                           "or move that folder away")
    if writing:
        for device in sorted({run.train_cfg.device for run in runs}):
            resolve_device(device)  # a device this machine lacks is one line here, not a failure in every run's log
        probe_writable(out)
        for run in runs:
            if run.folder.is_dir() and run.state != "finished":
                with RunFolder(run.folder).locked():
                    pass


def run_all(runs: list[PlannedRun], jobs: int, log_dir: Path, report=print) -> list[PlannedRun]:
    """Run every unfinished run, `jobs` at a time (threads split between them); returns the failures."""
    todo = [run for run in runs if run.state != "finished"]
    make_folder(log_dir)
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // jobs))}
    failed, active = [], []

    def wait_for_one():
        run, proc, log = active.pop(0)
        proc.wait()
        log.close()
        if proc.returncode == 0:
            report(f"finished {run.name}: test {RunFolder(run.folder).summary().test_accuracy:.2f}%")
        else:
            report(f"failed {run.name} (exit {proc.returncode}); see {log.name}")
            failed.append(run)

    for run in todo:
        if len(active) >= jobs:
            wait_for_one()
        log = open(log_dir / f"{run.name.replace(' ', '-')}.log", "a")  # one log per run: presets share seeds
        report(f"{'resuming' if run.state == 'unfinished' else 'starting'} {run.name}: "
               f"{run.command()}")
        active.append((run, subprocess.Popen([sys.executable, "-m", "aae_core", *run.argv], stdout=log,
                                             stderr=subprocess.STDOUT, env=env), log))
    while active:
        wait_for_one()
    return failed


def summarise(runs: list[PlannedRun]) -> list[dict]:
    """Per label count: the finished seeds' test accuracies, their mean and (sample) std, and the mean
    validation accuracy of their final epochs (what a choice between presets may look at): `stats.describe`
    of a cell, with its label count and validation mean."""
    rows = []
    for n in dict.fromkeys(run.labels for run in runs):
        summaries = {run.seed: RunFolder(run.folder).summary()
                     for run in runs if run.labels == n and run.state == "finished"}
        accuracies = {seed: summary.test_accuracy for seed, summary in summaries.items()}
        rows.append({"labels": n, **describe(accuracies, sum(run.labels == n for run in runs)),
                     "val_mean": statistics.fmean(s.val_accuracy for s in summaries.values()) if summaries else None})
    return rows


# The protocol of the final table (appendix A.1, "The protocol"), fixed before its runs: fresh seeds never
# used in development, 50 epochs, fp32, and per label count Table 1's preset against the preset that
# development chose on validation accuracy alone (development seeds 0-2; their test numbers are not
# what the final table reports).
PROTOCOL_SEEDS = (100, 101, 102, 103, 104)
PROTOCOL_LABELS = PAPER_LABELS
PROTOCOL_EPOCHS = 50
PROTOCOL_BASELINE = "paper-sgd"
PROTOCOL_CHOSEN = {100: "sgd-labeled-noise", 1000: "sgd-early-drop", "all": "sgd-early-drop"}
PROTOCOL_OUT = Path("results/protocol")
PROTOCOL_MARGIN = 0.3  # points: "the same" only when the whole 95% interval of a difference lies within it

def protocol_plan(out: Path = PROTOCOL_OUT, labels=PROTOCOL_LABELS, seeds=PROTOCOL_SEEDS,
                  epochs: int = PROTOCOL_EPOCHS, device: str = "auto",
                  allow_dirty: bool = False) -> dict[tuple, list[PlannedRun]]:
    """{(labels, preset): the cell's runs}, `out`/<preset>/labels-<L>/seed-<S>, both presets per label count."""
    cells = {}
    for n in labels:
        for preset in dict.fromkeys((PROTOCOL_BASELINE, PROTOCOL_CHOSEN[n])):
            settings = TrainConfig(preset=preset, precision="fp32", device=device)
            cells[(n, preset)] = plan([n], list(seeds), epochs, out / preset, settings, allow_dirty=allow_dirty)
    return cells


def machine_kind(device: str, capability: str | None = None) -> str:
    """'cpu: AMD EPYC, 1 thread' and 'AVX2' -> 'cpu: AMD EPYC, AVX2': the CPU's name and, where the run
    recorded it, the instruction set its kernels used (two CPUs of one name can differ in it); threads
    change the speed, not the kind of machine."""
    name = device.split(",")[0]
    return f"{name}, {capability}" if capability else name


def protocol_cell(runs: list[PlannedRun]) -> dict:
    """One cell of the final table: per-seed test accuracies of the finished runs, mean, std, 95%
    interval, and the machine kinds and commits that made them (the protocol allows one kind, no dirty tree)."""
    summaries = {run.seed: RunFolder(run.folder).summary() for run in runs if run.state == "finished"}
    return {**describe({seed: s.test_accuracy for seed, s in summaries.items()}, len(runs)),
            "machines": sorted({machine_kind(s.device, s.cpu_capability) for s in summaries.values()}),
            "dirty": sorted(seed for seed, s in summaries.items() if s.git_commit.endswith("+dirty"))}

"""The planned runs of `reproduce` as cluster jobs, submitted with submitit (Slurm, or its local executor).

A job trains run folders exactly as `reproduce` does on one machine (`train_run`, or one stack of
them), so finished runs are skipped and unfinished ones resume from their checkpoints. What keeps
two `reproduce` commands from training a run twice is on the shared filesystem: the run folder's
lock, held by the job that trains it, and a ledger of submitted jobs (`<out>/jobs/<run>.json`) for
jobs still waiting in the queue. A run whose job is waiting or running is neither submitted again nor
counted as finished.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import submitit

from .config import EXECUTORS
from .errors import AAEError
from .reproduce import PlannedRun
from .runs.files import make_folder, probe_writable, read_json_object, write_json
from .runs.folder import RunFolder
from .runs.training import train_run
from .speed.stacked import train_stacked_runs
from .speed.updaters import fastest_updater

WAITING = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED", "UNKNOWN"}
POLL_SECONDS = 10.0


@dataclass(frozen=True)
class ClusterOptions:
    executor: str  # "slurm" or "local"
    minutes: int  # the time limit of one job
    partition: str | None = None  # Slurm only
    cpus: int = 2
    gpus: int = 0


@dataclass(frozen=True)
class TrainJob:
    """What one job runs: one planned run, or several stacked in one process (where a run that diverges
    stops alone, its diverged.json written, and the job goes on)."""

    runs: tuple[PlannedRun, ...]
    cwd: str  # where `reproduce` was run: the planned folders are relative to it
    allow_dirty: bool = False

    def __call__(self) -> list[float]:
        say = lambda line: print(line, flush=True)  # noqa: E731  (the job's log)
        os.chdir(self.cwd)
        runs = self.runs
        if len(runs) == 1:
            summaries = [train_run(runs[0].folder, runs[0].train_cfg, runs[0].model_cfg, resume=True, progress=False,
                                   updater=fastest_updater, report=say, allow_dirty=self.allow_dirty)]
        else:
            summaries = train_stacked_runs([run.folder for run in runs], [run.train_cfg for run in runs],
                                           runs[0].model_cfg, resume=True, report=say, allow_dirty=self.allow_dirty)
        return [summary.test_accuracy if summary else None for summary in summaries]  # None: diverged


def make_executor(options: ClusterOptions, folder: Path) -> submitit.Executor:
    if options.executor == "local":
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=options.minutes, gpus_per_node=options.gpus)
    else:
        executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
        executor.update_parameters(timeout_min=options.minutes, cpus_per_task=options.cpus,
                                   gpus_per_node=options.gpus, slurm_partition=options.partition,
                                   name="aae-reproduce")
    return executor


def ledger_path(out: Path, run: PlannedRun) -> Path:
    return out / "jobs" / f"{run.name.replace(' ', '-')}.json"


def job_waiting(entry: dict) -> bool:
    """Is the job of a ledger entry still queued or running? Asked of Slurm, or of the local process."""
    if entry.get("executor") == "local":
        try:
            os.kill(int(entry["job_id"]), 0)
        except (OSError, ValueError):
            return False
        return True
    try:
        return submitit.SlurmJob(entry["folder"], str(entry["job_id"])).state.split()[0] in WAITING
    except Exception:  # no sacct here, a purged job: it cannot be waiting for us
        return False


def in_flight(run: PlannedRun, out: Path) -> bool:
    """The run is being trained (its folder's lock is held) or its job is still queued."""
    folder = RunFolder(run.folder)
    if folder.lock_path.exists():
        try:
            with folder.locked():
                pass
        except AAEError:
            return True
    path = ledger_path(out, run)
    return path.exists() and job_waiting(read_json_object(path, "a job ledger entry"))


def submit(groups: list[list[PlannedRun]], options: ClusterOptions, out: Path, allow_dirty: bool, report) -> list:
    """Submit one job per group of planned runs (a run, or a stack); each run's ledger entry names its job."""
    folder = out / "jobs" / "submitit"
    make_folder(folder)
    executor = make_executor(options, folder)
    jobs = []
    for group in groups:
        job = executor.submit(TrainJob(tuple(group), os.getcwd(), allow_dirty))
        for run in group:
            write_json(ledger_path(out, run), {"executor": options.executor, "job_id": job.job_id,
                                               "folder": str(folder), "submitted": time.strftime("%Y-%m-%dT%H:%M:%S")})
        report(f"submitted {', '.join(run.name for run in group)}: {options.executor} job {job.job_id}")
        jobs.append((group, job))
    return jobs


def run_on_cluster(runs: list[PlannedRun], options: ClusterOptions, out: Path, stack: int | None, allow_dirty: bool,
                   wait: bool, report=print) -> list[PlannedRun]:
    """Submit every unfinished run that no job holds (`stack` runs a job, stacked), then, with `wait`, wait for
    every unfinished run of the plan, this command's jobs and earlier ones alike. Returns the failed runs."""
    if options.executor not in EXECUTORS:
        raise AAEError(f"unknown executor {options.executor!r}; choose from {', '.join(EXECUTORS)}")
    if options.minutes < 1:
        raise AAEError("--slurm-time must be a positive number of minutes")
    if options.executor == "slurm" and shutil.which("srun") is None:  # submitit's own test for Slurm
        raise AAEError("--executor slurm needs Slurm's commands (srun) on the PATH, and this machine has none; "
                       "run it where Slurm is, or try --executor local")
    probe_writable(out)
    todo = [run for run in runs if run.state != "finished"]
    waiting = [run for run in todo if in_flight(run, out)]
    fresh = [run for run in todo if run not in waiting]
    size = stack or 1
    jobs = submit([fresh[i:i + size] for i in range(0, len(fresh), size)], options, out, allow_dirty, report)
    report(f"{len(runs) - len(todo)} finished, {len(waiting)} already queued or running, {len(fresh)} submitted")
    if not wait:
        return []
    failed = []
    for group, job in jobs:
        try:
            accuracies = job.result()
        except Exception as err:  # the job's own traceback is in its log
            report(f"failed {', '.join(run.name for run in group)} ({type(err).__name__}); see {job.paths.stderr}")
            failed += group
            continue
        failed += [run for run, accuracy in zip(group, accuracies) if accuracy is None]  # diverged in a stack
    while any(in_flight(run, out) for run in waiting):
        time.sleep(POLL_SECONDS)
    failed += [run for run in waiting if run.state != "finished"]
    return failed

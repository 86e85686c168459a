"""reproduce --executor: the planned runs as submitit jobs. The local executor takes the same code path
as Slurm's (a pickled job that trains the run folders), so these tests train tiny runs through it."""
from __future__ import annotations

import json
import os

import pytest

from aae_core.runs.folder import RunFolder
from test_cli import assert_one_line_error, cli

TINY = ["reproduce", "--labels", "100", "--seeds", "0", "1", "--epochs", "1", "--unlabeled", "200",
        "--executor", "local", "--slurm-time", "10"]


def test_local_jobs_train_the_plan_and_a_second_reproduce_skips_them(tmp_path):
    out = tmp_path / "table"
    first = cli(*TINY, "--out", out, env={"OMP_NUM_THREADS": "1"}, check=True)
    assert "0 finished, 0 already queued or running, 2 submitted" in first.stdout
    for seed in (0, 1):
        assert RunFolder(out / "labels-100" / f"seed-{seed}").finished
        assert json.loads((out / "jobs" / f"paper-sgd-labels-100-seed-{seed}.json").read_text())["executor"] == "local"
    again = cli(*TINY, "--out", out, check=True)
    assert "2 finished, 0 already queued or running, 0 submitted" in again.stdout
    assert "| 100 |" in again.stdout and "(2 seeds)" in again.stdout


def test_a_run_whose_job_is_queued_is_neither_submitted_again_nor_counted(tmp_path):
    """A ledger entry of a job still alive (here: this test's own process) stands for a queued job."""
    out = tmp_path / "table"
    for seed in (0, 1):
        ledger = out / "jobs" / f"paper-sgd-labels-100-seed-{seed}.json"
        ledger.parent.mkdir(parents=True, exist_ok=True)
        ledger.write_text(json.dumps({"executor": "local", "job_id": str(os.getpid()), "folder": str(tmp_path)}))
    result = cli(*TINY, "--out", out, "--no-wait", check=True)
    assert "0 finished, 2 already queued or running, 0 submitted" in result.stdout
    assert not (out / "labels-100").exists()


def test_no_wait_needs_an_executor(tmp_path):
    assert_one_line_error(cli("reproduce", "--labels", "100", "--seeds", "0", "--no-wait", "--out", tmp_path),
                          "--no-wait", "--executor")


def test_a_jobs_resources_below_one_are_one_line(tmp_path):
    for option, value in (("--slurm-time", "-1"), ("--slurm-cpus", "0"), ("--slurm-gpus", "-1")):
        result = cli("reproduce", "--executor", "local", option, value, "--print-commands", "--out", tmp_path / "t")
        assert_one_line_error(result, option, value)
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("args,words", [
    (["--slurm-time", "10"], ["--slurm-time", "--executor"]),
    (["--executor", "local", "--slurm-cpus", "4"], ["--slurm-cpus", "slurm, not local"]),
    (["--executor", "local", "--jobs", "2"], ["--jobs", "--executor"]),
    (["--stack", "2", "--jobs", "2"], ["--jobs", "--stack"]),
])
def test_options_that_nothing_would_use_are_one_line(tmp_path, args, words):
    assert_one_line_error(cli("reproduce", "--labels", "100", "--seeds", "0", *args, "--out", tmp_path / "t"), *words)
    assert not (tmp_path / "t").exists()


def test_slurm_where_there_is_none_is_one_line_and_writes_nothing(tmp_path):
    result = cli("reproduce", "--labels", "100", "--seeds", "0", "--executor", "slurm", "--out", tmp_path / "t",
                 env={"PATH": str(tmp_path)})  # no srun on it
    assert_one_line_error(result, "srun", "--executor local")
    assert not (tmp_path / "t").exists()

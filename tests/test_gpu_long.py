"""tools/gpu_long.py, the long runs' GPU command: sized before any training, packed within what comes
back from the device (8 files of 16 MiB, 64 MiB in all), and resumable from its packed state. Its
dry run takes the same code path on the CPU (a tiny model, one epoch)."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from aae_core.errors import AAEError
from aae_core.runs.folder import RunFolder
from aae_core.speed.budget import PLANS, StepTimes, size_plan
from conftest import ROOT

spec = importlib.util.spec_from_file_location("gpu_long", ROOT / "tools" / "gpu_long.py")
gpu_long = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_long)

STEPS = 500  # an epoch of the full pool
GPU_LIKE = StepTimes(one=1.0e-3, runs=5, many=1.5e-3, validation=5e-3)  # seconds


def test_a_plan_that_fits_is_trained_whole():
    sizing = size_plan(PLANS["a"], GPU_LIKE, STEPS, budget_s=8 * 60)
    assert len(sizing.runs) == 5 and sizing.continue_epochs is None and not sizing.left
    assert sizing.seconds <= 8 * 60 * 0.85 and "fits 5 of 5 runs" in sizing.said


def test_a_plan_too_large_is_cut_to_the_stack_that_finishes():
    sizing = size_plan(PLANS["a"], GPU_LIKE, STEPS, budget_s=9 * 60 * 0.6)
    assert 1 <= len(sizing.runs) < 5 and len(sizing.left) == 5 - len(sizing.runs)
    assert sizing.seconds <= 9 * 60 * 0.6 * 0.85 and "left for a later command" in sizing.said


def test_where_no_run_finishes_one_goes_on_alone_and_is_resumable():
    slow = StepTimes(one=0.1, runs=5, many=0.4, validation=0.5)  # a CPU: about 50 s an epoch
    sizing = size_plan(PLANS["a"], slow, STEPS, budget_s=10 * 60)
    assert len(sizing.runs) == 1 and 1 <= sizing.continue_epochs < 500 and "checkpoint kept" in sizing.said
    later = size_plan(PLANS["a"], slow, STEPS, budget_s=10 * 60, first_done=sizing.continue_epochs)
    assert later.continue_epochs == 2 * sizing.continue_epochs


def test_a_budget_that_fits_not_one_epoch_is_refused_in_one_line():
    with pytest.raises(AAEError, match="fits not one epoch") as refused:
        size_plan(PLANS["a"], StepTimes(one=1.0, runs=5, many=2.0, validation=1.0), STEPS, budget_s=60)
    assert "\n" not in str(refused.value)


def returned_files_fit(out) -> None:
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8 and all(p.stat().st_size <= 16 << 20 for p in files)
    assert sum(p.stat().st_size for p in files) <= 64 << 20


def test_the_dry_run_writes_every_run_within_the_limits_and_unpacks(tmp_path):
    out, back = tmp_path / "out", tmp_path / "back"
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    subprocess.run(["bash", "tools/gpu_long.sh", "dry-run", str(out)], cwd=ROOT, env=env, check=True, timeout=300)
    returned_files_fit(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["runs"].values()) == {"finished"} and len(manifest["runs"]) == 5 and not manifest["left_out"]
    subprocess.run([sys.executable, "tools/gpu_long.py", "unpack", str(out), str(back)], cwd=ROOT, check=True)
    for name in manifest["runs"]:
        run = RunFolder(back / name)
        assert run.finished and (back / name / "model.pt").exists()
        assert "test_accuracy" in run.history()[-1] and "val_accuracy" in run.history()[-1]  # the milestone line
    unpack = [sys.executable, "tools/gpu_long.py", "unpack", str(out), str(back)]
    assert subprocess.run(unpack, cwd=ROOT, capture_output=True).returncode == 0  # the same state again: fine
    one = back / next(iter(manifest["runs"]))
    config = json.loads((one / "config.json").read_text())
    (one / "config.json").write_text(json.dumps({**config, "fingerprint": "another run"}))
    before = {path: path.read_bytes() for path in back.rglob("*") if path.is_file()}
    refused = subprocess.run(unpack, cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "another run" in refused.stderr
    assert {path: path.read_bytes() for path in back.rglob("*") if path.is_file()} == before  # nothing replaced


@pytest.mark.parametrize("argv, said", [
    (["run", "--plan", "a", "--budget", "nan", "--out", "OUT", "--dry-run"], "above 0"),
    (["run", "--plan", "a", "--budget", "inf", "--out", "OUT", "--dry-run"], "above 0"),
    (["run", "--plan", "a", "--budget", "1", "--out", "A_FILE", "--dry-run"], "is a file, not a folder"),
    (["unpack", "NOWHERE", "BACK"], "no runs.tar.gz"),
    (["unpack", "A_FILE", "BACK"], "no runs.tar.gz")])
def test_bad_input_is_refused_before_any_work_with_no_traceback(tmp_path, argv, said):
    places = {"OUT": tmp_path / "out", "A_FILE": tmp_path / "a-file", "NOWHERE": tmp_path / "nowhere",
              "BACK": tmp_path / "back"}
    places["A_FILE"].write_text("mine")
    result = subprocess.run([sys.executable, "tools/gpu_long.py", *[str(places.get(a, a)) for a in argv]], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and said in result.stderr and "Traceback" not in result.stderr
    assert not places["OUT"].exists() and not places["BACK"].exists() and places["A_FILE"].read_text() == "mine"


def test_a_run_stopped_at_the_budget_resumes_from_its_packed_state_to_the_uninterrupted_history(tmp_path):
    args = ["train", "--labels", "100", "--unlabeled", "3000", "--batch-size", "50", "--epochs", "3",
            "--milestones", "1", "3", "--quiet"]
    straight, stopped, back = tmp_path / "runs" / "straight", tmp_path / "runs" / "stopped", tmp_path / "back"
    subprocess.run([sys.executable, "-m", "aae_core", *args, "--out", str(straight)], cwd=ROOT, check=True)
    proc = subprocess.Popen([sys.executable, "-m", "aae_core", *args, "--out", str(stopped)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=gpu_long.hear_sigint)
    deadline = time.time() + 300
    while len(RunFolder(stopped).history()) < 1 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # as the GPU command stops a run at its budget's end
    proc.wait()
    assert not RunFolder(stopped).finished and RunFolder(stopped).started

    out = tmp_path / "out"
    out.mkdir()
    packed = gpu_long.pack(tmp_path / "runs", [stopped], out, keep_checkpoint=stopped / "checkpoint.pt")
    assert packed["shipped"] == ["stopped/checkpoint.pt"]
    returned_files_fit(out)
    gpu_long.unpack(type("Args", (), {"files": str(out), "dest": str(back)}))
    subprocess.run([sys.executable, "-m", "aae_core", *args, "--out", str(back / "stopped"), "--resume"], cwd=ROOT,
                   check=True)
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(RunFolder(back / "stopped").history()) == strip(RunFolder(straight).history())

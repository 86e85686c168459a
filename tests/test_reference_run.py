"""A short run of the `train` command gives, bit for bit, the history and test accuracy stored for this
kind of CPU: moving code around the package must not move a number. Runs are bit-identical only on one
machine kind (appendix C), so the references are stored per CPU model and the instruction set torch's
kernels use on it (two CPUs of one name can differ in it); a CPU with none is skipped.

Record a reference on a new kind of machine (from a commit whose numbers you trust):
    AAE_RECORD_REFERENCE=1 python -m pytest tests/test_reference_run.py
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aae_core.devices import cpu_capability, cpu_name

REFERENCES = Path(__file__).parent / "reference"
RUNS = {  # name -> train options (a 600-image pool: 6 steps an epoch, the full-size model)
    "paper-sgd": ["--preset", "paper-sgd"],
    "adamw": ["--preset", "adamw"],
    "bf16": ["--precision", "bf16"],
}


def reference_path() -> Path:
    """tests/reference/<cpu name>-<instruction set>.json, e.g. amd-epyc-avx2.json."""
    return REFERENCES / (re.sub(r"[^a-z0-9]+", "-", f"{cpu_name()} {cpu_capability()}".lower()).strip("-") + ".json")


def short_run(tmp_path: Path, options: list[str]) -> dict:
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "aae_core", "train", "--labels", "100", "--unlabeled", "600", "--epochs", "2",
                    "--seed", "3", "--device", "cpu", "--quiet", "--out", str(out), *options],
                   check=True, env=env, capture_output=True)
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    for record in history:
        record.pop("seconds")
    return {"history": history, "test_accuracy": json.loads((out / "summary.json").read_text())["test_accuracy"]}


@pytest.mark.parametrize("name", RUNS)
def test_a_short_run_is_bit_for_bit_the_stored_reference(tmp_path, name):
    path = reference_path()
    if os.environ.get("AAE_RECORD_REFERENCE"):
        stored = (json.loads(path.read_text()) if path.exists()
                  else {"cpu": cpu_name(), "cpu_capability": cpu_capability(), "runs": {}})
        stored["runs"][name] = short_run(tmp_path, RUNS[name])
        path.write_text(json.dumps(stored, indent=1) + "\n")
        return
    if not path.exists() or name not in json.loads(path.read_text())["runs"]:
        pytest.skip(f"no reference run stored for this CPU ({cpu_name()}, {cpu_capability()})")
    assert short_run(tmp_path, RUNS[name]) == json.loads(path.read_text())["runs"][name]


@pytest.mark.parametrize("name", ["paper-sgd", "bf16"])
def test_milestones_change_no_bit_of_the_reference_run(tmp_path, name):
    """--milestones only adds the test accuracy to the milestone epochs' lines: without those keys the
    history is the stored reference, bit for bit; the last milestone's test accuracy is the summary's."""
    path = reference_path()
    if not path.exists() or name not in json.loads(path.read_text())["runs"]:
        pytest.skip(f"no reference run stored for this CPU ({cpu_name()}, {cpu_capability()})")
    run = short_run(tmp_path, [*RUNS[name], "--milestones", "1", "2"])
    assert all("test_accuracy" in record and "val_accuracy" in record for record in run["history"])
    assert run["history"][-1]["test_accuracy"] == run["test_accuracy"]
    for record in run["history"]:
        assert 0 <= record.pop("test_accuracy") <= 100
    assert run == json.loads(path.read_text())["runs"][name]

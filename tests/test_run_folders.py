"""Run folders that cannot lie: one writer at a time, files tied to their run by a fingerprint, checks
before the work, and faults that end in one line with the last good checkpoint intact.

Most cases run the command line in this process (MNIST from the session fixture), so that each takes a
second or two; the lock and the full disk are tried with real processes."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aae_core.cli import main
from aae_core.config import ModelConfig, TrainConfig
from aae_core.runs.folder import RunFolder
from aae_core.runs.records import fingerprint
from conftest import ROOT
from test_cli import assert_one_line_error, cli

QUICK = ["--labels", "100", "--unlabeled", "200", "--quiet"]  # 2 steps an epoch


class Result:
    """What a command line left: exit status, stdout, stderr (the shape of subprocess.run's result)."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run_cli(capsys, monkeypatch, mnist):
    """`python -m aae_core ...` in this process: MNIST is the session's, a traceback fails the test."""
    monkeypatch.setattr("aae_core.data.load_mnist", lambda root=None: mnist)

    def run(*args) -> Result:
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit:  # argparse
            code = exit.code
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A finished 2-epoch run, made once; tests copy it before they change anything."""
    out = tmp_path_factory.mktemp("runs") / "two-epochs"
    cli("train", *QUICK, "--epochs", "2", "--out", out, check=True)
    return out


def copy_run(source: Path, target: Path, unfinished: bool = False) -> Path:
    shutil.copytree(source, target)
    if unfinished:  # the checkpoint of the last epoch, as a run killed before its summary
        for name in ("summary.json", "model.pt"):
            (target / name).unlink()
    return target


# ----------------------------------------------------------------- one writer at a time
def test_a_second_writer_stops_at_once_naming_the_holder(tmp_path, run_cli):
    out = tmp_path / "run"
    args = ["train", "--labels", "100", "--unlabeled", "1000", "--batch-size", "50", "--epochs", "2", "--quiet"]
    first = subprocess.Popen([sys.executable, "-m", "aae_core", *args, "--out", str(out)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out / ".lock").exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    second = run_cli(*args, "--seed", "1", "--out", out, "--resume")  # in this process: at the lock in a second
    assert_one_line_error(second, "in use", f"pid {first.pid}")
    assert first.wait() == 0, first.stderr.read()
    run = RunFolder(out)  # the folder holds the first run, whole
    assert run.summary().seed == 0 and run.summary().fingerprint == run.fingerprint()
    assert not (out / ".lock").exists()


def test_reproduce_plans_each_run_once():
    from aae_core.reproduce import plan

    runs = plan([100, 100, "all"], [0, 0, 1], 1, Path("table"))
    assert [(run.labels, run.seed) for run in runs] == [(100, 0), (100, 1), ("all", 0), ("all", 1)]


# ----------------------------------------------------------------- fingerprints and epochs
def test_the_fingerprint_leaves_out_device_and_epochs_and_defaults():
    base = fingerprint(TrainConfig(), ModelConfig())
    assert fingerprint(TrainConfig(device="cpu", epochs=500), ModelConfig()) == base
    assert fingerprint(TrainConfig(prior_std=1), ModelConfig()) == base  # 1 is 1.0
    assert fingerprint(TrainConfig(seed=1), ModelConfig()) != base
    assert fingerprint(TrainConfig(), ModelConfig(init_std=0.0)) != base


def test_a_run_stored_without_a_fingerprint_resumes_and_is_finished(tmp_path, two_epochs, run_cli):
    """Runs made before fingerprints existed: the fingerprint is computed from config.json."""
    old = copy_run(two_epochs, tmp_path / "old")
    for name in ("config.json", "summary.json"):
        data = json.loads((old / name).read_text())
        del data["fingerprint"]
        (old / name).write_text(json.dumps(data))
    state = torch.load(old / "checkpoint.pt", weights_only=True)
    del state["fingerprint"], state["settings"]
    torch.save(state, old / "checkpoint.pt")
    again = run_cli("train", *QUICK, "--epochs", "2", "--resume", "--out", old)
    assert again.returncode == 0 and "already finished" in again.stdout
    (old / "summary.json").unlink()
    assert run_cli("train", *QUICK, "--epochs", "3", "--resume", "--out", old).returncode == 0
    assert RunFolder(old).summary().epochs == 3


@pytest.mark.parametrize("how", ["--resume", "--continue-from"])
def test_fewer_epochs_than_the_checkpoint_are_refused(tmp_path, two_epochs, run_cli, how):
    if how == "--resume":
        out = copy_run(two_epochs, tmp_path / "run", unfinished=True)
        args = ["--resume", "--out", out]
    else:
        out = tmp_path / "continued"
        args = ["--continue-from", two_epochs, "--out", out]
    before = files(out) if out.exists() else None
    result = run_cli("train", *QUICK, "--epochs", "1", *args)
    said = ("2 epochs already", "--epochs 1") if how == "--resume" else ("already 2 epochs in", "--epochs 3 or more")
    assert_one_line_error(result, *said)
    assert (files(out) if out.exists() else None) == before


def test_a_checkpoint_of_another_run_is_refused(tmp_path, two_epochs, run_cli):
    out = tmp_path / "seed-1"
    assert run_cli("train", *QUICK, "--epochs", "1", "--seed", "1", "--out", out).returncode == 0
    for name in ("summary.json", "model.pt"):
        (out / name).unlink()
    shutil.copyfile(two_epochs / "checkpoint.pt", out / "checkpoint.pt")  # seed 0's
    before = files(out)
    assert_one_line_error(run_cli("train", *QUICK, "--epochs", "3", "--seed", "1", "--resume", "--out", out),
                          "checkpoint.pt", "seed 0 -> 1")
    assert files(out) == before


def test_a_summary_of_another_run_is_not_counted_as_finished(tmp_path, two_epochs):
    from aae_core.reproduce import plan

    out = tmp_path / "table"
    copy_run(two_epochs, out / "labels-100" / "seed-0")
    [run] = plan([100], [0], 2, out, TrainConfig(unlabeled=200))
    assert run.state == "finished"
    summary = out / "labels-100" / "seed-0" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "fingerprint": "0123456789abcdef"}))
    assert run.state == "other"


def test_edited_settings_are_refused(tmp_path, two_epochs, run_cli):
    out = copy_run(two_epochs, tmp_path / "run", unfinished=True)
    config = json.loads((out / "config.json").read_text())
    config["train"]["seed"] = 5
    (out / "config.json").write_text(json.dumps(config))
    assert_one_line_error(run_cli("train", *QUICK, "--epochs", "3", "--seed", "5", "--resume", "--out", out),
                          "config.json", "fingerprint")


# ----------------------------------------------------------------- never into someone else's folder
@pytest.mark.parametrize("theirs", [{"notes.txt": "mine"}, {"config.json": '{"model": "DigitCNN"}'},
                                    {"config.json": "[1, 2]", "model.pt": "weights"}])
def test_out_must_be_new_empty_or_a_run_folder(tmp_path, run_cli, theirs):
    out = tmp_path / "theirs"
    out.mkdir()
    for name, text in theirs.items():
        (out / name).write_text(text)
    for force in ([], ["--force"]):
        result = run_cli("train", *QUICK, "--epochs", "1", *force, "--out", out)
        assert_one_line_error(result, str(out))
    assert {p.name: p.read_text() for p in out.iterdir()} == theirs


def test_export_decoder_needs_force_to_overwrite(tmp_path, two_epochs, run_cli):
    out = tmp_path / "decoder"
    assert run_cli("export-decoder", two_epochs, "--out", out).returncode == 0
    (out / "manifest.json").write_text("{}")
    assert_one_line_error(run_cli("export-decoder", two_epochs, "--out", out), "exists", "--force")
    assert (out / "manifest.json").read_text() == "{}"
    assert run_cli("export-decoder", two_epochs, "--out", out, "--force").returncode == 0
    assert (out / "manifest.json").read_text() != "{}"


# ----------------------------------------------------------------- malformed and foreign files
@pytest.mark.parametrize("name,text", [("summary.json", "[1, 2"), ("summary.json", '{"test_accuracy": "x"}'),
                                       ("config.json", "[]"), ("config.json", '{"train": {"seed": "zero"}}')])
def test_malformed_run_files_are_one_line(tmp_path, two_epochs, run_cli, name, text):
    out = copy_run(two_epochs, tmp_path / "run")
    (out / name).write_text(text)
    before = files(out)
    assert_one_line_error(run_cli("train", *QUICK, "--epochs", "2", "--resume", "--out", out), name)
    assert files(out) == before


def test_a_malformed_history_is_rewritten_from_the_checkpoint(tmp_path, two_epochs, run_cli):
    out = copy_run(two_epochs, tmp_path / "run", unfinished=True)
    (out / "history.jsonl").write_text('{"epoch": 1}\nnot json\n')
    assert run_cli("train", *QUICK, "--epochs", "3", "--resume", "--out", out).returncode == 0
    assert [r["epoch"] for r in RunFolder(out).history()] == [1, 2, 3]
    (out / "history.jsonl").write_text("[]\n")
    with pytest.raises(Exception, match="line 1"):
        RunFolder(out).history()


@pytest.mark.parametrize("payload,words", [
    (torch.zeros(3), ["no model weights"]),
    ({"model_config": {"hidden_dim": -5}, "state_dict": {}}, ["hidden_dim"]),
    ({"model_config": {"hidden_dim": 10**6}, "state_dict": {"x": torch.zeros(1)}}, ["do not fit"]),  # 31 GB if built
    ({"state_dict": {"features.0.weight": torch.zeros(1)}}, ["model_config", "classifier"]),  # the judge's model.pt
])
def test_crafted_model_files_are_one_line(tmp_path, run_cli, payload, words):
    path = tmp_path / "model.pt"
    torch.save(payload, path)
    assert_one_line_error(run_cli("evaluate", path), *words)
    assert_one_line_error(run_cli("export-decoder", path, "--out", tmp_path / "decoder"), *words)


def test_continue_from_a_source_without_history(tmp_path, two_epochs, run_cli):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("config.json", "checkpoint.pt"):
        shutil.copyfile(two_epochs / name, source / name)
    out = tmp_path / "continued"
    assert run_cli("train", *QUICK, "--epochs", "3", "--continue-from", source, "--out", out).returncode == 0
    assert [r["epoch"] for r in RunFolder(out).history()] == [1, 2, 3]


def test_an_orphaned_temporary_file_is_cleaned_on_the_next_start(tmp_path, two_epochs, run_cli):
    out = copy_run(two_epochs, tmp_path / "run", unfinished=True)
    (out / ".checkpoint.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    assert run_cli("train", *QUICK, "--epochs", "2", "--resume", "--out", out).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(["config.json", "history.jsonl", "checkpoint.pt",
                                                            "summary.json", "model.pt"])


# ----------------------------------------------------------------- outputs checked before the work
def test_unwritable_outputs_fail_before_the_work(tmp_path, run_cli):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    started = time.perf_counter()
    assert_one_line_error(run_cli("agreement", tmp_path / "no-run", "--classifier", tmp_path / "no-judge",
                                  "--out", blocker / "agreement.json"), str(blocker))
    assert_one_line_error(run_cli("bench", "--steps", "1000", "--out", blocker / "bench.json"), str(blocker))
    assert_one_line_error(run_cli("reproduce", "--labels", "10", "--seeds", "0", "--epochs", "1",
                                  "--out", blocker), str(blocker))
    assert_one_line_error(run_cli("classifier", "--out", blocker / "judge"), str(blocker))
    assert time.perf_counter() - started < 30  # no timing, training or judging happened first
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("args,words", [
    (["agreement", "run", "--classifier", "judge", "--out", "a.json", "--samples", "100000000"], ["--samples"]),
    (["agreement", "run", "--classifier", "judge", "--out", "a.json", "--seed", str(2**63)], ["--seed"]),
    (["bench", "--batch-size", "100000"], ["batch size", "2,000"]),
    (["classifier", "--out", "judge", "--seed", "-1"], ["--seed"]),
    (["reproduce", "--labels", "10", "--unlabeled", "0", "--out", "table"], ["unlabeled", "0"]),
    (["reproduce", "--labels", "10", "--seeds", str(2**63), "--out", "table"], ["seed"]),
])
def test_sizes_and_seeds_of_the_other_commands_are_checked(tmp_path, run_cli, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run_cli(*args), *words)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- faults end in one line
def test_a_failing_write_keeps_the_last_good_checkpoint(tmp_path, run_cli, monkeypatch):
    real_save, saves = torch.save, []

    def save_failing_the_second_time(obj, path, *args, **kwargs):
        saves.append(path)
        if len(saves) == 2:  # the checkpoint of epoch 2: half written, then the disk is full
            Path(path).write_bytes(b"half")
            raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_failing_the_second_time)
    out = tmp_path / "run"
    assert_one_line_error(run_cli("train", *QUICK, "--epochs", "3", "--out", out), "checkpoint.pt", "unchanged")
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "history.jsonl"]

    monkeypatch.setattr(torch, "save", real_save)

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", no_space)  # config.json is the first file written
    assert_one_line_error(run_cli("train", *QUICK, "--epochs", "1", "--out", tmp_path / "other"),
                          "config.json", "No space left")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root")
def test_a_full_disk_keeps_the_last_good_checkpoint(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    # One checkpoint of the full-size model (60 MB) fits; the temporary file of the second does not.
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100m", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        result = cli("train", *QUICK, "--epochs", "3", "--out", disk / "run")
        assert_one_line_error(result, "checkpoint.pt", "No space left on device")
        assert torch.load(disk / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 1
        assert sorted(p.name for p in (disk / "run").iterdir()) == ["checkpoint.pt", "config.json", "history.jsonl"]
    finally:
        subprocess.run(["umount", str(disk)])


# ----------------------------------------------------------------- what a hostile pass found
def test_a_finished_checkpoint_with_a_broken_history_line_resumes_to_a_history_that_parses(tmp_path, two_epochs,
                                                                                            run_cli):
    """Killed after the last epoch's checkpoint, while history.jsonl was half written: --resume has no epoch
    left to train, writes the summary, and the history is the checkpoint's own again."""
    out = copy_run(two_epochs, tmp_path / "run", unfinished=True)
    good = (out / "history.jsonl").read_text()
    (out / "history.jsonl").write_text(good + '{"epoch": 3, "loss_re')
    assert run_cli("train", *QUICK, "--epochs", "2", "--resume", "--out", out).returncode == 0
    assert (out / "history.jsonl").read_text() == good and RunFolder(out).finished


def test_evaluate_refuses_another_runs_weights(tmp_path, two_epochs, run_cli):
    other = tmp_path / "other"
    assert run_cli("train", *QUICK, "--epochs", "1", "--seed", "5", "--out", other).returncode == 0
    out = copy_run(two_epochs, tmp_path / "run")
    shutil.copy(other / "model.pt", out / "model.pt")
    assert_one_line_error(run_cli("evaluate", out), "another run", "model.pt")


def test_evaluate_compares_weights_without_a_fingerprint_with_the_summary(tmp_path, two_epochs, run_cli):
    """A model.pt saved before weights carried their run's fingerprint is checked by the accuracy it gives."""
    out = copy_run(two_epochs, tmp_path / "run")
    payload = torch.load(out / "model.pt", weights_only=True)
    payload.pop("fingerprint")
    torch.save(payload, out / "model.pt")
    assert run_cli("evaluate", out).returncode == 0  # its own weights: the summary's accuracy
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, "test_accuracy": summary["test_accuracy"] - 5}))
    assert_one_line_error(run_cli("evaluate", out), "summary.json says", "not this run's")


def test_resume_of_a_finished_run_with_a_truncated_model_remakes_or_refuses(tmp_path, two_epochs, run_cli):
    out = copy_run(two_epochs, tmp_path / "run")
    good = (out / "model.pt").read_bytes()
    (out / "model.pt").write_bytes(good[: len(good) // 2])
    result = run_cli("train", *QUICK, "--epochs", "2", "--resume", "--out", out)
    assert result.returncode == 0 and "remade from checkpoint.pt" in result.stdout
    assert run_cli("evaluate", out).returncode == 0
    (out / "model.pt").write_bytes(good[: len(good) // 2])
    (out / "checkpoint.pt").unlink()
    assert_one_line_error(run_cli("train", *QUICK, "--epochs", "2", "--resume", "--out", out), "--force")
    assert (out / "summary.json").exists()


def test_resume_with_force_is_refused_and_the_run_kept(tmp_path, two_epochs, run_cli):
    """--force deletes the run to start over, --resume goes on with it: the pair is a mistake."""
    out = copy_run(two_epochs, tmp_path / "run")
    before = files(out)
    assert_one_line_error(run_cli("train", *QUICK, "--epochs", "2", "--resume", "--force", "--out", out),
                          "--resume", "--force")
    assert files(out) == before


def test_resume_of_a_folder_that_does_not_exist_says_it_starts_a_new_run(tmp_path, run_cli):
    result = run_cli("train", *QUICK, "--epochs", "1", "--resume", "--out", tmp_path / "new")
    assert result.returncode == 0 and "no run there to resume; starting a new one" in result.stdout


@pytest.mark.parametrize("epochs", ["99999999999999999999", "100001"])
def test_epochs_have_an_upper_bound(tmp_path, run_cli, epochs):
    assert_one_line_error(run_cli("train", *QUICK, "--epochs", epochs, "--out", tmp_path / "run"), "epochs", "100,000")
    assert not (tmp_path / "run").exists()

"""The command line as a user meets it: real subprocesses, exit codes, one-line errors, resume."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import aae_core
from aae_core.options import all_or_int, at_least, whole
from aae_core.runs.folder import RunFolder
from conftest import ROOT, weights_equal

QUICK = ["--labels", "100", "--unlabeled", "400", "--batch-size", "50", "--quiet"]  # 8 steps per epoch


def cli(*args, env=None, check=False, cwd=ROOT):
    result = subprocess.run([sys.executable, "-m", "aae_core", *map(str, args)], cwd=cwd, capture_output=True,
                            text=True, env={**os.environ, **(env or {})}, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def assert_one_line_error(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "finished"
    cli("train", *QUICK, "--epochs", "2", "--out", out, check=True)
    return out


def test_reproduce_never_writes_into_one_runs_folder(finished_run):
    before = sorted(path.name for path in finished_run.iterdir())
    result = cli("reproduce", "--labels", "100", "--seeds", "0", "--epochs", "1", "--out", finished_run)
    assert_one_line_error(result, "one run's folder", "--out")
    assert sorted(path.name for path in finished_run.iterdir()) == before


@pytest.mark.parametrize("extra", [[], ["--print-commands"]])
def test_reproduce_never_writes_into_a_folder_of_other_things(tmp_path, extra):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    (mine / "labels-100").mkdir()  # a table's own folder is fine beside it; the notes are not
    result = cli("reproduce", "--labels", "100", "--seeds", "0", "--epochs", "1", "--out", mine, *extra)
    assert_one_line_error(result, "notes.txt", "not what reproduce writes")
    assert sorted(path.name for path in mine.iterdir()) == ["labels-100", "notes.txt"]


@pytest.mark.parametrize("args,named", [(["--seeds", "0", "1", "0"], ["--seeds", "0 twice"]),
                                        (["--labels", "100", "all", "all", "100"], ["--labels", "100, all twice"])])
def test_reproduce_refuses_a_label_count_or_seed_named_twice(tmp_path, args, named):
    assert_one_line_error(cli("reproduce", *args, "--out", tmp_path / "table", "--print-commands"), *named)
    assert not (tmp_path / "table").exists()


@pytest.mark.parametrize("printing", [[], ["--print-commands"]])
def test_reproduce_refuses_a_file_as_its_folder_even_when_only_printing(tmp_path, printing):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    result = cli("reproduce", "--labels", "100", "--seeds", "0", "--epochs", "1", "--out", notes, *printing)
    assert_one_line_error(result, "is a file", "--out")
    assert result.stdout == "" and notes.read_text() == "mine"


@pytest.mark.parametrize("option", [["--precision", "bf16"], ["--breakdown"], ["--bf16-weights", "autocast"]])
def test_the_stacked_bench_refuses_what_it_would_ignore(tmp_path, option):
    result = cli("bench", "--stack", "1", "--steps", "1", *option, "--out", tmp_path / "b.json")
    assert_one_line_error(result, "--stack", option[0])
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize("text,value", [("7", 7), ("+7", 7), ("-1", -1), ("0042", 42)])
def test_whole_numbers_read_as_typed(text, value):
    assert whole(text) == value and all_or_int(text) == value


@pytest.mark.parametrize("text", ["1_0", "\u0665", " 5", "5 ", "5.0", "", "0x10", "9" * 5000])
def test_whole_numbers_refuse_what_int_would_misread(text):
    for argument_type in (whole, all_or_int, at_least(1)):
        with pytest.raises(argparse.ArgumentTypeError):
            argument_type(text)


@pytest.mark.parametrize("args,words", [
    (["--labels", "15"], ["labels", "15"]),
    (["--labels", "0"], ["labels"]),
    (["--labels", "50010"], ["labels"]),
    (["--labels", "many"], ["labels", "many"]),
    (["--preset", "sgd-fast"], ["preset", "sgd-fast"]),
    (["--precision", "fp8"], ["precision", "fp8"]),
    (["--device", "tpu"], ["device", "tpu"]),
    (["--epoch-def", "batches"], ["epoch-def"]),
    (["--recon-loss", "l1"], ["recon-loss"]),
    (["--epochs", "0"], ["epochs"]),
    (["--epochs", "-3"], ["epochs", "positive", "-3"]),
    (["--epochs", "5", "--milestones", "5", "6"], ["milestones", "5 epochs", "[5, 6]"]),
    (["--epochs", "5", "--milestones", "2", "1"], ["milestones", "rise", "[2, 1]"]),
    (["--milestones", "1", "1"], ["milestones", "once", "[1, 1]"]),
    (["--supervised-only", "--prior-std", "5"], ["supervised_only", "prior_std"]),
    (["--supervised-only", "--recon-loss", "mean"], ["supervised_only", "recon_loss"]),
    (["--supervised-only", "--phase-lr", "reconstruction=0.5"], ["supervised_only", "phase_lr of reconstruction"]),
    (["--supervised-only", "--phase-momentum", "generator=0.5"], ["supervised_only", "phase_momentum of generator"]),
    (["--seed", "1_0"], ["--seed", "whole number", "1_0"]),  # int() would read 10
    (["--epochs", "\u0665"], ["--epochs", "whole number"]),  # an Arabic-Indic five
    (["--epochs", " 5"], ["--epochs", "whole number"]),
    (["--labels", "1_00"], ["--labels", "1_00"]),
    (["--unlabeled", "5"], ["unlabeled"]),
    (["--noise-std", "-0.1"], ["noise_std"]),
    (["--labeled-noise-std", "-0.1"], ["labeled_noise_std"]),
    (["--init-std", "-1"], ["init_std"]),
    (["--init-std", "nan"], ["init_std", "nan"]),
    (["--init-std", "inf"], ["init_std", "inf"]),
    (["--prior-std", "nan"], ["prior_std", "nan"]),
    (["--prior-std", "0"], ["prior_std"]),
    (["--noise-std", "inf"], ["noise_std", "inf"]),
    (["--labeled-noise-std", "nan"], ["labeled_noise_std", "nan"]),
    (["--phase-lr", "generator=nan"], ["phase_lr", "generator", "nan"]),
    (["--phase-momentum", "generator=inf"], ["phase_momentum", "generator", "inf"]),
    (["--batch-size", "100000"], ["batch_size", "50000"]),
    (["--seed", str(2**63)], ["seed", "2^63-1"]),
    (["--seed", "-1"], ["seed", "2^63-1", "-1"]),  # the setting's own range, not the number's spelling
    (["--label-seed", str(2**64)], ["label_seed"]),
    (["--out", ""], ["--out", "empty"]),
    (["--out", "x" * 300], ["--out", "255"]),
    (["--out", "run\nx"], ["--out", "line break"]),
    (["--phase-lr", "gen=0.1"], ["phase", "gen"]),
    (["--phase-lr", "generator=fast"], ["PHASE=NUMBER", "fast"]),
    (["--phase-lr", "generator=0"], ["phase_lr", "generator"]),
    (["--phase-momentum", "generator=1.5"], ["phase_momentum", "generator"]),
    (["--phase-lr", "generator=1", "generator=2"], ["--phase-lr", "generator", "twice"]),
    (["--phase-momentum", "generator=0.5", "reconstruction=0.5", "generator=0.9"], ["--phase-momentum", "twice"]),
    (["--preset", "adamw", "--phase-momentum", "generator=0.5"], ["phase_momentum", "adamw"]),
])
def test_bad_arguments_are_one_line_exit_2(tmp_path, args, words):
    out = tmp_path / "run"
    assert_one_line_error(cli("train", "--out", out, *args), *words)
    assert not out.exists()


@pytest.mark.parametrize("args", [["--help"], ["train", "--epochs", "-3", "--out", "run"],
                                  ["train", "--labels", "15", "--out", "run"], ["train", "--out", ""],
                                  ["bench", "--steps", "0"], ["bench", "--stack", "65"],
                                  ["bench", "--stack", "2", "--precision", "bf16"],
                                  ["reproduce", "--jobs", "0", "--out", "run"],
                                  ["reproduce", "--labels", "7", "--out", "run"],
                                  ["reproduce", "--seeds", "-1", "--out", "run"],
                                  ["reproduce", "--seeds", "0", "1", "0", "--out", "run"],
                                  ["reproduce", "--protocol", "--labels", "100", "100", "--out", "run"],
                                  ["reproduce", "--protocol", "--labels", "10", "--out", "run"],
                                  ["reproduce", "--protocol", "--epochs", "5", "--out", "run"]])
def test_help_and_mistakes_are_answered_before_torch_loads(tmp_path, args):
    """Loading torch takes seconds; --help and a mistyped setting are answered without it."""
    script = ("import sys\nfrom aae_core.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
              "print('torch loaded' if 'torch' in sys.modules else 'torch not loaded', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.stderr.splitlines()[-1] == "torch not loaded", done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_device_is_one_line_before_anything_is_written(tmp_path):
    assert_one_line_error(cli("train", "--device", "cuda", "--out", tmp_path / "run"), "cuda")
    assert_one_line_error(cli("reproduce", "--labels", "100", "--seeds", "0", "--device", "cuda",
                              "--out", tmp_path / "table"), "cuda")
    assert_one_line_error(cli("bench", "--device", "cuda", "--out", tmp_path / "bench" / "b.json"), "cuda")
    assert not any(tmp_path.iterdir())


def test_missing_data_folder_is_one_line_and_leaves_no_run(tmp_path):
    result = cli("train", *QUICK, "--out", tmp_path / "run", env={"AAE_DATA_DIR": str(tmp_path / "nowhere")})
    assert_one_line_error(result, "nowhere", "AAE_DATA_DIR")
    assert not (tmp_path / "run").exists()


def test_unwritable_out_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert_one_line_error(cli("train", *QUICK, "--out", blocker / "run"), str(blocker))
    assert_one_line_error(cli("train", *QUICK, "--out", blocker), "file")


def test_bad_checkpoints_are_one_line(tmp_path):
    assert_one_line_error(cli("evaluate", tmp_path / "missing.pt"), "missing.pt")
    corrupt = tmp_path / "checkpoint.pt"
    corrupt.write_bytes(b"\x80not a checkpoint")
    assert_one_line_error(cli("evaluate", corrupt), "corrupt")


def test_train_writes_a_complete_run_folder(finished_run):
    run = RunFolder(finished_run)
    summary = run.summary()
    for key in ("test_accuracy", "val_accuracy", "epochs", "labels", "seed", "preset", "device", "precision",
                "epoch_def", "wall_seconds", "git_commit", "torch_version"):
        assert key in json.loads(run.summary_path.read_text()), key
    assert summary.epochs == 2 and summary.steps == 16 and summary.epoch_def == "unlabeled"
    history = run.history()
    assert [r["epoch"] for r in history] == [1, 2]
    assert {"loss_recon", "loss_class", "val_accuracy", "seconds"} <= history[0].keys()
    assert run.train_config().preset == "paper-sgd"
    assert summary.git_commit == run.config()["git_commits"][0] != ""
    shipped = torch.load(run.model_path, weights_only=True)
    assert all(v.dtype == torch.float16 for v in shipped["state_dict"].values())


def test_evaluate_and_load_checkpoint_agree(finished_run, mnist):
    reported = json.loads(cli("evaluate", finished_run, "--json", check=True).stdout)["test_accuracy"]
    assert reported == pytest.approx(RunFolder(finished_run).summary().test_accuracy, abs=0.02)  # fp16 weights
    for source in (finished_run / "model.pt", finished_run / "checkpoint.pt"):
        model = aae_core.load_checkpoint(source, device="cpu")
        assert not model.training
        mine = 100 * (model.classify(mnist.test_x) == mnist.test_y).float().mean().item()
        assert mine == pytest.approx(reported, abs=0.02)


def test_finished_run_is_never_overwritten(finished_run):
    before = {p.name: p.read_bytes() for p in finished_run.iterdir() if p.suffix == ".json"}
    assert_one_line_error(cli("train", *QUICK, "--epochs", "2", "--out", finished_run), "finished", "--force")
    assert_one_line_error(cli("train", *QUICK, "--epochs", "2", "--seed", "5", "--resume", "--out", finished_run), "seed")
    # asked to go on past its end: pointed to a new folder, never to --force
    assert_one_line_error(cli("train", *QUICK, "--epochs", "3", "--resume", "--out", finished_run), "finished",
                          "--continue-from", "new --out")
    again = cli("train", *QUICK, "--epochs", "2", "--resume", "--out", finished_run, check=True)
    assert "already finished" in again.stdout
    assert before == {p.name: p.read_bytes() for p in finished_run.iterdir() if p.suffix == ".json"}


def test_unfinished_run_needs_resume_or_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"epoch": 1}, out / "checkpoint.pt")
    assert_one_line_error(cli("train", *QUICK, "--out", out), "--resume")
    assert (out / "checkpoint.pt").exists()


def test_history_without_a_checkpoint_is_not_overwritten_without_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    history = '{"epoch": 1, "steps": 500, "val_accuracy": 80.0, "seconds": 1.0}\n'
    (out / "history.jsonl").write_text(history)
    for flags in ([], ["--resume"]):
        assert_one_line_error(cli("train", *QUICK, *flags, "--out", out), "no checkpoint", "--force")
    assert (out / "history.jsonl").read_text() == history


def test_nan_loss_stops_keeping_the_last_good_checkpoint(tmp_path, monkeypatch):
    from aae_core import cli as cli_module
    from aae_core.train import Trainer

    clean_noise = Trainer.add_noise

    def noise_turning_nan(self, x, std=None):  # the second epoch diverges
        return clean_noise(self, x, std) * (float("nan") if self.epoch >= 1 else 1.0)

    monkeypatch.setattr(Trainer, "add_noise", noise_turning_nan)
    out = tmp_path / "run"
    assert cli_module.main(["train", *QUICK, "--epochs", "3", "--out", str(out)]) == 3
    run = RunFolder(out)
    assert not run.finished and len(run.history()) == 1
    assert torch.load(run.checkpoint_path, weights_only=True)["epoch"] == 1
    diverged = json.loads(run.diverged_path.read_text())  # on record, not only on stderr
    assert diverged["epoch"] == 2 and diverged["step"] == 8 and "recon" in diverged["losses"]


def test_a_run_that_diverges_in_its_first_epoch_says_so_and_is_kept(tmp_path, monkeypatch, capsys):
    """No epoch finished: the message claims no checkpoint, and its folder (diverged.json) is not taken by
    a run of other settings without --force."""
    from aae_core import cli as cli_module
    from aae_core.train import Trainer

    monkeypatch.setattr(Trainer, "add_noise", lambda self, x, std=None: x * float("nan"))
    out = tmp_path / "run"
    assert cli_module.main(["train", *QUICK, "--out", str(out)]) == 3
    said = capsys.readouterr().err
    assert "no checkpoint" in said and "last good checkpoint" not in said
    monkeypatch.undo()
    assert cli_module.main(["train", *QUICK, "--seed", "1", "--out", str(out)]) == 2
    assert "NaN/inf" in capsys.readouterr().err and RunFolder(out).diverged


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    args = ["train", "--labels", "100", "--unlabeled", "3000", "--batch-size", "50", "--epochs", "3", "--quiet"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    cli(*args, "--out", straight, check=True)

    proc = subprocess.Popen([sys.executable, "-m", "aae_core", *args, "--out", str(killed)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(RunFolder(killed).history()) < 1 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside epoch 2 (an epoch takes seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not RunFolder(killed).finished and len(RunFolder(killed).history()) == 1

    resumed = cli(*args, "--out", killed, "--resume", check=True)
    assert "resuming after epoch 1" in resumed.stdout
    assert len(RunFolder(killed).config()["git_commits"]) == 2
    first, second = RunFolder(killed).summary().machines  # each part's machine, with its instruction set
    assert first == second and first.startswith("cpu: ") and "note:" not in resumed.stdout
    final = [torch.load(d / "checkpoint.pt", weights_only=True) for d in (straight, killed)]
    assert weights_equal(final[0]["model"], final[1]["model"])
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(RunFolder(straight).history()) == strip(RunFolder(killed).history())


def test_a_resume_on_another_machine_is_said_and_recorded(tmp_path):
    out = tmp_path / "run"
    cli("train", *QUICK, "--epochs", "1", "--out", out, check=True)
    config = json.loads((out / "config.json").read_text())
    (out / "summary.json").unlink(), (out / "model.pt").unlink()  # as if it had stopped after epoch 1
    here = config["machines"][0]
    config["machines"] = ["cpu: Another CPU, 1 thread, AVX2"]
    (out / "config.json").write_text(json.dumps(config))
    resumed = cli("train", *QUICK, "--epochs", "2", "--resume", "--out", out, check=True)
    assert f"trained so far on cpu: Another CPU, 1 thread, AVX2, and goes on here on {here}" in resumed.stdout
    assert RunFolder(out).summary().machines == ["cpu: Another CPU, 1 thread, AVX2", here]
    # a run begun before runs recorded their machine: its first part is 'not recorded', and nothing is said
    (out / "summary.json").unlink(), (out / "model.pt").unlink()
    config = json.loads((out / "config.json").read_text())
    del config["machines"]
    (out / "config.json").write_text(json.dumps(config))
    resumed = cli("train", *QUICK, "--epochs", "3", "--resume", "--out", out, check=True)
    assert "note:" not in resumed.stdout
    assert RunFolder(out).summary().machines == ["not recorded", "not recorded", here]


def test_continue_from_a_finished_run_matches_one_run_trained_in_one_go(tmp_path, finished_run):
    before = {p.name: p.read_bytes() for p in finished_run.iterdir() if p.is_file()}
    straight, continued = tmp_path / "straight", tmp_path / "continued"
    cli("train", *QUICK, "--epochs", "3", "--out", straight, check=True)
    cli("train", *QUICK, "--epochs", "3", "--continue-from", finished_run, "--out", continued, check=True)

    assert before == {p.name: p.read_bytes() for p in finished_run.iterdir() if p.is_file()}  # source untouched
    final = [torch.load(d / "checkpoint.pt", weights_only=True) for d in (straight, continued)]
    assert weights_equal(final[0]["model"], final[1]["model"])
    summary = RunFolder(continued).summary()
    assert summary.epochs == 3 and summary.continued_from == str(finished_run)
    again = cli("train", *QUICK, "--epochs", "3", "--continue-from", finished_run, "--resume", "--out", continued,
                check=True)
    assert "already finished" in again.stdout
    # --resume before the new folder exists: a continuation, not also "no run there to resume; starting a new one"
    first = cli("train", *QUICK, "--epochs", "3", "--continue-from", finished_run, "--resume", "--out",
                tmp_path / "first", check=True)
    assert "no run there to resume" not in first.stdout and "starting a new one" not in first.stdout


def test_continue_from_with_no_more_epochs_is_one_line(tmp_path, finished_run):
    result = cli("train", *QUICK, "--epochs", "2", "--continue-from", finished_run, "--out", tmp_path / "new")
    assert_one_line_error(result, "already 2 epochs in", "--epochs")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("case", ["no checkpoint", "other settings", "other model", "taken --out",
                                  "a passed milestone"])
def test_continue_from_refuses_with_one_line(tmp_path, finished_run, case):
    source, out, extra = finished_run, tmp_path / "new", []
    if case == "no checkpoint":
        source = tmp_path / "empty"
        source.mkdir()
    elif case == "other settings":
        extra = ["--seed", "7"]
    elif case == "other model":
        extra = ["--init-std", "0"]
    elif case == "a passed milestone":  # epoch 1 lies behind the source's checkpoint, unmeasured
        extra = ["--milestones", "1", "3"]
    else:
        out = finished_run
    result = cli("train", *QUICK, "--epochs", "3", *extra, "--continue-from", source, "--out", out)
    assert_one_line_error(result, {"no checkpoint": "checkpoint", "other settings": "seed", "other model": "init_std",
                                   "taken --out": "already holds", "a passed milestone": "milestone epoch(s) 1"}[case])
    assert "--force" not in result.stderr  # which --continue-from refuses
    assert case == "taken --out" or "resume" not in result.stderr  # it continues a run, in a new folder
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").iterdir())


def test_continue_from_never_writes_over_another_run_s_record(tmp_path, finished_run):
    """A run that diverged before its first checkpoint leaves config.json and diverged.json: its record."""
    out = tmp_path / "diverged"
    out.mkdir()
    config = json.loads((finished_run / "config.json").read_text())
    del config["fingerprint"]  # another run's settings (seed 7), as a run stored before fingerprints were
    (out / "config.json").write_text(json.dumps({**config, "train": {**config["train"], "seed": 7}}))
    (out / "diverged.json").write_text(json.dumps({"epoch": 1, "step": 3, "message": "loss is nan"}))
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    result = cli("train", *QUICK, "--epochs", "3", "--continue-from", finished_run, "--out", out)
    assert_one_line_error(result, "already holds a run (config.json, diverged.json)")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_resume_cannot_add_a_milestone_that_a_run_passed(tmp_path, finished_run):
    result = cli("train", *QUICK, "--epochs", "2", "--milestones", "1", "--resume", "--out", finished_run)
    assert_one_line_error(result, "2 epochs in", "milestone epoch(s) 1", "did not measure")
    stopped = tmp_path / "stopped"  # a run stopped after epoch 1, resumed with milestone 1 added
    cli("train", *QUICK, "--epochs", "1", "--out", stopped, check=True)
    (stopped / "summary.json").unlink(), (stopped / "model.pt").unlink()
    before = {path.name: path.read_bytes() for path in stopped.iterdir()}
    result = cli("train", *QUICK, "--epochs", "2", "--milestones", "1", "2", "--resume", "--out", stopped)
    assert_one_line_error(result, "1 epochs in", "milestone epoch(s) 1")
    assert {path.name: path.read_bytes() for path in stopped.iterdir()} == before  # not stored as if measured
    said = cli("evaluate", stopped, check=True).stdout  # its last checkpoint, said to be no result yet
    assert "unfinished, after epoch 1" in said
    assert json.loads(cli("evaluate", stopped, "--json", check=True).stdout)["unfinished_after_epoch"] == 1


def test_resume_with_fewer_epochs_than_a_finished_run_says_so(finished_run):
    result = cli("train", *QUICK, "--epochs", "1", "--resume", "--out", finished_run)
    assert_one_line_error(result, "of 2 epochs, more than --epochs 1", "give --epochs 2")


def test_a_run_stored_before_a_setting_existed_still_resumes(tmp_path, finished_run):
    """config.json of an older run lacks settings added later; their defaults are what it ran with."""
    from aae_core.config import ModelConfig, TrainConfig

    config = json.loads((finished_run / "config.json").read_text())
    for key in ("label_subset", "label_seed", "labeled_noise_std", "supervised_only", "z_prior"):
        del config["train"][key]
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps(config))
    same = TrainConfig.from_dict(config["train"])
    RunFolder(old)._check_same_settings(same, ModelConfig())  # no error
    with pytest.raises(aae_core.AAEError, match="label_subset"):
        RunFolder(old)._check_same_settings(TrainConfig.from_dict({**config["train"], "label_subset": "random"}))

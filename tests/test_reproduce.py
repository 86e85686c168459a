"""`reproduce`: Table 3 as ordinary train runs that are planned, skipped, resumed and summarised."""
from __future__ import annotations

import shlex

import pytest

from aae_core.cli import build_parser
from aae_core.config import ModelConfig, TrainConfig
from aae_core.errors import AAEError
from aae_core.options import as_options, config_from_args
from aae_core.reproduce import plan, protocol_plan, summarise
from aae_core.runs.folder import RunFolder
from test_cli import assert_one_line_error, cli


def test_runs_the_missing_cells_then_prints_the_table(tmp_path):
    out = tmp_path / "table"
    args = ["reproduce", "--labels", "10", "20", "--seeds", "0", "--epochs", "1", "--unlabeled", "200",
            "--jobs", "2", "--out", out]
    first = cli(*args, check=True)
    assert (out / "labels-10" / "seed-0" / "summary.json").exists() and (out / "labels-20" / "seed-0" / "model.pt").exists()
    assert "| labels | ours, 1 epoch |" in first.stdout and "(1 seed)" in first.stdout
    assert "quoted" in first.stdout
    row = summarise(plan([10], [0], 1, out, TrainConfig(unlabeled=200)))[0]  # the settings the runs were made with
    assert row["val_mean"] == RunFolder(out / "labels-10" / "seed-0").summary().val_accuracy
    # Everything finished: nothing is trained again, and no command is left to print.
    again = cli(*args, check=True)
    assert "starting" not in again.stdout and again.stdout.count("(1 seed)") == 2
    printed = cli(*args, "--print-commands", check=True)
    assert printed.stdout == "" and "every run of the plan" in printed.stderr and "is finished" in printed.stderr
    # A finished cell of other settings is never printed under these: refused before any run starts.
    before = (out / "labels-10" / "seed-0" / "summary.json").read_bytes()
    longer = [*args[:args.index("--epochs")], "--epochs", "3", *args[args.index("--epochs") + 2:]]
    assert_one_line_error(cli(*longer), "labels-10", "epochs 1 -> 3")
    assert_one_line_error(cli(*args, "--preset", "adamw"), "preset 'paper-sgd' -> 'adamw'")
    assert (out / "labels-10" / "seed-0" / "summary.json").read_bytes() == before


def test_print_commands_lists_train_commands_a_user_can_run(tmp_path):
    result = cli("reproduce", "--labels", "100", "all", "--seeds", "0", "1", "--out", tmp_path, "--print-commands",
                 check=True)
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and not list(tmp_path.iterdir())  # printing trains nothing, writes nothing
    argv = shlex.split(lines[-1])
    assert argv[:4] == ["python", "-m", "aae_core", "train"] and "--resume" in argv
    assert argv[argv.index("--labels") + 1] == "all" and argv[argv.index("--seed") + 1] == "1"


def test_a_run_folder_in_use_stops_the_plan_before_any_run_starts(tmp_path):
    args = ["--labels", "10", "20", "--seeds", "0", "--epochs", "1", "--unlabeled", "200", "--out", tmp_path]
    training = plan([10], [0], 1, tmp_path, TrainConfig(unlabeled=200))[0]
    training.folder.mkdir(parents=True)
    RunFolder(training.folder).start(training.train_cfg, training.model_cfg, resume=False, force=False)
    with RunFolder(training.folder).locked():  # another process is training labels 10, seed 0
        assert_one_line_error(cli("reproduce", *args), "labels-10", "in use by another process")
    assert not (tmp_path / "labels-20").exists() and not (tmp_path / "logs").exists()
    assert cli("reproduce", *args, "--print-commands", check=True).stdout.count("train") == 2  # printing locks nothing


def test_bad_labels_fail_before_any_run(tmp_path):
    assert_one_line_error(cli("reproduce", "--labels", "100", "7", "--out", tmp_path), "labels", "7")
    assert not list(tmp_path.iterdir())


def test_a_planned_run_holds_its_settings_and_its_command_asks_for_exactly_them(tmp_path):
    settings = TrainConfig(preset="sgd-early-drop", unlabeled=200, supervised_only=True, phase_lr={"semi_supervised": 0.3},
                           lr_milestones=(5, 9), noise_std=0.25)
    runs = [*plan([100, "all"], [0, 7], 3, tmp_path, settings, allow_dirty=True),
            *[run for cell in protocol_plan(tmp_path, labels=[1000]).values() for run in cell]]
    for run in runs:
        args = build_parser().parse_args(list(run.argv))
        assert (config_from_args(TrainConfig, args), config_from_args(ModelConfig, args)) == (run.train_cfg, run.model_cfg)
        assert args.out == str(run.folder) and args.resume and args.allow_dirty == run.allow_dirty
    # the book's notebooks still give a plan's settings as train options
    assert plan([100], [0], 3, tmp_path, ["--preset", "sgd-early-drop", "--unlabeled", "200"]) == \
        plan([100], [0], 3, tmp_path, TrainConfig(preset="sgd-early-drop", unlabeled=200))


def test_a_setting_no_option_asks_for_is_not_rendered():
    assert as_options(TrainConfig(), ModelConfig()) == []
    with pytest.raises(AAEError, match="hidden_dim"):
        as_options(TrainConfig(), ModelConfig(hidden_dim=64))

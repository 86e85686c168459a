"""The package's shape: one declaration per setting, the plain updater in plain sight, speed behind one seam."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import torch

from aae_core import cli
from aae_core.config import OPTION_GROUPS, ModelConfig, TrainConfig
from aae_core.speed.updaters import SpeedOptions, updater_with
from aae_core.train import PlainUpdater, make_trainer
from conftest import TINY

PACKAGE = Path(cli.__file__).parent


def train_options() -> dict[str, list[str]]:
    """{dest: option strings} of every option of `train`."""
    train = cli.build_parser()._subparsers._group_actions[0].choices["train"]
    return {action.dest: action.option_strings for action in train._actions}


def test_every_setting_has_exactly_one_option_or_is_api_only():
    options = train_options()
    for config_class in (TrainConfig, ModelConfig):
        for f in fields(config_class):
            assert f.metadata.get("help"), f"{f.name} has no help"
            if f.metadata.get("group"):
                assert options[f.name] == ["--" + f.name.replace("_", "-")], f.name
            else:
                assert f.name not in options, f"{f.name} is marked API only but has an option"


def test_option_defaults_are_the_field_defaults():
    args = cli.build_parser().parse_args(["train", "--out", "x"])
    assert cli.config_from_args(TrainConfig, args) == TrainConfig()
    assert cli.config_from_args(ModelConfig, args) == ModelConfig()


def test_options_convert_to_the_field_types():
    args = cli.build_parser().parse_args(["train", "--out", "x", "--labels", "all", "--lr-milestones", "5", "9",
                                          "--phase-lr", "generator=0.3", "--init-std", "0"])
    cfg = cli.config_from_args(TrainConfig, args)
    assert cfg.labels == "all" and cfg.lr_milestones == (5, 9) and cfg.phase_lr == {"generator": 0.3}
    assert cli.config_from_args(ModelConfig, args).init_std == 0.0


def test_help_shows_the_groups_in_order(capsys):
    try:
        cli.build_parser().parse_args(["train", "--help"])
    except SystemExit:
        pass
    text = capsys.readouterr().out
    titles = [*OPTION_GROUPS.values(), "the run folder"]
    positions = [text.index(title + ":") for title in titles]
    assert positions == sorted(positions)


def test_the_plain_updater_trains_as_the_fastest_one_does(small_data, tiny_cfg):
    """zero_grad / backward / step after the pass, against fused steps inside it: the same update."""
    plain = make_trainer(tiny_cfg, small_data, TINY, device="cpu", progress=False, updater=PlainUpdater)
    fast = make_trainer(tiny_cfg, small_data, TINY, device="cpu", progress=False,
                        updater=updater_with(SpeedOptions()))
    assert type(plain.updater) is PlainUpdater and fast.updater.in_backward
    for _ in range(3):
        torch.testing.assert_close(plain.train_step(), fast.train_step(), rtol=1e-4, atol=1e-6)
    for (name, a), b in zip(plain.model.state_dict().items(), fast.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_private_torch_ops_live_only_in_the_speed_subpackage():
    outside = [path for path in PACKAGE.rglob("*.py") if "speed" not in path.relative_to(PACKAGE).parts
               and re.search(r"torch\._[a-z]", path.read_text())]
    assert outside == []


def test_the_top_level_is_the_method_and_its_runs():
    top = sorted(path.stem for path in PACKAGE.glob("*.py"))
    assert top == ["__init__", "__main__", "cli", "cluster", "config", "data", "devices", "download", "errors", "evaluate", "losses",
                   "models", "options", "provenance", "repository", "reproduce", "stats", "train"]
    assert sorted(path.stem for path in (PACKAGE / "runs").glob("*.py")) == [
        "__init__", "files", "folder", "records", "training", "weights"]

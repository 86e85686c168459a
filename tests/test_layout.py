"""The package's shape: one declaration per setting, the plain updater in plain sight, speed behind one seam,
no import loop, no module longer than a sitting."""
from __future__ import annotations

import ast
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
                   "models", "options", "paths", "provenance", "repository", "reproduce", "stats", "train"]
    assert sorted(path.stem for path in (PACKAGE / "runs").glob("*.py")) == [
        "__init__", "files", "folder", "records", "training", "weights"]


def module_name(path: Path) -> str:
    """aae_core/runs/folder.py -> 'aae_core.runs.folder'; a package's __init__.py is the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path, modules: set[str]) -> set[str]:
    """The aae_core modules that `path` imports, at any depth (inside functions too): `from .x import y`
    counts as an import of x, and of x.y where y is a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: internal_imports(path, set(paths)) for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import loop of `graph` as [a, b, ..., a], or [] when it has none (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_graph_finder_sees_a_loop_and_imports_inside_functions():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "aae_core.runs.training" in graph["aae_core.cli"]  # imported inside train_command


def test_no_import_loop_among_the_package_modules():
    """An import loop, even one hidden inside a function, means two modules each need the other: one job
    split wrongly, or a lower layer asking a higher one."""
    assert find_cycle(import_graph()) == []


def test_the_arrows_point_down():
    """The method does not know the command line, the speed work or the chapters; the speed work does not
    know the chapters."""
    graph = import_graph()
    for module, imports in graph.items():
        if module != "aae_core.cli" and module != "aae_core.__main__":
            assert "aae_core.cli" not in imports, module
        if not module.startswith(("aae_core.chapters", "aae_core.cli")):
            assert not any(name.startswith("aae_core.chapters") for name in imports), module
    for module in ("aae_core.train", "aae_core.provenance", "aae_core.data", "aae_core.models", "aae_core.config"):
        assert not any(name.startswith("aae_core.speed") for name in graph[module]), module


# Modules allowed past MAX_LINES, each with its reason.
LONG_MODULES = {
    "aae_core/chapters/plots.py": "figure code: one function a figure, each read on its own",
}
MAX_LINES = 450


def test_no_module_is_longer_than_a_sitting():
    long = {str(path.relative_to(PACKAGE.parent)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= set(LONG_MODULES), long

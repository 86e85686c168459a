"""`train`'s options, made from the one declaration of each setting (`config.setting`): added to a parser
by the command line, read back into configs, and rendered from configs as a command line (a planned
run's, which `reproduce --print-commands` prints and its processes run). Parsing what is rendered gives
the configs back."""
from __future__ import annotations

import argparse
import re
from dataclasses import fields

from .config import ModelConfig, TrainConfig
from .errors import AAEError
from .paths import check_path


def whole(text: str) -> int:
    """An argparse type: a whole number in ASCII digits, as a reader types it. int() also reads '1_0' as 10,
    ' 7 ' as 7 and other scripts' digits, and a run would store what it read without a word. A sign is
    kept, so that a setting's own range check answers a negative number (seed: 0 to 2^63-1)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
    try:
        return int(text)
    except ValueError:  # more digits than int() converts
        raise argparse.ArgumentTypeError(f"has {len(text)} digits, more than any setting takes") from None


def all_or_int(text: str, what: str = "a number") -> int | str:
    """An argparse type: 'all', or a whole number (`what` names it in the error)."""
    if text == "all":
        return "all"
    try:
        return whole(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be 'all' or {what}, got {text!r}") from None


def at_least(least: int):
    """An argparse type: a whole number, `least` or more (a job's minutes, cores, GPUs)."""

    def whole_number(text: str) -> int:
        value = whole(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"must be {least} or more, got {value}")
        return value

    return whole_number


def path_arg(text: str) -> str:
    """A file or folder name, refused when it cannot name one (empty, or a part over 255 bytes)."""
    try:
        check_path(text)
    except AAEError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def labels_arg(text: str) -> int | str:
    return all_or_int(text)


def phase_value(text: str) -> tuple[str, float]:
    """'generator=0.3' -> ('generator', 0.3); the phase name is checked with the rest of the config."""
    phase, _, value = text.partition("=")
    try:
        return phase, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be PHASE=NUMBER, got {text!r}") from None


ARG_TYPES = {"labels": labels_arg, "phase_value": phase_value, "whole": whole}


def config_options(config_class) -> list:
    """The fields of a config dataclass that have a `train` option (config.setting with a group)."""
    return [f for f in fields(config_class) if f.metadata.get("group")]


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_options(groups: dict, config_class) -> None:
    """One option per field, from the field itself: its name, default, help and argparse keywords."""
    for f in config_options(config_class):
        option = {k: v for k, v in f.metadata["option"].items() if k != "convert"}
        if isinstance(option.get("type"), str):
            option["type"] = ARG_TYPES[option["type"]]
        groups[f.metadata["group"]].add_argument(option_name(f.name), dest=f.name, default=f.default,
                                                 help=f.metadata["help"], **option)


def config_from_args(config_class, args):
    """The config dataclass from parsed options (each converted to the field's type)."""
    values = {}
    for f in config_options(config_class):
        value, convert = getattr(args, f.name), f.metadata["option"].get("convert")
        try:
            values[f.name] = convert(value) if convert and value is not None else value
        except AAEError as err:
            raise AAEError(f"{option_name(f.name)} {err}") from None
    return config_class(**values)


def settings_from_options(options) -> tuple[TrainConfig, ModelConfig]:
    """The settings a list of `train` options asks for (unchecked), e.g. ["--preset", "adamw"]."""
    parser = argparse.ArgumentParser(prog="train", add_help=False)
    groups = {f.metadata["group"]: parser for cls in (TrainConfig, ModelConfig) for f in config_options(cls)}
    add_config_options(groups, TrainConfig)
    add_config_options(groups, ModelConfig)
    try:
        args = parser.parse_args(list(options))
    except SystemExit:  # argparse has said what is wrong on stderr
        raise AAEError(f"not train options: {' '.join(map(str, options))}") from None
    return config_from_args(TrainConfig, args), config_from_args(ModelConfig, args)


def as_options(*configs, only: tuple[str, ...] | None = None, skip: tuple[str, ...] = ()) -> list[str]:
    """The `train` options that ask for these configs' settings: those named in `only` (in that order, even
    at their defaults), or else every one not in `skip` that differs from its default (in field order). A
    setting off its default that has no option (API only) is an AAEError: no command line asks for it."""
    declared = {f.name: (f, config) for config in configs for f in fields(config)}
    names = only if only is not None else [name for name in declared if name not in skip]
    argv = []
    for name in names:
        f, config = declared[name]
        value = getattr(config, name)
        if only is None and value == f.default:
            continue
        if not f.metadata.get("group"):
            raise AAEError(f"{name} {value!r} is a setting of the API only; no train option asks for it")
        argv += rendered(name, value, f.metadata["option"])
    return argv


def rendered(name: str, value, option: dict) -> list[str]:
    """One setting as `train` takes it: a flag, an option and its value, or an option and its values."""
    if option.get("action") == "store_true":
        return [option_name(name)] if value else []
    if value is None or value == ():
        return []  # the default: nothing to ask for
    if option.get("nargs") == "+":
        values = [f"{k}={v}" for k, v in value.items()] if isinstance(value, dict) else list(value)
        return [option_name(name), *map(str, values)]
    return [option_name(name), str(value)]

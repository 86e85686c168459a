"""The chapters' parameters (papermill's `-p NAME VALUE`), checked in the cell after the parameters cell:
a bad value stops a chapter at once with one message naming it, whether or not the chapter retrains."""
from __future__ import annotations

from pathlib import Path

from ..config import ModelConfig, TrainConfig
from ..errors import AAEError


def check_parameters(results: str | Path | None = None, flags: dict | None = None, model: dict | None = None,
                     **train) -> Path | None:
    """Raise AAEError naming the first bad parameter; return `results` as a Path.

    `train` are TrainConfig fields (labels=7 and epochs="abc" are refused), `model` ModelConfig fields,
    `flags` switches that must be True or False (retrain=...), `results` the folder of shipped runs."""
    for name, value in (flags or {}).items():
        if not isinstance(value, bool):
            raise AAEError(f"parameter {name} must be True or False, got {value!r}")
    try:
        TrainConfig(**train).check()
        ModelConfig(**(model or {})).check()
    except AAEError as err:
        raise AAEError(f"parameter {err}") from None
    if results is None:
        return None
    if not Path(results).is_dir():
        raise AAEError(f"parameter results={str(results)!r} is not a folder; the shipped runs are in ../results "
                       "(relative to the book folder)")
    return Path(results)

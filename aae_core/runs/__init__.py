"""The run folder, its files and its training, one job a module:

    records.py   the fingerprint of a run's settings and the typed summary.json
    files.py     file plumbing: atomic writes, JSON readers, locks, path and writability checks
    folder.py    RunFolder: one run on disk, its files checked to be its own
    weights.py   model.pt: saved, loaded and checked, remade from checkpoint.pt
    training.py  train_run: check, lock, build, train, summarise

The names below are the ones the book's notebooks import from `aae_core.runs`.
"""
from .files import read_json
from .folder import RunFolder
from .training import train_run
from .weights import load_checkpoint

__all__ = ["RunFolder", "load_checkpoint", "read_json", "train_run"]

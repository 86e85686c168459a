"""What a run is, on record: the fingerprint of its settings and the typed summary.json of a finished run.

config.json, checkpoint.pt and summary.json carry the run's fingerprint, a hash of the settings that
define what it computes, so that a file from another run is recognised (a run stored before
fingerprints existed gets its fingerprint computed from its config.json).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace

from ..config import N_TRAIN, ModelConfig, TrainConfig
from ..data import SPLIT_SEED

# Settings that may differ when a run is resumed: where it runs, how far it goes (never fewer epochs
# than it has done) and where it also measures the test accuracy. They are no part of the fingerprint.
RESUMABLE_CHANGES = ("device", "epochs", "milestones")
NOT_RECORDED = "not recorded"  # a part of a run made before runs recorded their machine


def machines_in_order(machines: list[str]) -> list[str]:
    """The recorded machines of a run's parts in order, each named again only after another one
    (A, A, B, A -> A, B, A): where the run went, not how often it stopped."""
    recorded = [machine for machine in machines if machine != NOT_RECORDED]
    return [m for i, m in enumerate(recorded) if i == 0 or m != recorded[i - 1]]


def defining_settings(train_cfg: TrainConfig, model_cfg: ModelConfig) -> dict:
    """The settings that decide what a run computes, in one flat dict (a float setting as a float)."""
    settings = {k: v for k, v in train_cfg.to_dict().items() if k not in RESUMABLE_CHANGES}
    settings.update(asdict(model_cfg))
    floats = {f.name for cls in (TrainConfig, ModelConfig) for f in fields(cls) if "float" in str(f.type)}
    for name in ("phase_lr", "phase_momentum"):  # {phase: number}
        if settings[name] is not None:
            settings[name] = {phase: as_float(v) for phase, v in settings[name].items()}
    return {k: as_float(v) if k in floats else v for k, v in settings.items()}


def as_float(value):
    """1 -> 1.0 (a setting typed float may arrive as an int from the API); anything else as it is."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def fingerprint(train_cfg: TrainConfig, model_cfg: ModelConfig) -> str:
    """A short hash of the defining settings and the fixed data split. A setting at its default is left
    out, so that one added later (its default is the old behaviour) keeps every stored run's fingerprint."""
    defaults = defining_settings(TrainConfig(), ModelConfig())
    changed = {k: v for k, v in defining_settings(train_cfg, model_cfg).items() if v != defaults[k]}
    text = json.dumps({"settings": changed, "split_seed": SPLIT_SEED}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def setting_changes(old: dict, new: dict) -> str:
    """"seed 0 -> 1, preset 'adamw' -> 'paper-sgd'" for the settings that differ between two dicts ('' when none)."""
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in {**old, **new} if old.get(k) != new.get(k))


@dataclass(frozen=True)
class Summary:
    """summary.json of a finished run, typed. Fields added after some runs were stored default to what
    those runs did, here and nowhere else."""

    test_accuracy: float  # percent, on the 10,000 test images
    val_accuracy: float  # percent, the last epoch's, on the 10,000 validation images
    epochs: int
    labels: int | str
    seed: int
    preset: str
    steps: int
    device: str  # what computed it: "cpu: <model>, N threads" or "cuda: <GPU>"
    wall_seconds: float
    git_commit: str  # the commit the run started at ("+dirty": code differed from it)
    batch_size: int = 100
    precision: str = "fp32"
    epoch_def: str = "unlabeled"
    recon_loss: str = "sum"
    prior_std: float = 1.0
    unlabeled: int = N_TRAIN
    label_subset: str = "balanced"
    label_seed: int | None = None  # resolved to `seed` when the run did not set it
    supervised_only: bool = False
    lr_milestones: list | None = None
    update: str | None = None  # how the weights were updated, in words
    torch_version: str = "unknown"
    malloc: str = "not recorded"
    finished_at: str | None = None
    resumed_at_commits: list = field(default_factory=list)
    continued_from: str | None = None
    stacked_with: list | None = None  # the other run folders trained in the same process, batched with this one
    fingerprint: str | None = None  # None: a run stored before fingerprints (its config.json's is computed)
    labeled_images: str | None = None  # hash of the labeled images' indices, where recorded
    cpu_capability: str | None = None  # torch's CPU instruction set ('AVX2', 'AVX512') of the last part, where recorded
    machines: list = field(default_factory=list)  # the machine of each part (start, resumes), where recorded

    @classmethod
    def from_dict(cls, data: dict) -> "Summary":
        """The typed summary; TypeError for a missing field or a number that is not one."""
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        known = {f.name for f in fields(cls)}
        summary = cls(**{k: v for k, v in data.items() if k in known})
        for name in ("test_accuracy", "val_accuracy", "wall_seconds", "epochs", "steps"):
            value = getattr(summary, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} is {value!r}, not a number")
        return summary if summary.label_seed is not None else replace(summary, label_seed=summary.seed)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def n_labeled(self) -> int:
        return N_TRAIN if self.labels == "all" else int(self.labels)

"""The run folder: config, history, summary, checkpoint and shipped weights, written atomically.

    <run>/config.json     every setting (train, model, optimizer preset)
    <run>/history.jsonl   one JSON object per finished epoch
    <run>/checkpoint.pt   full resume state after the last finished epoch (large, git-ignored)
    <run>/summary.json    written once the run has finished: test accuracy and provenance
    <run>/model.pt        fp16 weights for the book, loadable with weights_only=True
    <run>/diverged.json   only if a loss turned NaN/inf: the epoch and step, and the message

Every file is written to a temporary name and renamed, so a run killed at any moment leaves
either the old file or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch

from .config import N_TRAIN, ModelConfig, TrainConfig, model_config_from_dict
from .devices import resolve_device
from .errors import AAEError
from .models import SemiSupervisedAAE
from .provenance import git_commit

# Settings that may differ when a run is resumed: where it runs, and how far it goes.
RESUMABLE_CHANGES = ("device", "epochs")


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

    @classmethod
    def from_dict(cls, data: dict) -> "Summary":
        known = {f.name for f in fields(cls)}
        summary = cls(**{k: v for k, v in data.items() if k in known})
        return summary if summary.label_seed is not None else replace(summary, label_seed=summary.seed)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def n_labeled(self) -> int:
        return N_TRAIN if self.labels == "all" else int(self.labels)


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), then rename tmp_path to path (same folder, so the rename is atomic)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; run files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def write_jsonl(path: Path, records: list[dict]) -> None:
    """One JSON object per line (a history), replaced atomically like every other run file."""
    lines = "".join(json.dumps(record) + "\n" for record in records)
    atomic_write(path, lambda tmp: Path(tmp).write_text(lines))


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise AAEError(f"cannot read {path}: {err}") from None


def refuse_to_overwrite(path: Path, force: bool) -> None:
    """A result a user made is replaced only on purpose."""
    if path.exists() and not force:
        raise AAEError(f"{path} exists; pass --force to overwrite it, or choose another --out")


def torch_load(path: Path) -> dict:
    """torch.load with weights_only=True; an unreadable file is an AAEError naming it."""
    if not Path(path).is_file():
        raise AAEError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():  # a damaged file also makes torch warn; the error says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        raise AAEError(f"checkpoint {path} is corrupt or not a checkpoint ({type(err).__name__})") from None


class RunFolder:
    """One training run on disk; it refuses to overwrite a finished run unless forced."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.history_path = self.path / "history.jsonl"
        self.checkpoint_path = self.path / "checkpoint.pt"
        self.summary_path = self.path / "summary.json"
        self.model_path = self.path / "model.pt"
        self.diverged_path = self.path / "diverged.json"

    @property
    def finished(self) -> bool:
        return self.summary_path.exists()

    @property
    def started(self) -> bool:
        return self.checkpoint_path.exists()

    def config(self) -> dict:
        """config.json as stored: {"train": ..., "model": ..., "optimizer": ..., "git_commits": [...]}."""
        return read_json(self.config_path)

    def train_config(self) -> TrainConfig:
        """The run's settings; a setting added after the run was stored takes its default (the old
        behaviour)."""
        return TrainConfig.from_dict(self.config().get("train", {}))

    def model_config(self) -> ModelConfig:
        return model_config_from_dict(self.config().get("model", {}))

    def summary(self) -> Summary:
        data = read_json(self.summary_path)
        try:
            return Summary.from_dict(data)
        except TypeError as err:  # a required field missing
            raise AAEError(f"{self.summary_path} is not a run summary ({err})") from None

    def history(self) -> list[dict]:
        if not self.history_path.exists():
            return []
        return [json.loads(line) for line in self.history_path.read_text().splitlines() if line.strip()]

    def finished_with(self, train_cfg: TrainConfig) -> bool:
        """True when this folder holds a finished run of exactly these settings (same epochs too)."""
        if not self.finished:
            return False
        self._check_same_settings(train_cfg)
        return self.train_config().epochs == train_cfg.epochs

    def ensure_writable(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise AAEError(f"--out {self.path} is a file, not a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.path, prefix=".write-test-")
            probe.close()
        except OSError as err:
            raise AAEError(f"cannot write to {self.path}: {err.strerror or err}") from None

    def start(self, train_cfg: TrainConfig, model_cfg: ModelConfig, resume: bool, force: bool) -> dict | None:
        """Claim the folder for a run. Returns the checkpoint to resume from, or None to start fresh.

        A finished run is an AAEError unless `force`; an unfinished one needs `resume` or `force`, and
        the history of one whose checkpoint is gone needs `force`; resuming with other settings than the
        stored ones is an AAEError too.
        """
        self.ensure_writable()
        if self.finished and not force:
            acc = self.summary().test_accuracy
            raise AAEError(f"{self.path} holds a finished run (test accuracy {acc:.2f}%); "
                           "pass --force to overwrite it, or choose another --out")
        if self.started and not (resume or force):
            raise AAEError(f"{self.path} holds an unfinished run (epoch {len(self.history())}); "
                           "pass --resume to continue it, or --force to start over")
        if not (self.started or force) and self.history():
            raise AAEError(f"{self.path} holds {len(self.history())} epochs of a run with no checkpoint to resume from; "
                           "pass --force to start over, or choose another --out")
        if force:
            for stale in (self.summary_path, self.model_path, self.checkpoint_path, self.history_path,
                          self.diverged_path):
                stale.unlink(missing_ok=True)
        state = None
        if resume and self.started:
            self._check_same_settings(train_cfg, model_cfg)
            state = torch_load(self.checkpoint_path)
        # The code that trains is the code at the start; a resume at another commit is recorded too.
        stored = self.config() if state is not None else {}
        lineage = {"continued_from": stored["continued_from"]} if "continued_from" in stored else {}
        write_json(self.config_path, {"train": train_cfg.to_dict(), "model": asdict(model_cfg),
                                      "optimizer": asdict(train_cfg.optimizer), **lineage,
                                      "git_commits": stored.get("git_commits", []) + [git_commit()]})
        return state

    def continue_from(self, source: "RunFolder", train_cfg: TrainConfig, model_cfg: ModelConfig) -> None:
        """Seed this empty folder with another run's checkpoint, so that `start(resume=True)` goes on
        where that run stopped: a 500-epoch run is then the 50-epoch run continued, step for step
        the same as one trained in one go (the schedule and the random state live in the checkpoint)."""
        if not source.started:
            raise AAEError(f"--continue-from {source.path} has no checkpoint.pt to continue from")
        if self.started or self.finished:
            raise AAEError(f"{self.path} already holds a run; --continue-from needs a new --out")
        source._check_same_settings(train_cfg, model_cfg)
        self.ensure_writable()
        for name in ("checkpoint.pt", "history.jsonl"):
            atomic_write(self.path / name, lambda tmp, name=name: shutil.copyfile(source.path / name, tmp))
        write_json(self.config_path, {**source.config(), "continued_from": str(source.path)})

    def git_commits(self) -> list[str]:
        """The commits this run was started (first) and resumed (later) at."""
        return self.config().get("git_commits", ["unknown"])

    def _check_same_settings(self, train_cfg: TrainConfig, model_cfg: ModelConfig | None = None) -> None:
        # A setting added after the run was stored is missing from its config.json; its default is
        # the behaviour the run had (new settings default to the old behaviour).
        defaults = {**TrainConfig().to_dict(), **(asdict(ModelConfig()) if model_cfg else {})}
        stored = {**defaults, **self.config().get("train", {}), **(self.config().get("model", {}) if model_cfg else {})}
        new = {**train_cfg.to_dict(), **(asdict(model_cfg) if model_cfg else {})}
        differ = [k for k in new if k not in RESUMABLE_CHANGES and stored.get(k) != new[k]]
        if differ:
            changes = ", ".join(f"{k} {stored.get(k)!r} -> {new[k]!r}" for k in differ)
            raise AAEError(f"cannot resume {self.path} with other settings ({changes}); "
                           "use the stored ones, or --force to start over")

    def save_epoch(self, trainer_state: dict) -> None:
        """Checkpoint first, then the history it contains: history.jsonl never runs ahead of it."""
        atomic_write(self.checkpoint_path, lambda tmp: torch.save(trainer_state, tmp))
        write_jsonl(self.history_path, trainer_state["history"])

    @property
    def diverged(self) -> bool:
        return self.diverged_path.exists() and not self.finished

    def divergence(self) -> dict:
        return read_json(self.diverged_path)

    def record_divergence(self, details: dict) -> None:
        """diverged.json: where a loss turned NaN/inf (the run stays unfinished, its last good
        checkpoint kept), so that a setting that does not train is on record, not only in a log."""
        write_json(self.diverged_path, details)

    def finish(self, model: SemiSupervisedAAE, summary: Summary) -> None:
        save_model(model, self.model_path)
        write_json(self.summary_path, summary.to_dict())
        self.diverged_path.unlink(missing_ok=True)  # an earlier attempt diverged; this one did not


def save_model(model: SemiSupervisedAAE, path: Path) -> None:
    """fp16 weights and the model config: what the book needs to draw and classify."""
    payload = {"model_config": asdict(model.cfg),
               "state_dict": {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}}
    atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> SemiSupervisedAAE:
    """The model in eval mode, from a run folder (model.pt, else checkpoint.pt) or either file."""
    path = Path(path)
    if path.is_dir():
        run = RunFolder(path)
        path = run.model_path if run.model_path.exists() else run.checkpoint_path
    payload = torch_load(path)
    if "state_dict" in payload:  # model.pt
        model_cfg, weights = payload["model_config"], payload["state_dict"]
    elif "model" in payload:  # checkpoint.pt: the model config lives in the run's config.json
        config_path = path.parent / "config.json"
        model_cfg = read_json(config_path).get("model", {}) if config_path.exists() else {}
        weights = payload["model"]
    else:
        raise AAEError(f"{path} holds no model weights")
    model = SemiSupervisedAAE(model_config_from_dict(model_cfg))
    try:
        model.load_state_dict({k: v.float() for k, v in weights.items()})
    except RuntimeError as err:
        raise AAEError(f"weights in {path} do not fit the model ({str(err).splitlines()[0]})") from None
    return model.to(device).eval()


def run_summary(run: RunFolder, cfg: TrainConfig, model: SemiSupervisedAAE, data, history: list[dict], update: str,
                device: torch.device, **extra) -> Summary:
    """What summary.json says of a run that has trained to its last epoch: its test accuracy (measured
    here, once) and the provenance of the code, machine and library that made it."""
    from .evaluate import accuracy
    from .provenance import provenance

    return Summary.from_dict({
        "test_accuracy": accuracy(model, data.test_x, data.test_y), "val_accuracy": history[-1]["val_accuracy"],
        "epochs": cfg.epochs, "labels": cfg.labels, "seed": cfg.seed, "preset": cfg.preset, "epoch_def": cfg.epoch_def,
        "recon_loss": cfg.recon_loss, "prior_std": cfg.prior_std, "unlabeled": len(data.unlabeled_x),
        "label_subset": cfg.label_subset, "label_seed": cfg.labeled_images_seed, "supervised_only": cfg.supervised_only,
        "lr_milestones": list(cfg.optimizer.milestones), "batch_size": cfg.batch_size,
        "steps": sum(r["steps"] for r in history), "precision": cfg.precision, "update": update,
        **provenance(device, sum(r["seconds"] for r in history)),
        # the code that trained is the code the run started at (provenance() reads HEAD now)
        "git_commit": run.git_commits()[0], "resumed_at_commits": run.git_commits()[1:],
        "continued_from": run.config().get("continued_from"), **extra,
    })


def refuse_dirty_results(out: Path, allow_dirty: bool) -> None:
    """A run into results/ starts from a clean commit, so that its git_commit says exactly what code made
    it; scratch runs anywhere else are free."""
    from .provenance import REPO_ROOT

    inside = (REPO_ROOT / "results").resolve() in [out.resolve(), *out.resolve().parents]
    if inside and not allow_dirty and git_commit().endswith("+dirty"):
        raise AAEError(f"{out} is under results/, and the code has uncommitted changes; commit them first "
                       "(or pass --allow-dirty to record a +dirty commit)")


def train_run(out: str | Path, cfg: TrainConfig, model_cfg: ModelConfig = ModelConfig(), *, resume: bool = False,
              continue_from: str | Path | None = None, force: bool = False, progress: bool = True,
              updater=None, report=None, mnist=None, allow_dirty: bool = False) -> Summary:
    """Train the run folder `out` end to end and return its summary: claim the folder (fresh, resumed,
    or continued from another run's checkpoint), train to cfg.epochs with a checkpoint after every
    epoch, then write summary.json and model.pt. `report(line)` hears each epoch and the end (the
    command line prints them). A loss that turns NaN writes diverged.json and raises
    NonFiniteLossError, keeping the last good checkpoint.

    `train`, `reproduce` and the chapters' retrain cells all train through here."""
    from .data import prepare_data
    from .provenance import provenance
    from .train import NonFiniteLossError, make_trainer

    cfg.check()
    run, say = RunFolder(out), report or (lambda line: None)
    refuse_dirty_results(run.path, allow_dirty)
    device = resolve_device(cfg.device)
    if resume and not force and run.finished_with(cfg):
        say(f"{run.path}: already finished (test accuracy {run.summary().test_accuracy:.2f}%)")
        return run.summary()
    data = prepare_data(cfg, mnist)  # before the run folder is touched: a data error leaves no trace
    if continue_from is not None and not (resume and run.started):  # a rerun with --resume goes on instead
        if force:
            raise AAEError("--continue-from starts a new run folder; it does not go with --force")
        run.continue_from(RunFolder(continue_from), cfg, model_cfg)
    state = run.start(cfg, model_cfg, resume=resume or continue_from is not None, force=force)

    def save_and_report(trainer, record):
        run.save_epoch(trainer.state_dict())
        losses = "  ".join(f"{name} {record[f'loss_{name}']:.4g}" for name in ("recon", "class")
                           if f"loss_{name}" in record)
        say(f"epoch {record['epoch']:>4}/{cfg.epochs}  {losses}  val {record['val_accuracy']:.2f}%  "
            f"{record['seconds']:.1f} s")

    trainer = make_trainer(cfg, data, model_cfg, device=device, callbacks=[save_and_report], progress=progress,
                           updater=updater)
    if state is not None:
        trainer.load_state_dict(state)
        say(f"{run.path}: resuming after epoch {trainer.epoch}")
    try:
        trainer.fit(cfg.epochs)
    except NonFiniteLossError as err:  # a diverged run is a result too: say where, keep the folder
        run.record_divergence({"epoch": err.epoch, "step": err.step, "losses": err.losses, "message": str(err),
                               **provenance(device, sum(r["seconds"] for r in trainer.history))})
        raise
    summary = run_summary(run, cfg, trainer.model, trainer.data, trainer.history, trainer.updater.description, device)
    run.finish(trainer.model, summary)
    say(f"test accuracy {summary.test_accuracy:.2f}%  ({run.path})")
    return summary

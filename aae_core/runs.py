"""The run folder: config, history, summary, checkpoint and shipped weights, written atomically.

    <run>/config.json     every setting (train, model, optimizer preset)
    <run>/history.jsonl   one JSON object per finished epoch
    <run>/checkpoint.pt   full resume state after the last finished epoch (large, git-ignored)
    <run>/summary.json    written once the run has finished: test accuracy and provenance
    <run>/model.pt        fp16 weights for the book, loadable with weights_only=True
    <run>/diverged.json   only if a loss turned NaN/inf: the epoch and step, and the message

Every file is written to a temporary name and renamed, so a run killed at any moment leaves
either the old file or the new one, never half of one. A run folder is one run: a process that
writes it holds its lock (`.lock`, fcntl.flock) from start to end, and config.json, checkpoint.pt
and summary.json carry the run's fingerprint, a hash of the settings that define what it computes,
so that a file from another run is recognised (a run stored before fingerprints existed gets its
fingerprint computed from its config.json).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch

from .config import N_TRAIN, ModelConfig, TrainConfig, model_config_from_dict
from .data import SPLIT_SEED
from .devices import resolve_device
from .errors import AAEError
from .models import SemiSupervisedAAE
from .provenance import git_commit

# Settings that may differ when a run is resumed: where it runs, how far it goes (never fewer epochs
# than it has done) and where it also measures the test accuracy. They are no part of the fingerprint.
RESUMABLE_CHANGES = ("device", "epochs", "milestones")
RUN_FILES = ("config.json", "history.jsonl", "checkpoint.pt", "summary.json", "model.pt", "diverged.json")
LOCK = ".lock"


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


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), then rename tmp_path to path (same folder, so the rename is atomic). A write
    that fails (a full disk, a permission lost) is an AAEError naming the file; the old file stays."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; run files are meant to be shared
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch.save reports a failed write as a RuntimeError
        raise AAEError(f"cannot write {path} ({write_failure(err, path.parent)}); any earlier {path.name} is "
                       "unchanged: make room or fix the permission, then run again") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)  # gone already when the rename succeeded


def write_failure(err: Exception, folder: Path) -> str:
    """What went wrong with a write, in words. torch.save reports a full disk as 'unexpected pos ...', so
    a folder with (almost) no space left is named as the cause (asked while the partial file still fills it)."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    try:
        if shutil.disk_usage(folder).free < 1 << 20:
            return f"No space left on device; torch: {first_line(err)}"
    except OSError:
        pass
    return first_line(err)


def first_line(err: Exception) -> str:
    """An exception's message, one line of at most 200 characters (its type when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def write_json(path: Path, data) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2) + "\n"))


def write_jsonl(path: Path, records: list[dict]) -> None:
    """One JSON object per line (a history), replaced atomically like every other run file."""
    lines = "".join(json.dumps(record) + "\n" for record in records)
    atomic_write(path, lambda tmp: Path(tmp).write_text(lines))


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:  # ValueError: bad JSON, or bytes that are not UTF-8
        raise AAEError(f"cannot read {path}: {err}") from None


def read_json_object(path: Path, what: str) -> dict:
    """read_json, refusing anything but a JSON object (a list or a number where `what` should be)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise AAEError(f"{path} is not {what} (not a JSON object)")
    return data


def refuse_to_overwrite(path: Path, force: bool) -> None:
    """A result a user made is replaced only on purpose."""
    if path.exists() and not force:
        raise AAEError(f"{path} exists; pass --force to overwrite it, or choose another --out")


def check_path(path: str | Path) -> Path:
    """A path a user gave, refused up front when it cannot name a file: empty, or a part too long."""
    if str(path) == "":
        raise AAEError("an empty path names the current folder; give a folder name")
    for part in Path(path).parts:
        if len(os.fsencode(part)) > 255:
            raise AAEError(f"a part of {str(path)[:60]}... is {len(os.fsencode(part))} bytes long; "
                           "file systems allow 255")
    return Path(path)


def probe_writable(folder: Path) -> None:
    """Check, before the work, that files can be written in `folder` or where it would be made, without
    making it: a temporary file is created and removed in the nearest folder that exists."""
    nearest = next(path for path in (folder, *folder.parents) if path.exists() or path == Path(path.anchor or "."))
    if not nearest.is_dir():
        raise AAEError(f"{nearest} is a file, not a folder")
    try:
        tempfile.NamedTemporaryFile(dir=nearest, prefix=".write-test-").close()
    except OSError as err:
        raise AAEError(f"cannot write files in {nearest} ({err.strerror or err})") from None


def make_folder(folder: Path) -> None:
    """mkdir -p, with an AAEError naming the folder when it cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AAEError(f"cannot make the folder {folder} ({err.strerror or err})") from None


def claim_output_file(path: Path, force: bool) -> None:
    """Check before the work that the file `path` may be written: not there (or `force`), its folder
    made and writable."""
    path = check_path(path)
    if path.is_dir():
        raise AAEError(f"{path} is a folder; give a file name")
    refuse_to_overwrite(path, force)
    probe_writable(path.parent)
    make_folder(path.parent)


@contextlib.contextmanager
def exclusive(lock_path: Path, what: str):
    """Hold `lock_path` locked (fcntl.flock) inside the block; a second writer stops at once with an
    AAEError naming the holder's pid. The lock file is removed at the end (one left by a killed
    process is unlocked, and taken over)."""
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise AAEError(f"cannot lock {lock_path} ({err.strerror})") from None
            raise AAEError(f"{what} is in use by another process (pid {lock_holder(lock_path)}); wait for it to "
                           "finish, or choose another --out") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and our lock: take the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        Path(lock_path).unlink(missing_ok=True)
        os.close(fd)


def lock_holder(lock_path: Path) -> str:
    """The pid written in a lock file ('unknown' while its holder has not written it yet)."""
    try:
        return Path(lock_path).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


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
    """One training run on disk; it refuses to overwrite a finished run unless forced, and refuses files
    of another run or of no run at all."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.history_path = self.path / "history.jsonl"
        self.checkpoint_path = self.path / "checkpoint.pt"
        self.summary_path = self.path / "summary.json"
        self.model_path = self.path / "model.pt"
        self.diverged_path = self.path / "diverged.json"
        self.lock_path = self.path / LOCK

    @property
    def finished(self) -> bool:
        return self.summary_path.exists()

    @property
    def started(self) -> bool:
        return self.checkpoint_path.exists()

    def config(self) -> dict:
        """config.json as stored: {"train": ..., "model": ..., "optimizer": ..., "fingerprint": ...,
        "labeled_images": ..., "git_commits": [...]}."""
        config = read_json_object(self.config_path, "a run's config.json")
        if not all(isinstance(config.get(key, {}), dict) for key in ("train", "model")):
            raise AAEError(f"{self.config_path} is not a run's config.json (its train and model settings are missing)")
        return config

    def settings(self) -> tuple[TrainConfig, ModelConfig]:
        """The run's settings, checked; a setting added after the run was stored takes its default (the old
        behaviour)."""
        config = self.config()
        try:
            return (TrainConfig.from_dict(config.get("train", {})).check(unsupervised=True),
                    model_config_from_dict(config.get("model", {})).check())
        except (AAEError, TypeError, ValueError) as err:
            raise AAEError(f"{self.config_path} does not hold a run's settings ({err})") from None

    def train_config(self) -> TrainConfig:
        return self.settings()[0]

    def model_config(self) -> ModelConfig:
        return self.settings()[1]

    def fingerprint(self) -> str:
        """The run's fingerprint, computed from its settings; one stored beside them must agree with it."""
        computed, stored = fingerprint(*self.settings()), self.config().get("fingerprint")
        if stored not in (None, computed):
            raise AAEError(f"{self.config_path} holds settings that do not match its fingerprint (edited by hand?); "
                           "restore them, or start the run over with --force")
        return computed

    def summary(self) -> Summary:
        data = read_json(self.summary_path)
        try:
            return Summary.from_dict(data)
        except TypeError as err:  # a required field missing, or not a number
            raise AAEError(f"{self.summary_path} is not a run summary ({err})") from None

    def history(self) -> list[dict]:
        if not self.history_path.exists():
            return []
        return read_history(self.history_path, "the run's checkpoint.pt holds its history (--resume rewrites the file)")

    def settings_changes(self, train_cfg: TrainConfig, model_cfg: ModelConfig | None = None) -> str:
        """The defining settings that differ from the stored ones ('' when none); model_cfg None: the stored one."""
        stored_train, stored_model = self.settings()
        return setting_changes(defining_settings(stored_train, stored_model),
                               defining_settings(train_cfg, model_cfg or stored_model))

    def differs_from(self, train_cfg: TrainConfig, model_cfg: ModelConfig) -> str:
        """What keeps this folder from holding (the start of) a run of exactly these settings, in words:
        other settings, a summary of another run, another number of epochs finished, or more epochs done
        than asked. '' when nothing does."""
        changes = self.settings_changes(train_cfg, model_cfg)
        if changes:
            return changes
        if self.finished:
            summary = self.summary()
            if summary.fingerprint not in (None, self.fingerprint()):
                return f"{self.summary_path.name} is another run's (fingerprint {summary.fingerprint})"
            return "" if summary.epochs == train_cfg.epochs else f"epochs {summary.epochs} -> {train_cfg.epochs}"
        done = len(self.history())
        return f"{done} epochs done, more than the {train_cfg.epochs} asked for" if done > train_cfg.epochs else ""

    def finished_with(self, train_cfg: TrainConfig, model_cfg: ModelConfig | None = None) -> bool:
        """True when this folder holds a finished run of exactly these settings (same epochs too); an
        AAEError when its settings differ."""
        if not self.finished:
            return False
        self._check_same_settings(train_cfg, model_cfg)
        return not self.differs_from(train_cfg, model_cfg or self.model_config())

    def check_out(self, force: bool = False) -> None:
        """Refuse, before any work, an --out that is neither absent, nor empty, nor a run folder of this
        project (recognised by its files, and by a config.json that holds a run's settings)."""
        refuse_foreign_files(self.path, RUN_FILES, "a run's")
        if self.config_path.exists():  # with --force too: only a run's config.json is replaced
            self.config()
            if not force:
                self.fingerprint()

    def locked(self):
        """The run folder's lock, held while a process writes it (create the folder first)."""
        return exclusive(self.lock_path, f"run folder {self.path}")

    def remove_temporary_files(self) -> None:
        """Temporary files that a killed writer left (the lock holder's to clean)."""
        for path in self.path.glob(".*"):
            if path.name != LOCK and is_own_temporary(path.name):
                path.unlink(missing_ok=True)

    def start(self, train_cfg: TrainConfig, model_cfg: ModelConfig, resume: bool, force: bool,
              labeled_images: str | None = None) -> dict | None:
        """Claim the folder for a run (its lock held). Returns the checkpoint to resume from, or None to
        start fresh.

        A finished run is an AAEError unless `force`; an unfinished one needs `resume` or `force`, and
        the history of one whose checkpoint is gone needs `force`; resuming with other settings than the
        stored ones, a checkpoint of another run, or fewer epochs than done is an AAEError too.
        `labeled_images` (a hash of the labeled images' indices) must match the stored one on resume.
        """
        self.remove_temporary_files()
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
            self._check_same_images(labeled_images)
            state = self.checkpoint(train_cfg.epochs)
            # history.jsonl as the checkpoint has it: a line a killed writer broke is gone, even when the
            # checkpoint is of the last epoch and no epoch is left to rewrite the file
            write_jsonl(self.history_path, state["history"])
        # The code that trains is the code at the start; a resume at another commit is recorded too.
        stored = self.config() if state is not None else {}
        lineage = {"continued_from": stored["continued_from"]} if "continued_from" in stored else {}
        write_json(self.config_path, {"train": train_cfg.to_dict(), "model": asdict(model_cfg),
                                      "optimizer": asdict(train_cfg.optimizer), **lineage,
                                      "fingerprint": fingerprint(train_cfg, model_cfg),
                                      "labeled_images": labeled_images or stored.get("labeled_images"),
                                      "git_commits": stored.get("git_commits", []) + [git_commit()]})
        return state

    def checkpoint(self, max_epochs: int) -> dict:
        """checkpoint.pt, checked: a training state, saved by a run of this folder's settings, at most
        `max_epochs` epochs in (a run never goes back)."""
        state = torch_load(self.checkpoint_path)
        if not (isinstance(state, dict) and isinstance(state.get("epoch"), int)
                and isinstance(state.get("history"), list)):
            raise AAEError(f"{self.checkpoint_path} is not a training checkpoint (no epoch and history)")
        if state.get("fingerprint") not in (None, self.fingerprint()):
            changes = setting_changes(state.get("settings") or {}, defining_settings(*self.settings()))
            raise AAEError(f"{self.checkpoint_path} was saved by a run of other settings than {self.config_path} "
                           f"({changes or 'fingerprint ' + str(state['fingerprint'])}); it belongs to another folder")
        if state["epoch"] > max_epochs:
            raise AAEError(f"{self.path} has trained {state['epoch']} epochs already; --epochs {max_epochs} would "
                           f"end before its checkpoint: ask for {state['epoch']} or more")
        return state

    def continuable(self, train_cfg: TrainConfig, model_cfg: ModelConfig) -> dict:
        """This run's checkpoint, for --continue-from: the same settings, at most train_cfg.epochs in."""
        if not self.started:
            raise AAEError(f"--continue-from {self.path} has no checkpoint.pt to continue from")
        self._check_same_settings(train_cfg, model_cfg, advice="continue with the source run's settings")
        return self.checkpoint(train_cfg.epochs)

    def continue_from(self, source: "RunFolder", state: dict) -> None:
        """Seed this folder (with no run in it) with another run's checkpoint `state` (from
        source.continuable), so that `start(resume=True)` goes on where that run stopped: a 500-epoch run
        is then the 50-epoch run continued, step for step the same as one trained in one go (the schedule
        and the random state live in the checkpoint)."""
        if self.started or self.finished or self.history_path.exists():
            raise AAEError(f"{self.path} already holds a run; --continue-from needs a new --out "
                           "(or --resume, to go on with the run there)")
        try:  # config first: a folder with a checkpoint always has the config it belongs to
            write_json(self.config_path, {**source.config(), "continued_from": str(source.path)})
            atomic_write(self.checkpoint_path, lambda tmp: shutil.copyfile(source.checkpoint_path, tmp))
            write_jsonl(self.history_path, state["history"])  # the checkpoint's own: the source's file may be gone
        except BaseException:
            for path in (self.config_path, self.checkpoint_path, self.history_path):
                path.unlink(missing_ok=True)  # no half-made folder to block a rerun
            raise

    def git_commits(self) -> list[str]:
        """The commits this run was started (first) and resumed (later) at."""
        return self.config().get("git_commits", ["unknown"])

    def _check_same_settings(self, train_cfg: TrainConfig, model_cfg: ModelConfig | None = None,
                             advice: str = "use the stored ones, or --force to start over") -> None:
        changes = self.settings_changes(train_cfg, model_cfg)
        if changes:
            raise AAEError(f"cannot resume {self.path} with other settings ({changes}); {advice}")

    def _check_same_images(self, labeled_images: str | None) -> None:
        stored = self.config().get("labeled_images")
        if None not in (stored, labeled_images) and stored != labeled_images:
            raise AAEError(f"the labeled images drawn now differ from those {self.path} started with (the MNIST "
                           "files or the code that draws them changed); --force starts the run over")

    def save_epoch(self, trainer_state: dict, train_cfg: TrainConfig, model_cfg: ModelConfig) -> None:
        """Checkpoint first (with the run's fingerprint), then the history it contains: history.jsonl never
        runs ahead of it."""
        state = {**trainer_state, "fingerprint": fingerprint(train_cfg, model_cfg),
                 "settings": defining_settings(train_cfg, model_cfg)}
        atomic_write(self.checkpoint_path, lambda tmp: torch.save(state, tmp))
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
        save_model(model, self.model_path, summary.fingerprint)
        write_json(self.summary_path, summary.to_dict())
        self.diverged_path.unlink(missing_ok=True)  # an earlier attempt diverged; this one did not


def is_own_temporary(name: str) -> bool:
    """A file this package makes beside its outputs: a lock, the temporary of a write, a write test."""
    return name == LOCK or (name.startswith(".") and name.endswith(".tmp")) or name.startswith(".write-test-")


def refuse_foreign_files(folder: Path, names, what: str) -> None:
    """--out `folder` is absent, or a folder that holds only `names` (and this package's temporaries): a
    command never writes into someone else's folder."""
    check_path(folder)
    if folder.exists() and not folder.is_dir():
        raise AAEError(f"--out {folder} is a file, not a folder")
    if not folder.is_dir():
        return
    try:
        foreign = sorted(name for name in os.listdir(folder) if name not in names and not is_own_temporary(name))
    except OSError as err:
        raise AAEError(f"cannot read the folder {folder} ({err.strerror})") from None
    if foreign:
        raise AAEError(f"--out {folder} holds files that are not {what} ({', '.join(foreign[:3])}"
                       f"{', ...' if len(foreign) > 3 else ''}); give a new or empty folder")


def json_object(line: str) -> dict | None:
    """One line of a .jsonl file as a dict; None when it is not a JSON object."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def read_history(path: Path, remedy: str = "") -> list[dict]:
    """The epoch records of a history.jsonl, one JSON object a line; a bad line is one error naming it
    (and `remedy`, what mends it), not a record silently dropped."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, ValueError) as err:
        raise AAEError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    records = [json_object(line) for line in lines if line.strip()]
    if None in records:
        raise AAEError(f"{path}: line {records.index(None) + 1} is not a JSON object" + (f"; {remedy}" if remedy else ""))
    return records


def save_model(model: SemiSupervisedAAE, path: Path, run_fingerprint: str | None = None) -> None:
    """fp16 weights and the model config: what the book needs to draw and classify; with the fingerprint
    of the run that trained them, so that weights copied into another run's folder are recognised."""
    payload = {"model_config": asdict(model.cfg), "fingerprint": run_fingerprint,
               "state_dict": {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}}
    atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> SemiSupervisedAAE:
    """The model in eval mode, from a run folder (model.pt, else checkpoint.pt) or either file. Weights
    saved with their run's fingerprint must be of the run whose folder holds them."""
    path = Path(path)
    run = RunFolder(path if path.is_dir() else path.parent)
    if path.is_dir():
        path = run.model_path if run.model_path.exists() else run.checkpoint_path
    payload = torch_load(path)
    model_cfg, weights = model_payload(path, payload)
    saved_by = payload.get("fingerprint")
    if saved_by is not None and run.config_path.exists() and saved_by != run.fingerprint():
        raise AAEError(f"{path} holds the weights of another run (fingerprint {saved_by}; {run.config_path.name} "
                       f"beside it is of {run.fingerprint()}); copy back this run's own {path.name}, or retrain it")
    return model_with_weights(model_cfg, weights, path).to(device).eval()


# Test-accuracy points by which a run's model.pt may differ from its summary: the fp16 rounding of the
# shipped weights moved no test image in the runs checked; another run's weights move hundreds.
SUMMARY_TOLERANCE = 0.1


def check_against_summary(path: str | Path, test_accuracy: float) -> None:
    """In a finished run folder, the measured test accuracy must be the summary's (within SUMMARY_TOLERANCE):
    what catches another run's model.pt saved before weights carried a fingerprint."""
    run = RunFolder(path)
    if not (Path(path).is_dir() and run.finished):
        return
    promised = run.summary().test_accuracy
    if abs(test_accuracy - promised) > SUMMARY_TOLERANCE:
        raise AAEError(f"the weights in {path} give {test_accuracy:.2f}% but its summary.json says {promised:.2f}%: "
                       "they are not this run's (another run's model.pt?); copy back its own, or retrain it")


def model_payload(path: Path, payload) -> tuple[ModelConfig, dict]:
    """The model config and weights of a model.pt or checkpoint.pt payload; an AAEError for anything else
    (the judge classifier's model.pt, a bare tensor, a config out of range)."""
    if isinstance(payload, dict) and "state_dict" in payload:  # model.pt
        if "model_config" not in payload:
            raise AAEError(f"{path} is not an AAE's model.pt (no model_config: the judge classifier's?)")
        config, weights = payload["model_config"], payload["state_dict"]
    elif isinstance(payload, dict) and "model" in payload:  # checkpoint.pt: the model config is in config.json
        run = RunFolder(path.parent)
        config, weights = run.config().get("model", {}) if run.config_path.exists() else {}, payload["model"]
    else:
        raise AAEError(f"{path} holds no model weights")
    if not (isinstance(config, dict) and isinstance(weights, dict) and all(map(torch.is_tensor, weights.values()))):
        raise AAEError(f"{path} holds no model config and weights of an AAE")
    try:
        return model_config_from_dict(config).check(), weights
    except (AAEError, TypeError) as err:
        raise AAEError(f"{path} holds a model config out of range ({err})") from None


def model_with_weights(model_cfg: ModelConfig, weights: dict, path: Path) -> SemiSupervisedAAE:
    """The model of model_cfg with `weights` loaded; the shapes are compared first on the meta device, so
    that a crafted config allocates nothing."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in SemiSupervisedAAE(model_cfg).state_dict().items()}
    given = {k: tuple(v.shape) for k, v in weights.items()}
    wrong = [k for k in {**expected, **given} if expected.get(k) != given.get(k)]
    if wrong:
        raise AAEError(f"weights in {path} do not fit the model of its config ({wrong[0]}: "
                       f"{given.get(wrong[0], 'missing')}, expected {expected.get(wrong[0])})")
    model = SemiSupervisedAAE(model_cfg)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    return model


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
    NonFiniteLossError, keeping the last good checkpoint. Everything is checked before the folder is
    written, and the folder is locked while it is.

    `train`, `reproduce` and the chapters' retrain cells all train through here."""
    from .data import labeled_images_hash, load_mnist, prepare_data

    cfg.check()
    model_cfg.check()
    run, say = RunFolder(out), report or (lambda line: None)
    run.check_out(force)
    if continue_from is not None and force:
        raise AAEError("--continue-from starts a new run folder; it does not go with --force")
    refuse_dirty_results(run.path, allow_dirty)
    probe_writable(run.path)
    device = resolve_device(cfg.device)
    if resume and not force and run.finished_with(cfg, model_cfg):
        with run.locked():
            mend_model(run, say)
        say(f"{run.path}: already finished (test accuracy {run.summary().test_accuracy:.2f}%)")
        return run.summary()
    if resume and not (run.started or run.config_path.exists()):
        say(f"{run.path}: no run there to resume; starting a new one")
    continuing = continue_from is not None and not (resume and run.started)  # a rerun with --resume goes on instead
    source = RunFolder(check_path(continue_from)) if continuing else None
    source_state = source.continuable(cfg, model_cfg) if continuing else None
    mnist = mnist if mnist is not None else load_mnist()
    data = prepare_data(cfg, mnist)  # before the run folder is touched: a data error leaves no trace
    make_folder(run.path)
    with run.locked():
        if continuing:
            run.continue_from(source, source_state)
        state = run.start(cfg, model_cfg, resume=resume or continuing, force=force,
                          labeled_images=labeled_images_hash(cfg, mnist))
        return train_started(run, cfg, model_cfg, data, state, device, progress, updater, say)


def mend_model(run: RunFolder, say) -> None:
    """A finished run's model.pt that no longer loads as its own (truncated, another run's) is remade from
    its checkpoint.pt of the last epoch; with none, an AAEError: the run must be trained again. A run
    whose weights were never kept (git-ignored) has no model.pt, and nothing to mend."""
    if not run.model_path.exists():
        return
    try:
        load_checkpoint(run.model_path)
        return
    except AAEError as err:
        broken = str(err)
    summary = run.summary()
    state = run.checkpoint(summary.epochs) if run.started else None
    if state is None or state["epoch"] != summary.epochs:
        raise AAEError(f"{run.path} holds a finished run, but {broken}, and no checkpoint.pt of its last epoch "
                       "can remake it; --force trains the run again")
    model = model_with_weights(run.model_config(), state["model"], run.checkpoint_path)
    save_model(model, run.model_path, summary.fingerprint)
    say(f"{run.model_path}: {broken}; remade from checkpoint.pt (epoch {summary.epochs})")


def train_started(run: RunFolder, cfg: TrainConfig, model_cfg: ModelConfig, data, state: dict | None,
                  device: torch.device, progress: bool, updater, say) -> Summary:
    """The training half of train_run, in a claimed run folder: from `state` (None: a fresh model) to
    cfg.epochs, then summary.json and model.pt."""
    from .provenance import provenance
    from .train import NonFiniteLossError, make_trainer

    def save_and_report(trainer, record):
        run.save_epoch(trainer.state_dict(), cfg, model_cfg)
        losses = "  ".join(f"{name} {record[f'loss_{name}']:.4g}" for name in ("recon", "class")
                           if f"loss_{name}" in record)
        say(f"epoch {record['epoch']:>4}/{cfg.epochs}  {losses}  val {record['val_accuracy']:.2f}%  "
            f"{record['seconds']:.1f} s")

    trainer = make_trainer(cfg, data, model_cfg, device=device, callbacks=[save_and_report], progress=progress,
                           updater=updater)
    if state is not None:
        try:
            trainer.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise AAEError(f"{run.checkpoint_path} does not fit this run's trainer ({first_line(err)}); "
                           "--force starts the run over") from None
        say(f"{run.path}: resuming after epoch {trainer.epoch}")
    try:
        trainer.fit(cfg.epochs)
    except NonFiniteLossError as err:  # a diverged run is a result too: say where, keep the folder
        run.record_divergence({"epoch": err.epoch, "step": err.step, "losses": err.losses, "message": str(err),
                               **provenance(device, sum(r["seconds"] for r in trainer.history))})
        raise
    config = run.config()
    summary = run_summary(run, cfg, trainer.model, trainer.data, trainer.history, trainer.updater.description, device,
                          fingerprint=config["fingerprint"], labeled_images=config.get("labeled_images"))
    run.finish(trainer.model, summary)
    say(f"test accuracy {summary.test_accuracy:.2f}%  ({run.path})")
    return summary

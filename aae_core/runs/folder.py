"""The run folder: one training run on disk, its files checked to be its own.

    <run>/config.json     every setting (train, model, optimizer preset)
    <run>/history.jsonl   one JSON object per finished epoch
    <run>/checkpoint.pt   full resume state after the last finished epoch (large, git-ignored)
    <run>/summary.json    written once the run has finished: test accuracy and provenance
    <run>/model.pt        fp16 weights for the book, loadable with weights_only=True
    <run>/diverged.json   only if a loss turned NaN/inf: the epoch and step, and the message

A process that writes a run folder holds its lock from start to end; every file is replaced atomically.
"""
from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import torch

from ..config import ModelConfig, TrainConfig, model_config_from_dict
from ..errors import AAEError
from ..provenance import git_commit
from .files import (LOCK, atomic_write, exclusive, is_own_temporary, read_history, read_json, read_json_object,
                    refuse_foreign_files, torch_load, write_json, write_jsonl)
from .records import NOT_RECORDED, Summary, defining_settings, fingerprint, setting_changes

RUN_FILES = ("config.json", "history.jsonl", "checkpoint.pt", "summary.json", "model.pt", "diverged.json")


def machines_of(config: dict, commits: list[str]) -> list[str]:
    """The machines config.json records, one per part of the run (its commits); 'not recorded' for every
    part when the run began before runs recorded them."""
    return config.get("machines", [NOT_RECORDED] * len(commits))


def refuse_missed_milestones(path: Path, history: list[dict], train_cfg: TrainConfig) -> None:
    """A run that goes on from its `history` cannot measure a milestone it has passed: one with no test
    accuracy there is refused, not stored in config.json as if it would be on the curve."""
    measured = {line.get("epoch") for line in history if "test_accuracy" in line}
    missed = [m for m in train_cfg.milestones if m <= len(history) and m not in measured]
    if missed:
        raise AAEError(f"{path} is {len(history)} epochs in, past milestone epoch(s) {', '.join(map(str, missed))} "
                       "that it did not measure; leave them out of --milestones")


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
            try:
                self.config()
            except AAEError as err:
                raise AAEError(f"{err}; a file of no run is never replaced: move it away to use this --out") from None
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
              labeled_images: str | None = None, machine: str = NOT_RECORDED) -> dict | None:
        """Claim the folder for a run (its lock held). Returns the checkpoint to resume from, or None to
        start fresh.

        A finished run is an AAEError unless `force`; an unfinished one needs `resume` or `force`, and
        the history of one whose checkpoint is gone needs `force`, as does a run that diverged before its
        first checkpoint (diverged.json, no checkpoint); resuming with other settings than the
        stored ones, a checkpoint of another run, or fewer epochs than done is an AAEError too.
        `labeled_images` (a hash of the labeled images' indices) must match the stored one on resume.
        `machine` (devices.describe_machine) is recorded beside the commit, for this part of the run.
        """
        self.remove_temporary_files()
        if self.finished and not force:
            summary = self.summary()
            held = f"{self.path} holds a finished run (test accuracy {summary.test_accuracy:.2f}%)"
            ran = summary.epochs
            if resume and ran > train_cfg.epochs:  # asked for fewer epochs than it has: a run never goes back
                raise AAEError(f"{held} of {ran} epochs, more than --epochs {train_cfg.epochs}; give --epochs {ran} "
                               "to leave it as it is, or choose another --out")
            if resume:  # asked to go on with a finished run: more epochs go to a new folder, never over it
                raise AAEError(f"{held}; to train it further, give --continue-from {self.path} and a new --out")
            raise AAEError(f"{held}; pass --force to overwrite it, or choose another --out")
        if self.started and not (resume or force):
            raise AAEError(f"{self.path} holds an unfinished run (epoch {len(self.history())}); "
                           "pass --resume to continue it, or --force to start over")
        if not (self.started or force) and self.diverged:
            raise AAEError(f"{self.path} holds a run whose loss turned NaN/inf before its first checkpoint "
                           "(diverged.json); pass --force to start over, or choose another --out")
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
            refuse_missed_milestones(self.path, state["history"], train_cfg)
            # history.jsonl as the checkpoint has it: a line a killed writer broke is gone, even when the
            # checkpoint is of the last epoch and no epoch is left to rewrite the file
            write_jsonl(self.history_path, state["history"])
        # The code that trains is the code at the start; a resume at another commit or machine is recorded too.
        stored = self.config() if state is not None else {}
        commits = stored.get("git_commits", [])
        machines = machines_of(stored, commits)
        lineage = {"continued_from": stored["continued_from"]} if "continued_from" in stored else {}
        write_json(self.config_path, {"train": train_cfg.to_dict(), "model": asdict(model_cfg),
                                      "optimizer": asdict(train_cfg.optimizer), **lineage,
                                      "fingerprint": fingerprint(train_cfg, model_cfg),
                                      "labeled_images": labeled_images or stored.get("labeled_images"),
                                      "git_commits": commits + [git_commit()],
                                      "machines": machines + [machine]})
        return state

    def checkpoint(self, max_epochs: int | None = None) -> dict:
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
        if max_epochs is not None and state["epoch"] > max_epochs:
            raise AAEError(f"{self.path} has trained {state['epoch']} epochs already; --epochs {max_epochs} would "
                           f"end before its checkpoint: ask for {state['epoch']} or more")
        return state

    def continuable(self, train_cfg: TrainConfig, model_cfg: ModelConfig) -> dict:
        """This run's checkpoint, for --continue-from: the same settings, fewer than train_cfg.epochs in."""
        if not self.started:
            raise AAEError(f"--continue-from {self.path} has no checkpoint.pt to continue from")
        self._check_same_settings(train_cfg, model_cfg, doing="continue from",
                                  advice="give the source run's settings again, with more --epochs")
        state = self.checkpoint()
        if state["epoch"] >= train_cfg.epochs:
            raise AAEError(f"--continue-from {self.path} is already {state['epoch']} epochs in; "
                           f"give --epochs {state['epoch'] + 1} or more to continue it")
        refuse_missed_milestones(self.path, state["history"], train_cfg)
        return state

    def continue_from(self, source: "RunFolder", state: dict) -> None:
        """Seed this folder (with no run in it) with another run's checkpoint `state` (from
        source.continuable), so that `start(resume=True)` goes on where that run stopped: a 500-epoch run
        is then the 50-epoch run continued, step for step the same as one trained in one go (the schedule
        and the random state live in the checkpoint)."""
        held = [name for name in RUN_FILES if (self.path / name).exists()]
        if held:  # a config.json or diverged.json alone is a run's record too
            raise AAEError(f"{self.path} already holds a run ({', '.join(held)}); --continue-from needs a new "
                           "--out (or --resume, to go on with the run there)")
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

    def machines(self) -> list[str]:
        """The machines this run was started (first) and resumed (later) on, 'not recorded' where a part
        ran before runs recorded them."""
        return machines_of(self.config(), self.git_commits())

    def _check_same_settings(self, train_cfg: TrainConfig, model_cfg: ModelConfig | None = None,
                             advice: str = "use the stored ones, or --force to start over",
                             doing: str = "resume") -> None:
        changes = self.settings_changes(train_cfg, model_cfg)
        if changes:
            raise AAEError(f"cannot {doing} {self.path} with other settings ({changes}); {advice}")

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

    def finish(self, summary: Summary) -> None:
        """summary.json, written once model.pt is (runs.weights.save_model): a finished run has its weights."""
        write_json(self.summary_path, summary.to_dict())
        self.diverged_path.unlink(missing_ok=True)  # an earlier attempt diverged; this one did not

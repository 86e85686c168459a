"""The one function that trains a run folder end to end: check, lock, build, train, summarise.

`train`, `reproduce` and the chapters' retrain cells all train through `train_run`.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .. import data as mnist_data  # looked up when called: a test hands in its MNIST by patching load_mnist
from ..config import ModelConfig, TrainConfig
from ..devices import resolve_device
from ..errors import AAEError
from ..evaluate import accuracy
from ..models import SemiSupervisedAAE
from ..provenance import provenance
from ..speed.updaters import fastest_updater
from ..train import NonFiniteLossError, UpdaterFactory, make_trainer
from .files import check_path, first_line, make_folder, probe_writable, refuse_dirty_results
from .folder import RunFolder
from .records import Summary
from .weights import mend_model, save_model


def train_run(out: str | Path, cfg: TrainConfig, model_cfg: ModelConfig = ModelConfig(), *, resume: bool = False,
              continue_from: str | Path | None = None, force: bool = False, progress: bool = True,
              updater: UpdaterFactory = fastest_updater, report=None, mnist=None,
              allow_dirty: bool = False) -> Summary:
    """Train the run folder `out` end to end and return its summary: claim the folder (fresh, resumed,
    or continued from another run's checkpoint), train to cfg.epochs with a checkpoint after every
    epoch, then write summary.json and model.pt. `updater` (the fastest, unless told otherwise) turns
    each phase's loss into an update. `report(line)` hears each epoch and the end (the
    command line prints them). A loss that turns NaN writes diverged.json and raises
    NonFiniteLossError, keeping the last good checkpoint. Everything is checked before the folder is
    written, and the folder is locked while it is."""
    # (1) check: the settings and the folder, before anything is written
    run, say = RunFolder(out), report or (lambda line: None)
    check_before_writing(run, cfg, model_cfg, continue_from, force, allow_dirty)
    device = resolve_device(cfg.device)
    if resume and not force and run.finished_with(cfg, model_cfg):
        return already_finished(run, say)
    if resume and not (run.started or run.config_path.exists()):
        say(f"{run.path}: no run there to resume; starting a new one")
    continuing = continue_from is not None and not (resume and run.started)  # a rerun with --resume goes on instead
    source = RunFolder(check_path(continue_from)) if continuing else None
    source_state = source.continuable(cfg, model_cfg) if continuing else None
    mnist = mnist if mnist is not None else mnist_data.load_mnist()
    data = mnist_data.prepare_data(cfg, mnist)  # before the run folder is touched: a data error leaves no trace
    # (2) lock: the folder is this process's until the run ends
    make_folder(run.path)
    with run.locked():
        if continuing:
            run.continue_from(source, source_state)
        state = run.start(cfg, model_cfg, resume=resume or continuing, force=force,
                          labeled_images=mnist_data.labeled_images_hash(cfg, mnist))
        # (3) build, (4) train, (5) summarise
        trainer = make_trainer(cfg, data, model_cfg, device=device, progress=progress, updater=updater)
        return train_started(run, trainer, state, say)


def check_before_writing(run: RunFolder, cfg: TrainConfig, model_cfg: ModelConfig, continue_from, force: bool,
                         allow_dirty: bool) -> None:
    """Settings in range, an --out that is absent, empty or a run folder, a clean tree for results/, and a
    folder that can be written: every refusal comes before the run folder is touched."""
    cfg.check()
    model_cfg.check()
    run.check_out(force)
    if continue_from is not None and force:
        raise AAEError("--continue-from starts a new run folder; it does not go with --force")
    refuse_dirty_results(run.path, allow_dirty)
    probe_writable(run.path)


def already_finished(run: RunFolder, say) -> Summary:
    """A finished run of these settings, resumed: nothing to train (its model.pt mended if broken)."""
    with run.locked():
        mend_model(run, say)
    say(f"{run.path}: already finished (test accuracy {run.summary().test_accuracy:.2f}%)")
    return run.summary()


def train_started(run: RunFolder, trainer, state: dict | None, say) -> Summary:
    """The training half of train_run, in a claimed run folder: from `state` (None: a fresh model) to
    cfg.epochs with a checkpoint after each epoch, then summary.json and model.pt."""
    cfg, model_cfg, device = trainer.cfg, trainer.model.cfg, trainer.device

    def save_and_report(trainer, record):
        run.save_epoch(trainer.state_dict(), cfg, model_cfg)
        losses = "  ".join(f"{name} {record[f'loss_{name}']:.4g}" for name in ("recon", "class")
                           if f"loss_{name}" in record)
        say(f"epoch {record['epoch']:>4}/{cfg.epochs}  {losses}  val {record['val_accuracy']:.2f}%  "
            f"{record['seconds']:.1f} s")

    trainer.callbacks.append(save_and_report)
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
        record_divergence(run, err, device, trainer.history)
        raise
    summary = run_summary(run, cfg, trainer.model, trainer.data, trainer.history, trainer.updater.description, device)
    finish_run(run, trainer.model, summary, say)
    return summary


def record_divergence(run: RunFolder, err: NonFiniteLossError, device: torch.device, history: list[dict]) -> None:
    """diverged.json: where the loss turned NaN/inf, and on what machine after how long."""
    run.record_divergence({"epoch": err.epoch, "step": err.step, "losses": err.losses, "message": str(err),
                           **provenance(device, sum(r["seconds"] for r in history))})


def finish_run(run: RunFolder, model: SemiSupervisedAAE, summary: Summary, say) -> None:
    """model.pt, then summary.json: a run is finished once both are written."""
    save_model(model, run.model_path, summary.fingerprint)
    run.finish(summary)
    say(f"test accuracy {summary.test_accuracy:.2f}%  ({run.path})")


def run_summary(run: RunFolder, cfg: TrainConfig, model: SemiSupervisedAAE, data, history: list[dict], update: str,
                device: torch.device, **extra) -> Summary:
    """What summary.json says of a run that has trained to its last epoch: its test accuracy (measured
    here, once) and the provenance of the code, machine and library that made it."""
    config = run.config()
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
        "continued_from": config.get("continued_from"), "fingerprint": config["fingerprint"],
        "labeled_images": config.get("labeled_images"), **extra,
    })

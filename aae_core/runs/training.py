"""The one function that trains a run folder end to end (check, lock, build, train, summarise), and the
one driver of claimed run folders that it and the stacked runs (speed.stacked) hand their trainer to.

`train`, `reproduce` and the chapters' retrain cells all train through `train_run`.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .. import data as mnist_data  # looked up when called: a test hands in its MNIST by patching load_mnist
from ..config import ModelConfig, TrainConfig
from ..devices import describe_machine, native_bf16, resolve_device
from ..errors import AAEError, NonFiniteLossError
from ..evaluate import accuracy
from ..models import SemiSupervisedAAE
from ..provenance import provenance
from ..speed.updaters import fastest_updater
from ..train import Trainer, UpdaterFactory, make_trainer
from ..paths import check_path
from .files import first_line, make_folder, probe_writable, refuse_dirty_results
from .folder import RunFolder, refuse_missed_milestones
from .records import Summary, machines_in_order
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
        refuse_missed_milestones(run.path, run.history(), cfg)
        return already_finished(run, say)
    if resume and continue_from is None and not (run.started or run.config_path.exists()):
        say(f"{run.path}: no run there to resume; starting a new one")  # (with --continue-from: continuing one)
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
                          labeled_images=mnist_data.labeled_images_hash(cfg, mnist),
                          machine=describe_machine(device))
        warn_of_emulated_bf16(cfg, device, say)
        warn_of_machine_change(run, say)
        # (3) build, (4) train, (5) summarise
        trainer = make_trainer(cfg, data, model_cfg, device=device, progress=progress, updater=updater)
        [summary] = drive([run], OneRun(trainer), [state], say)
        return summary


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


class OneRun:
    """A Trainer seen as a stack of one run: what `drive` reads of every trainer (as StackedTrainer has it).
    Its loss turning NaN/inf ends the run with NonFiniteLossError, once its record is written."""

    def __init__(self, trainer: Trainer):
        self.trainer, self.device = trainer, trainer.device
        self.cfgs, self.models, self.data = [trainer.cfg], [trainer.model], [trainer.data]
        self.description = trainer.updater.description
        self.diverged: set[int] = set()  # never filled: a lone run that diverges ends in its error

    @property
    def epoch(self) -> int:
        return self.trainer.epoch

    @property
    def history(self) -> list[list[dict]]:
        return [self.trainer.history]

    def state_dict(self, r: int) -> dict:
        return self.trainer.state_dict()

    def load_state_dicts(self, states: list[dict]) -> None:
        self.trainer.load_state_dict(states[0])

    def fit(self, epochs: int, on_epoch, on_diverged) -> None:
        self.trainer.callbacks.append(lambda trainer, record: on_epoch(0, record))
        try:
            self.trainer.fit(epochs)
        except NonFiniteLossError as err:
            on_diverged(0, err)
            raise


def drive(runs: list[RunFolder], trainer, states: list[dict | None], say, checkpoint_every: int = 1,
          stacked: bool = False) -> list[Summary | None]:
    """The one driver of run folders, claimed and locked by the caller (`states`: what each resumes from,
    None: fresh), handed a trainer of as many runs (OneRun, or a StackedTrainer): resume, train to the
    runs' epochs with a checkpoint every `checkpoint_every` epochs and after the last, then finish each
    (model.pt, summary.json). A run whose loss turns NaN/inf keeps its last good checkpoint and gets its
    diverged.json; its summary is None, and the others of a stack go on."""
    cfgs, model_cfg = trainer.cfgs, trainer.models[0].cfg

    def save_and_report(r: int, record: dict) -> None:
        if record["epoch"] % checkpoint_every == 0 or record["epoch"] == cfgs[r].epochs:
            runs[r].save_epoch(trainer.state_dict(r), cfgs[r], model_cfg)
        say(epoch_line(runs[r], cfgs[r], record, stacked))

    def diverged(r: int, err: NonFiniteLossError) -> None:  # a diverged run is a result too: say where
        record_divergence(runs[r], err, trainer.device, trainer.history[r])
        if stacked:
            say(f"{runs[r].path}: {err}")

    resume(runs, trainer, states, say, stacked)
    trainer.fit(cfgs[0].epochs, on_epoch=save_and_report, on_diverged=diverged)
    summaries = []
    for r, run in enumerate(runs):
        if r in trainer.diverged:
            summaries.append(None)
            continue
        others = {"stacked_with": [str(other.path) for other in runs if other is not run]} if stacked else {}
        summary = run_summary(run, cfgs[r], trainer.models[r], trainer.data[r], trainer.history[r], trainer.description,
                              trainer.device, **others)
        finish_run(run, trainer.models[r], summary, say)
        summaries.append(summary)
    return summaries


def resume(runs: list[RunFolder], trainer, states: list[dict | None], say, stacked: bool) -> None:
    """The trainer at the runs' checkpoints, where they have them (all of a stack, or none)."""
    if all(state is None for state in states):
        return
    if any(state is None for state in states):
        raise AAEError("some of these runs have a checkpoint and some have none; resume them apart")
    try:
        trainer.load_state_dicts(states)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        if stacked:
            raise
        raise AAEError(f"{runs[0].checkpoint_path} does not fit this run's trainer ({first_line(err)}); "
                       "--force starts the run over") from None
    say(f"resuming {len(runs)} stacked runs after epoch {trainer.epoch}" if stacked else
        f"{runs[0].path}: resuming after epoch {trainer.epoch}")


def epoch_line(run: RunFolder, cfg: TrainConfig, record: dict, stacked: bool) -> str:
    """What `report` hears after an epoch: a run's losses, or, in a stack, which run."""
    tail = f"val {record['val_accuracy']:.2f}%  {record['seconds']:.1f} s"
    if stacked:
        return f"{run.path}: epoch {record['epoch']:>4}/{cfg.epochs}  {tail}"
    losses = "  ".join(f"{name} {record[f'loss_{name}']:.4g}" for name in ("recon", "class") if f"loss_{name}" in record)
    return f"epoch {record['epoch']:>4}/{cfg.epochs}  {losses}  {tail}"


def record_divergence(run: RunFolder, err: NonFiniteLossError, device: torch.device, history: list[dict]) -> None:
    """diverged.json: where the loss turned NaN/inf, and on what machine after how long."""
    run.record_divergence({"epoch": err.epoch, "step": err.step, "losses": err.losses, "message": str(err),
                           **provenance(device, sum(r["seconds"] for r in history))})


def finish_run(run: RunFolder, model: SemiSupervisedAAE, summary: Summary, say) -> None:
    """model.pt, then summary.json: a run is finished once both are written."""
    save_model(model, run.model_path, summary.fingerprint)
    run.finish(summary)
    say(f"test accuracy {summary.test_accuracy:.2f}%  ({run.path})")


def warn_of_emulated_bf16(cfg: TrainConfig, device: torch.device, say) -> None:
    """Say (without stopping) that bf16 will be slow here: a CPU without bf16 support in oneDNN
    (an AVX2-only CPU) emulates it, many times slower than fp32."""
    if cfg.precision != "fp32" and not native_bf16(device):
        say(f"note: this CPU has no bf16 instructions ({describe_machine(device)}); bf16 is emulated here, "
            "many times slower than fp32 (appendix C): --precision fp32 is the faster choice on it")


def warn_of_machine_change(run: RunFolder, say) -> None:
    """Say (without stopping) that a run goes on on another machine, or number of threads, than its
    training so far: its result is then a mix of two, which its summary records."""
    *before, now = run.machines()
    recorded = machines_in_order(before)
    if recorded and recorded[-1] != now:
        say(f"note: {run.path} trained so far on {recorded[-1]}, and goes on here on {now}; runs are not "
            "bit-identical across machines or thread counts, so its summary lists both and the long-run "
            "tables give it a row of its own")


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
        "machines": run.machines(),
        "continued_from": config.get("continued_from"), "fingerprint": config["fingerprint"],
        "labeled_images": config.get("labeled_images"), **extra,
    })

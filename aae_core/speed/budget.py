"""Long runs sized to a time budget: measure the stacked step first, then train only what finishes.

A GPU is lent here for minutes at a time (one command at most 10 minutes). A stack of R runs in one
process (speed/stacked.py, one CUDA graph a step) trains many long runs at once, but its state, R full
checkpoints, is too large to carry to a later command: a stack must finish what it starts. So the
plan is sized before any training, from the step's own time measured in the first seconds:

  * the largest stack of the plan's first runs that finishes all its epochs within the budget; or
  * where not even one run finishes, one run trained for as many epochs as fit and stopped after a
    whole epoch, its checkpoint kept, so that a later command resumes it (one checkpoint fits); or
  * a refusal, in one line, before any training.

The estimate is the measured step time times the steps to go, plus each epoch's validation, with
SAFETY of the budget held back for loading, the last checkpoints and packing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..config import N_TRAIN, ModelConfig, TrainConfig
from ..data import SemiSupervisedData, prepare_data
from ..errors import AAEError
from ..evaluate import accuracy
from ..models import SemiSupervisedAAE
from ..train import steps_per_epoch
from .stacked import StackedRun, StackedTrainer

SAFETY = 0.15  # of the budget, kept for loading MNIST, the final checkpoints, evaluation and packing
PROTOCOL_SEEDS = (100, 101, 102, 103, 104)  # the final table's: the same label draws, weights and batches
SHORT = (50, 100, 200, 500)
LONG = (50, 100, 200, 500, 1000, 2000)


@dataclass(frozen=True)
class LongRun:
    """One planned long run: `paper-sgd` (drops at epochs 50 and 1000), fp32, test accuracy at milestones."""

    labels: int | str
    seed: int
    epochs: int
    milestones: tuple = SHORT

    def config(self, device: str) -> TrainConfig:
        return TrainConfig(labels=self.labels, seed=self.seed, epochs=self.epochs, milestones=self.milestones,
                           preset="paper-sgd", precision="fp32", device=device)

    @property
    def name(self) -> str:
        return f"paper-sgd/labels-{self.labels}/seed-{self.seed}"


# The long runs of chapter 3, in the order they are wanted: (a) 100 labels to 500 epochs; (b) 1000 and all
# labels to 500; (c) one strong (102: 96.52% at 50 epochs) and one weak (101: 87.93%) 100-label seed of the
# final table to 2000 epochs, past the second drop. Each was so in every run of it so far (fp32, and bf16 on two
# CPU kinds to 500 epochs), where seed 100 was weak on one machine kind and strong on another.
PLANS = {
    "a": tuple(LongRun(100, seed, 500) for seed in PROTOCOL_SEEDS),
    "b": tuple(LongRun(n, seed, 500) for n in (1000, "all") for seed in PROTOCOL_SEEDS),
    "c": tuple(LongRun(100, seed, 2000, LONG) for seed in (102, 101)),
}


@dataclass(frozen=True)
class Sizing:
    """What fits: `runs` stacked to their last epoch, or (continue_epochs set) the first run alone, stopped
    after `continue_epochs` epochs to be resumed later. `seconds` is the estimate; `said` the one line."""

    runs: tuple
    seconds: float
    said: str
    continue_epochs: int | None = None
    left: tuple = field(default=())


@dataclass(frozen=True)
class StepTimes:
    """Seconds per stacked step at R = 1 and R = `runs`, and per validation of one run (one epoch's)."""

    one: float
    runs: int
    many: float
    validation: float

    def step(self, r: int) -> float:
        """The step time of a stack of r runs, on the line through the two measured stacks."""
        if self.runs == 1:
            return self.one
        return self.one + (self.many - self.one) * (r - 1) / (self.runs - 1)


def estimate(times: StepTimes, runs, steps: int, epochs_done: int = 0) -> float:
    """Seconds to train `runs` stacked from `epochs_done` to their (common) last epoch."""
    epochs = max(run.epochs for run in runs) - epochs_done
    return epochs * (steps * times.step(len(runs)) + len(runs) * times.validation)


def size_plan(plan, times: StepTimes, steps: int, budget_s: float, first_done: int = 0) -> Sizing:
    """The most of `plan` (its first runs, one stack of equal length) that finishes within the budget; else
    one run for the epochs that fit; AAEError when not even one epoch fits. `first_done`: epochs the
    first run has already trained (a run continued from its checkpoint goes on alone)."""
    usable = budget_s * (1 - SAFETY)
    same = [run for run in plan if run.epochs == plan[0].epochs]  # a stack trains to one last epoch
    for r in range(0 if first_done else len(same), 0, -1):
        seconds = estimate(times, same[:r], steps)
        if seconds <= usable:
            left = tuple(plan[r:])
            said = (f"fits {r} of {len(plan)} runs to epoch {plan[0].epochs} in about {seconds / 60:.1f} of "
                    f"{budget_s / 60:.1f} min ({1e3 * times.step(r):.2f} ms a stacked step of {r})")
            return Sizing(tuple(same[:r]), seconds, said + (f"; left for a later command: {len(left)}" if left else ""),
                          left=left)
    per_epoch = estimate(times, plan[:1], steps) / plan[0].epochs
    epochs = min(plan[0].epochs, first_done + int(usable // per_epoch))
    if epochs == plan[0].epochs:
        return Sizing(tuple(plan[:1]), (epochs - first_done) * per_epoch,
                      f"{plan[0].name} goes on alone from epoch {first_done} to its last, {epochs}, in about "
                      f"{(epochs - first_done) * per_epoch / 60:.1f} of {budget_s / 60:.1f} min", left=tuple(plan[1:]))
    if epochs <= first_done:
        raise AAEError(f"a budget of {budget_s / 60:.1f} min fits not one epoch of {plan[0].name} "
                       f"(about {per_epoch:.0f} s an epoch here); give more minutes")
    said = (f"fits no whole run: {plan[0].name} alone from epoch {first_done} to {epochs} of {plan[0].epochs} in "
            f"about {(epochs - first_done) * per_epoch / 60:.1f} of {budget_s / 60:.1f} min, its checkpoint kept "
            "for a later command")
    return Sizing(tuple(plan[:1]), (epochs - first_done) * per_epoch, said, continue_epochs=epochs,
                  left=tuple(plan[1:]))


def time_stack(cfgs: list[TrainConfig], data: list[SemiSupervisedData], model_cfg: ModelConfig,
               device: torch.device, steps: int = 20, warmup: int = 5) -> float:
    """Seconds per step of these runs stacked (fresh models; nothing of theirs is kept), after `warmup`
    steps that include the CUDA graph's recording."""
    trainer = StackedTrainer([StackedRun.fresh(cfg, d, model_cfg, device) for cfg, d in zip(cfgs, data)], device)
    trainer.set_learning_rates()
    for _ in range(warmup):
        trainer.step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        losses = trainer.step()
    losses.sum().item()  # waits for the last step's kernels
    return (time.perf_counter() - start) / steps


def measure(plan, mnist, device: torch.device, model_cfg: ModelConfig = ModelConfig(), steps: int = 20,
            unlabeled: int | None = None) -> StepTimes:
    """The step of a stack of one and of the whole plan (at most its first runs of equal length), and one
    run's validation, timed on this device."""
    same = [run for run in plan if run.epochs == plan[0].epochs]
    cfgs = [run.config(device.type).with_(unlabeled=unlabeled) for run in same]
    data = [prepare_data(cfg, mnist) for cfg in cfgs]
    one = time_stack(cfgs[:1], data[:1], model_cfg, device, steps)
    many = time_stack(cfgs, data, model_cfg, device, steps) if len(cfgs) > 1 else one
    validation = data[0].to(device)
    model = SemiSupervisedAAE(model_cfg).to(device)
    accuracy(model, validation.val_x, validation.val_y)  # warm-up
    sync(device)
    start = time.perf_counter()
    accuracy(model, validation.val_x, validation.val_y)
    return StepTimes(one, len(cfgs), many, time.perf_counter() - start)


def plan_steps(plan, unlabeled: int | None = None) -> int:
    """Steps in one epoch of the plan's runs (all of one epoch definition and batch size)."""
    cfg = plan[0].config("cpu").with_(unlabeled=unlabeled)
    return steps_per_epoch(cfg.epoch_def, cfg.unlabeled or N_TRAIN, cfg.n_labeled, cfg.batch_size)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)

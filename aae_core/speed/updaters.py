"""The seam between the trainer and the speed work: one factory picks, by precision and device, the
fastest updater that computes what `PlainUpdater` computes.

    fp32 (SGD)      torch's fused SGD kernel run weight by weight inside the backward pass
    bf16 (copies)   the step computes with bf16 copies of the weights; one compiled update per phase
    bf16 (autocast) fp32 weights cast in each product, the optimizer step after the backward pass
    on a GPU        any of these, the whole step recorded once as a CUDA graph and replayed
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..config import BF16_WEIGHTS, OPTIMIZER_KERNELS, TrainConfig
from ..errors import AAEError
from ..models import SemiSupervisedAAE
from ..train import PlainUpdater
from .cuda_graphs import GraphedStep, can_use_cuda_graphs
from .in_backward import UpdatesInBackward, can_update_in_backward
from .weight_copies import CopyOptimizer, bf16_copy, sync_copies

FUSED_DEVICE_TYPES = ("cpu", "cuda")  # where torch ships fused SGD and AdamW kernels


@dataclass(frozen=True)
class SpeedOptions:
    """How a step runs, never what it computes (the bench compares them; `train` takes the defaults)."""

    optimizer_kernel: str | None = None  # "fused", "foreach" or "loop"; None = the fastest the device has
    bf16_weights: str = "copies"  # with bf16: compute with bf16 weight copies, or cast fp32 weights (autocast)
    update_in_backward: bool = True  # fused SGD steps inside the backward pass, where they can run
    cuda_graphs: bool | None = None  # replay each step as one CUDA graph; None = wherever the device has them


def best_optimizer_kernel(device: torch.device) -> str:
    """'fused' (one pass over each tensor per update) where available, else 'foreach'."""
    return "fused" if device.type in FUSED_DEVICE_TYPES else "foreach"


def kernel_flags(kernel: str) -> dict:
    """The optimizer arguments that select `kernel`; the update's math is the same for all three."""
    return {"fused": {"fused": True, "foreach": False}, "foreach": {"fused": False, "foreach": True},
            "loop": {"fused": False, "foreach": False}}[kernel]


class FastUpdater(PlainUpdater):
    """PlainUpdater with torch's chosen optimizer kernel and, on a GPU, the step as a CUDA graph.
    (AdamW is built `capturable` when graphed: torch refuses to record the other.)"""

    def __init__(self, model: SemiSupervisedAAE, cfg: TrainConfig, device: torch.device, kernel: str,
                 graphed: bool):
        capturable = {"capturable": graphed} if cfg.optimizer.name == "adamw" else {}
        super().__init__(model, cfg, device, **kernel_flags(kernel), **capturable)
        self.kernel, self.graphed, self.precision = kernel, graphed, cfg.precision

    in_backward = False  # whether the update runs inside the backward pass
    when = ""  # the same, in words

    @property
    def description(self) -> str:
        autocast = "autocast, " if self.precision != "fp32" else ""
        return f"{autocast}{self.kernel} optimizer steps{self.when}{self.graph_words}"

    @property
    def graph_words(self) -> str:
        return ", each step one CUDA graph" if self.graphed else ""

    def step_runner(self, step_fn: Callable, generator: torch.Generator, loss_names: list[str]) -> Callable:
        if not self.graphed:
            return step_fn
        return GraphedStep(step_fn, generator, loss_names, self.optimizers)


class InBackwardUpdater(FastUpdater):
    """Each weight updated by torch's fused SGD kernel as soon as its gradient is complete, while the
    weight and gradient are still in cache; bit for bit the update after the backward pass."""

    in_backward, when = True, " inside the backward pass"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hooks = UpdatesInBackward(self.optimizers)

    def update(self, phase: str, loss: torch.Tensor) -> None:
        self.optimizers[phase].zero_grad(set_to_none=True)
        with self.hooks.phase(phase):
            loss.backward()


class CopiesUpdater(FastUpdater):
    """bf16: the phases compute with a bf16 copy of the model; each update reads the copy's bf16
    gradients, updates the fp32 weights and momenta and writes the new copy in one pass."""

    def __init__(self, model: SemiSupervisedAAE, cfg: TrainConfig, device: torch.device, kernel: str,
                 graphed: bool):
        super().__init__(model, cfg, device, kernel, graphed)
        self.copy = bf16_copy(model)
        copy_of = dict(zip(model.parameters(), self.copy.parameters()))
        self.optimizers = {phase: CopyOptimizer(o, copy_of, in_fp32=phase in self.fp32_phases)
                           for phase, o in self.optimizers.items()}

    @property
    def description(self) -> str:
        kernels = sorted({optimizer.kernel for optimizer in self.optimizers.values()})
        return f"bf16 weight copies, {' and '.join(kernels)} updates{self.graph_words}"

    def network(self, phase: str) -> SemiSupervisedAAE:
        return self.model if phase in self.fp32_phases else self.copy

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        sync_copies(self.model, self.copy)


def fastest_updater(model: SemiSupervisedAAE, cfg: TrainConfig, device: torch.device,
                    options: SpeedOptions = SpeedOptions()) -> PlainUpdater:
    """The updater `train` uses: the fastest path this precision and device have (see the module's table)."""
    if options.bf16_weights not in BF16_WEIGHTS:
        raise AAEError(f"bf16_weights must be one of {', '.join(BF16_WEIGHTS)}, not {options.bf16_weights!r}")
    if options.optimizer_kernel is not None and options.optimizer_kernel not in OPTIMIZER_KERNELS:
        raise AAEError(f"optimizer_kernel must be one of {', '.join(OPTIMIZER_KERNELS)}")
    kernel = options.optimizer_kernel or best_optimizer_kernel(device)
    graphed = can_use_cuda_graphs(device) if options.cuda_graphs is None else options.cuda_graphs
    if graphed and not can_use_cuda_graphs(device):
        raise AAEError(f"CUDA graphs need a CUDA device (and torch 2.5 or later), not {device.type}")
    if cfg.precision != "fp32" and options.bf16_weights == "copies":
        return CopiesUpdater(model, cfg, device, kernel, graphed)
    updater = FastUpdater(model, cfg, device, kernel, graphed)
    if options.update_in_backward and all(can_update_in_backward(o) for o in updater.optimizers.values()):
        return InBackwardUpdater(model, cfg, device, kernel, graphed)
    return updater


def updater_with(options: SpeedOptions) -> Callable[..., PlainUpdater]:
    """A Trainer's `updater` argument for these options."""
    return lambda model, cfg, device: fastest_updater(model, cfg, device, options)

"""The trainer's step on a GPU as one CUDA graph: recorded once, replayed every step.

A step launches a few hundred small kernels (matrix products of a batch of 100, element-wise ops,
optimizer updates). On a GPU each takes microseconds to run and about as long again for Python and
PyTorch to launch, so an eager step waits on the CPU. A CUDA graph records the launches of one step
once; a replay sends them all in one call. What changes between steps lives in tensors the graph
reads: the batch indices (copied into fixed buffers before each replay), the random numbers (the
trainer's generator is registered with the graph, which advances it on every replay), the weights,
gradients and momenta (updated in place). Python numbers baked into the recording, the learning
rates, are watched: when the schedule changes them the step is recorded again.
"""
from __future__ import annotations

import warnings

import torch

from ..errors import AAEError

WARMUP_STEPS = 3  # eager steps before the recording: lazy initialisations, momentum buffers, compiles


def can_use_cuda_graphs(device: torch.device) -> bool:
    """A CUDA device, and a torch whose graphs can advance the trainer's own random generator."""
    return device.type == "cuda" and hasattr(torch.cuda.CUDAGraph, "register_generator_state")


class GraphedStep:
    """`step_fn(unlabeled, labeled)` recorded as a CUDA graph; call it with each step's batch indices.
    `generator` is the random stream the step draws from (the graph advances it on every replay);
    `optimizers` hold the learning rates baked into a recording. The first WARMUP_STEPS steps run
    eagerly (on a side stream, as the recording does)."""

    def __init__(self, step_fn, generator: torch.Generator, loss_names: list[str], optimizers: dict):
        device = generator.device
        if not can_use_cuda_graphs(device):
            raise AAEError(f"CUDA graphs need a CUDA device (and torch 2.5 or later), not {device.type}")
        self.step_fn, self.generator, self.loss_names, self.optimizers = step_fn, generator, loss_names, optimizers
        self.device = device
        self.side_stream = torch.cuda.Stream(device)
        self.eager_steps = 0
        self.graph = None
        self.recorded_with = None  # the learning rates baked into the recording
        self.indices = self.losses = None  # the graph's inputs and output

    def learning_rates(self) -> tuple:
        return tuple(group["lr"] for optimizer in self.optimizers.values() for group in optimizer.param_groups)

    def on_side_stream(self, fn):
        """fn() on the side stream, ordered after and before the current stream's work."""
        self.side_stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.side_stream):
            result = fn()
        torch.cuda.current_stream(self.device).wait_stream(self.side_stream)
        return result

    def record(self, unlabeled: torch.Tensor, labeled: torch.Tensor | None) -> None:
        """Record one step on fixed index buffers; nothing runs until the first replay."""
        self.indices = [None if batch is None else batch.clone() for batch in (unlabeled, labeled)]
        self.graph = torch.cuda.CUDAGraph()
        self.graph.register_generator_state(self.generator)
        with torch.cuda.graph(self.graph):
            losses = self.step_fn(*self.indices)
            self.losses = torch.stack([losses[name] for name in self.loss_names])
        self.recorded_with = self.learning_rates()

    def __call__(self, unlabeled: torch.Tensor, labeled: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if self.eager_steps < WARMUP_STEPS:
            self.eager_steps += 1
            with warnings.catch_warnings():  # AdamW's capturable form warns when it runs unrecorded, as here
                warnings.filterwarnings("ignore", message=".*capturable=True.*")
                return self.on_side_stream(lambda: self.step_fn(unlabeled, labeled))
        if self.graph is None or self.recorded_with != self.learning_rates():
            self.record(unlabeled, labeled)
        for buffer, indices in zip(self.indices, (unlabeled, labeled)):
            if buffer is not None:
                buffer.copy_(indices, non_blocking=True)
        self.graph.replay()
        # the output buffer is overwritten by the next replay: one copy, handed out as views
        return dict(zip(self.loss_names, self.losses.clone().unbind()))

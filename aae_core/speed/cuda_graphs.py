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


class GraphedCall:
    """`fn(*inputs)` recorded as a CUDA graph; call it with each step's inputs (index tensors, or None for
    an input the step does not use), which are copied into the recording's fixed buffers before a
    replay. `generators` are the random streams fn draws from (the graph advances them on every
    replay); `baked()` gives the Python numbers a recording bakes in (the learning rates): when they
    change, fn is recorded again. `pack` turns fn's result into one tensor, `unpack` turns that back.
    The first WARMUP_STEPS calls run eagerly (on a side stream, as the recording does)."""

    def __init__(self, fn, generators: list[torch.Generator], baked, pack=lambda out: out, unpack=lambda out: out):
        device = generators[0].device
        if not can_use_cuda_graphs(device):
            raise AAEError(f"CUDA graphs need a CUDA device (and torch 2.5 or later), not {device.type}")
        self.fn, self.generators, self.baked, self.pack, self.unpack = fn, generators, baked, pack, unpack
        self.device = device
        self.side_stream = torch.cuda.Stream(device)
        self.eager_steps = 0
        self.graph = None
        self.recorded_with = None  # the numbers baked into the recording
        self.inputs = self.output = None  # the graph's inputs and output

    def on_side_stream(self, fn):
        """fn() on the side stream, ordered after and before the current stream's work."""
        self.side_stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.side_stream):
            result = fn()
        torch.cuda.current_stream(self.device).wait_stream(self.side_stream)
        return result

    def record(self, inputs: tuple) -> None:
        """Record one call on fixed input buffers; nothing runs until the first replay."""
        self.inputs = [None if x is None else x.clone() for x in inputs]
        self.graph = torch.cuda.CUDAGraph()
        for generator in self.generators:
            self.graph.register_generator_state(generator)
        with torch.cuda.graph(self.graph):
            self.output = self.pack(self.fn(*self.inputs))
        self.recorded_with = self.baked()

    def __call__(self, *inputs):
        if self.eager_steps < WARMUP_STEPS:
            self.eager_steps += 1
            with warnings.catch_warnings():  # AdamW's capturable form warns when it runs unrecorded, as here
                warnings.filterwarnings("ignore", message=".*capturable=True.*")
                return self.on_side_stream(lambda: self.fn(*inputs))
        if self.graph is None or self.recorded_with != self.baked():
            self.record(inputs)
        for buffer, x in zip(self.inputs, inputs):
            if buffer is not None:
                buffer.copy_(x, non_blocking=True)
        self.graph.replay()
        # the output buffer is overwritten by the next replay: one copy, handed out as it was returned
        return self.unpack(self.output.clone())


class GraphedStep(GraphedCall):
    """The Trainer's `step_fn(unlabeled, labeled)` as a CUDA graph: it draws from `generator`, and the
    learning rates of `optimizers` are baked into a recording."""

    def __init__(self, step_fn, generator: torch.Generator, loss_names: list[str], optimizers: dict):
        self.optimizers = optimizers
        super().__init__(step_fn, [generator], self.learning_rates,
                         pack=lambda losses: torch.stack([losses[name] for name in loss_names]),
                         unpack=lambda losses: dict(zip(loss_names, losses.unbind())))

    def learning_rates(self) -> tuple:
        return tuple(group["lr"] for optimizer in self.optimizers.values() for group in optimizer.param_groups)

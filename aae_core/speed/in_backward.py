"""Optimizer steps inside the backward pass: each weight is updated as soon as its gradient is complete.

After a phase's backward pass a whole-model optimizer step reads every weight, gradient and momentum
back from memory. Inside the backward pass a weight's gradient has just been written and the weight
just read (for the input gradient), so the same fused update finds them in the cache (the engineering notes
measure what that gains). The update is torch's fused SGD kernel, one tensor at a time, so the
weights come out bit for bit as after the whole-model step (a test checks). It is safe because
autograd completes a weight's gradient only after every node that reads the weight has run.
"""
from __future__ import annotations

import contextlib

import torch

from .weight_copies import is_plain_sgd_with_momentum


def can_update_in_backward(optimizer: torch.optim.Optimizer) -> bool:
    """Plain SGD with momentum, set up for torch's fused kernel (which has a one-tensor form)."""
    return (is_plain_sgd_with_momentum(optimizer) and optimizer.param_groups[0]["fused"]
            and hasattr(torch, "_fused_sgd_"))


class UpdatesInBackward:
    """Hooks on the weights of `optimizers` ({phase: optimizer}); inside `phase(name)` a backward pass
    updates each weight with that phase's optimizer and drops its gradient. Outside a phase a
    backward pass leaves gradients alone."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer]):
        self.optimizers = optimizers
        self.weights_of = {phase: set(o.param_groups[0]["params"]) for phase, o in optimizers.items()}
        self.active: str | None = None
        for weight in set().union(*self.weights_of.values()):
            weight.register_post_accumulate_grad_hook(self.update_one)

    @contextlib.contextmanager
    def phase(self, name: str):
        self.active = name
        try:
            yield
        finally:
            self.active = None

    @torch.no_grad()
    def update_one(self, weight: torch.Tensor) -> None:
        if self.active is None or weight not in self.weights_of[self.active]:
            return
        optimizer = self.optimizers[self.active]
        group, state = optimizer.param_groups[0], optimizer.state[weight]
        first_step = state.get("momentum_buffer") is None  # the kernel starts the buffer at the gradient
        if first_step:
            state["momentum_buffer"] = torch.empty_like(weight)
        torch._fused_sgd_([weight], [weight.grad], [state["momentum_buffer"]], weight_decay=0.0,
                          momentum=group["momentum"], lr=group["lr"], dampening=0.0, nesterov=False,
                          maximize=False, is_first_step=first_step)
        weight.grad = None

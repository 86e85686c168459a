"""bf16 steps without weight casts: the networks compute with bf16 copies of their fp32 weights.

Under autocast every phase casts each fp32 weight it uses to bf16 for the forward pass, casts each
bf16 weight gradient back to fp32, and then the optimizer reads and writes the fp32 weights again:
three passes over memory per weight and phase, which cost more than the matrix products on a CPU
with bf16 matrix units (appendix C). Here a bf16 copy of the model computes the step, and one update
per phase reads the copy's bf16 gradients, updates the fp32 weights and momentum, and writes the new
bf16 copy: one pass. The arithmetic is autocast's (products of the weights rounded to bf16, updates
in fp32); the fp32 model stays the model, for checkpoints and evaluation.
"""
from __future__ import annotations

import copy
import functools
import logging
import sys

import torch
from torch import nn


def bf16_copy(model: nn.Module) -> nn.Module:
    """A bf16 copy of `model`: the same parameters, in the same order, rounded to bf16."""
    return copy.deepcopy(model).to(torch.bfloat16)


def sgd_momentum_update(weights: list[torch.Tensor], buffers: list[torch.Tensor], grads: list[torch.Tensor],
                        copies: list[torch.Tensor], lr: torch.Tensor, momentum: torch.Tensor) -> None:
    """torch.optim.SGD's update with momentum (no dampening, Nesterov or weight decay) from bf16
    gradients, and the new weights written into their bf16 copies, tensor by tensor in one pass."""
    for weight, buffer, grad, weight_copy in zip(weights, buffers, grads, copies):
        buffer.mul_(momentum).add_(grad.float())
        weight.sub_(lr * buffer)
        weight_copy.copy_(weight)


@functools.cache
def compiled_sgd_momentum_update():
    """`sgd_momentum_update` compiled into one loop per tensor (torch.compile), made once per process on
    first use: importing the compiler takes seconds, and its compiled graphs are cached by tensor shapes."""
    if not torch.cuda.is_available():  # else compiling logs that there is no CUDA, which is no news here
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    return torch.compile(sgd_momentum_update, dynamic=False, fullgraph=True)


class CompiledUpdate:
    """The compiled update; where compiling fails (no C++ compiler, say) the eager function, after one
    line on stderr."""

    def __init__(self, compile=compiled_sgd_momentum_update):
        self.compile, self.failed = compile, False

    @property
    def kernel(self) -> str:
        return "eager" if self.failed else "compiled"

    def __call__(self, *args) -> None:
        if not self.failed:
            try:
                return self.compile()(*args)
            except Exception as error:  # the backend's errors have no common type
                self.failed = True
                print(f"note: torch.compile failed ({type(error).__name__}); bf16 updates run eagerly",
                      file=sys.stderr)
        sgd_momentum_update(*args)


def is_plain_sgd_with_momentum(optimizer: torch.optim.Optimizer) -> bool:
    """SGD with momentum and nothing else (no dampening, Nesterov, weight decay or maximize), one
    parameter group: the update `sgd_momentum_update` computes."""
    group = optimizer.param_groups[0]
    return (isinstance(optimizer, torch.optim.SGD) and len(optimizer.param_groups) == 1 and group["momentum"] > 0
            and group["dampening"] == 0 and not group["nesterov"] and group["weight_decay"] == 0
            and not group["maximize"])


class CopyOptimizer:
    """A phase's optimizer when the step computes with bf16 copies. `optimizer` holds the fp32 weights,
    so its state (and state_dict) is torch's own; the gradients are the copies', or, for a phase that
    computes in fp32 (`in_fp32`), the fp32 weights' own, after whose step the copies are refreshed."""

    def __init__(self, optimizer: torch.optim.Optimizer, copy_of: dict[nn.Parameter, nn.Parameter],
                 update: CompiledUpdate | None = None, in_fp32: bool = False):
        self.optimizer, self.in_fp32 = optimizer, in_fp32
        self.update = update if update is not None else CompiledUpdate()
        self.weights = list(optimizer.param_groups[0]["params"])
        self.copies = [copy_of[w] for w in self.weights]
        device = self.weights[0].device
        self.lr, self.momentum = torch.zeros((), device=device), torch.zeros((), device=device)

    @property
    def param_groups(self) -> list[dict]:
        return self.optimizer.param_groups

    @property
    def kernel(self) -> str:
        if self.in_fp32:
            return "fp32 (then copied)"
        return self.update.kernel if is_plain_sgd_with_momentum(self.optimizer) else "cast, then the optimizer"

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for weight in self.weights if self.in_fp32 else self.copies:
            weight.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self.in_fp32:
            self.optimizer.step()
            torch._foreach_copy_(self.copies, self.weights)
            return
        pairs = [(w, c) for w, c in zip(self.weights, self.copies) if c.grad is not None]
        if not is_plain_sgd_with_momentum(self.optimizer):  # AdamW, say: fp32 gradients for torch's own step
            for weight, weight_copy in pairs:
                weight.grad = weight_copy.grad.float()
            self.optimizer.step()
            for weight, _ in pairs:
                weight.grad = None
            torch._foreach_copy_(self.copies, self.weights)
            return
        group = self.optimizer.param_groups[0]
        self.lr.fill_(group["lr"])
        self.momentum.fill_(group["momentum"])
        buffers = [self.momentum_buffer(w) for w, _ in pairs]
        self.update([w for w, _ in pairs], buffers, [c.grad for _, c in pairs], [c for _, c in pairs],
                    self.lr, self.momentum)

    def momentum_buffer(self, weight: torch.Tensor) -> torch.Tensor:
        """torch's buffer for `weight`; a new one is zeros (torch starts it at the first gradient:
        momentum * 0 + gradient is the same number)."""
        state = self.optimizer.state[weight]
        if state.get("momentum_buffer") is None:
            state["momentum_buffer"] = torch.zeros_like(weight)
        return state["momentum_buffer"]


@torch.no_grad()
def sync_copies(model: nn.Module, copies: nn.Module) -> None:
    """Round `model`'s weights into `copies` (after loading a checkpoint, say)."""
    torch._foreach_copy_(list(copies.parameters()), list(model.parameters()))

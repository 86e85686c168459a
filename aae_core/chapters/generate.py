"""Digits drawn by the decoder: the image sets of chapter 4 (fixed y, style grids, style transfer).

Each function returns images (N, 784) in [0, 1], ordered row by row for `plots.image_grid`.
"""
from __future__ import annotations

import torch

from ..models import SemiSupervisedAAE, evaluating


@torch.no_grad()
def generate(model: SemiSupervisedAAE, digits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Decoded images (N, 784) for digit labels (N,) as one-hot y and style codes z (N, style_dim)."""
    y = torch.nn.functional.one_hot(digits, model.cfg.n_classes).to(z.dtype)
    with evaluating(model):
        return model.decode(y, z)


def model_device(model: SemiSupervisedAAE) -> torch.device:
    return next(model.parameters()).device


def samples_per_digit(model: SemiSupervisedAAE, n_cols: int = 10, prior_std: float = 1.0, seed: int = 0) -> torch.Tensor:
    """One row per digit, n_cols columns of styles z drawn from the prior (the same z in every row)."""
    z = prior_std * torch.randn(n_cols, model.cfg.style_dim, generator=torch.Generator().manual_seed(seed))
    digits = torch.arange(model.cfg.n_classes).repeat_interleave(n_cols)
    return generate(model, digits.to(model_device(model)), z.repeat(model.cfg.n_classes, 1).to(model_device(model))).cpu()


def style_grid(model: SemiSupervisedAAE, digit: int, dims: tuple[int, int] = (0, 1), half_width: float = 1.0,
               n: int = 9) -> torch.Tensor:
    """Digit `digit` over an n x n grid of two style dimensions in [-half_width, half_width]^2,
    the others at 0 (Latała's grid is 2.0 by 2.0 around the origin: half_width 1).
    Rows run from high to low `dims[1]`, columns from low to high `dims[0]`."""
    values = torch.linspace(-half_width, half_width, n)
    z = torch.zeros(n, n, model.cfg.style_dim)
    z[:, :, dims[0]] = values[None, :]
    z[:, :, dims[1]] = values.flip(0)[:, None]
    digits = torch.full((n * n,), digit)
    return generate(model, digits.to(model_device(model)), z.view(n * n, -1).to(model_device(model))).cpu()


@torch.no_grad()
def style_transfer(model: SemiSupervisedAAE, x: torch.Tensor) -> torch.Tensor:
    """For each image of x (N, 784), its own style z decoded with every digit y: N rows of n_classes."""
    with evaluating(model):
        _, z = model.encode(x.to(model_device(model)))  # (N, style_dim)
    n_classes = model.cfg.n_classes
    digits = torch.arange(n_classes, device=z.device).repeat(len(x))
    return generate(model, digits, z.repeat_interleave(n_classes, dim=0)).cpu()

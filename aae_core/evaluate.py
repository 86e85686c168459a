"""How good a trained model is: classification accuracy, the confusion matrix, and whether
generated digits are the digits y asked for (judged by an independent classifier)."""
from __future__ import annotations

import torch

from .generate import generate, model_device
from .models import SemiSupervisedAAE, evaluating


def predict(model: SemiSupervisedAAE, x: torch.Tensor) -> torch.Tensor:
    """model.classify in eval mode, leaving the model in the mode it was in (training calls this)."""
    with evaluating(model):
        return model.classify(x)


def accuracy(model: SemiSupervisedAAE, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Percentage of images whose argmax y equals the label."""
    return 100.0 * (predict(model, x) == labels).float().mean().item()


def confusion_matrix(model: SemiSupervisedAAE, x: torch.Tensor, labels: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """(n_classes, n_classes) counts: row = true digit, column = predicted digit."""
    predicted = predict(model, x).cpu()
    return torch.bincount(labels.cpu() * n_classes + predicted, minlength=n_classes**2).reshape(n_classes, n_classes)


def largest_confusions(matrix: torch.Tensor, k: int = 3) -> list[tuple[int, int, int]]:
    """The k largest off-diagonal cells of a confusion matrix as (true digit, predicted digit, count),
    largest first: where a model's errors concentrate (a swapped pair of clusters shows up here)."""
    errors = matrix.clone()
    errors.fill_diagonal_(0)
    counts, cells = errors.flatten().topk(k)
    n = matrix.shape[1]
    return [(int(cell) // n, int(cell) % n, int(count)) for count, cell in zip(counts, cells)]


def describe_confusions(matrix: torch.Tensor, k: int = 3) -> str:
    """The k largest confusions in words: "493 of digit 9 read as 7, 210 of digit 7 read as 9, ..."."""
    return ", ".join(f"{count} of digit {true} read as {predicted}"
                     for true, predicted, count in largest_confusions(matrix, k))


@torch.no_grad()
def generated_agreement(model: SemiSupervisedAAE, judge, samples_per_digit: int = 200, prior_std: float = 1.0,
                        seed: int = 0) -> dict:
    """How often `judge` (an independent classifier) reads digit d in decode(y = d, z ~ prior).

    Returns {"per_digit": [10 percentages], "overall": percentage}: 100% means y alone decides
    the digit whatever style z is drawn.
    """
    gen = torch.Generator().manual_seed(seed)
    n_classes = model.cfg.n_classes
    digits = torch.arange(n_classes).repeat_interleave(samples_per_digit)  # (10 * S,)
    z = prior_std * torch.randn(len(digits), model.cfg.style_dim, generator=gen)
    device = model_device(model)
    read = judge.classify(generate(model, digits.to(device), z.to(device))).cpu()
    hits = (read == digits).float().view(n_classes, samples_per_digit)
    return {"per_digit": (100 * hits.mean(dim=1)).tolist(), "overall": 100 * hits.mean().item()}


@torch.no_grad()
def style_stability(model: SemiSupervisedAAE, judge, bases_per_digit: int = 20, steps: int = 9,
                    prior_std: float = 1.0, seed: int = 0) -> dict:
    """How often `judge` keeps its reading while one style dimension sweeps across the prior.

    For each digit, `bases_per_digit` style codes are drawn from the prior; each dimension of each
    code is swept over [-2 std, 2 std] in `steps` points with the others held. A point counts as
    stable when the judge reads the same digit as at the unswept code. 100% means z changes the
    style only, never which digit is drawn.
    """
    gen = torch.Generator().manual_seed(seed)
    n_classes, style_dim = model.cfg.n_classes, model.cfg.style_dim
    device = model_device(model)
    sweep = torch.linspace(-2 * prior_std, 2 * prior_std, steps)
    per_digit = []
    for digit in range(n_classes):
        base = prior_std * torch.randn(bases_per_digit, style_dim, generator=gen)  # (B, D)
        z = base[:, None, None, :].repeat(1, style_dim, steps, 1)  # (B, D swept, steps, D)
        for dim in range(style_dim):
            z[:, dim, :, dim] = sweep
        labels = torch.full((z[..., 0].numel(),), digit)
        read = judge.classify(generate(model, labels.to(device), z.view(-1, style_dim).to(device))).cpu()
        at_base = judge.classify(generate(model, labels[:bases_per_digit].to(device), base.to(device))).cpu()
        same = read.view(bases_per_digit, -1) == at_base[:, None]
        per_digit.append(100 * same.float().mean().item())
    return {"per_digit": per_digit, "overall": sum(per_digit) / n_classes}

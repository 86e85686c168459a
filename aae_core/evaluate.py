"""How good a trained model is as a classifier: accuracy and the confusion matrix. (Whether its
generated digits are the digits y asked for is chapter 4's question: `chapters/judge.py`.)"""
from __future__ import annotations

import torch

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

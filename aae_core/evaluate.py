"""How good a trained model is: classification accuracy and the confusion matrix."""
from __future__ import annotations

import torch

from .models import SemiSupervisedAAE


def predict(model: SemiSupervisedAAE, x: torch.Tensor) -> torch.Tensor:
    """model.classify in eval mode, leaving the model in the mode it was in (training calls this)."""
    was_training = model.training
    model.eval()
    predicted = model.classify(x)
    model.train(was_training)
    return predicted


def accuracy(model: SemiSupervisedAAE, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Percentage of images whose argmax y equals the label."""
    return 100.0 * (predict(model, x) == labels).float().mean().item()


def confusion_matrix(model: SemiSupervisedAAE, x: torch.Tensor, labels: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """(n_classes, n_classes) counts: row = true digit, column = predicted digit."""
    predicted = predict(model, x).cpu()
    return torch.bincount(labels.cpu() * n_classes + predicted, minlength=n_classes**2).reshape(n_classes, n_classes)

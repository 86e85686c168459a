"""An independent judge of generated digits: a small CNN trained on every MNIST training label.

Chapter 4 asks whether the decoder draws digit d when y says d. The AAE's own encoder cannot
answer that fairly (it was trained with the decoder), so a separate convolutional network, in the
spirit of pytorch/examples `mnist/main.py`, classifies the generated images instead.
"""
from __future__ import annotations

import time

import torch
from torch import nn

from .data import BatchCycler

TRAINING = {"optimizer": "adam", "lr": 1e-3, "batch_size": 128}  # recorded in the folder's config.json


class DigitCNN(nn.Module):
    """Two conv layers and two linear layers; (N, 784) in [0, 1] -> 10 logits."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 13, 13)
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),  # (N, 64, 5, 5)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.25),
                                  nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.view(-1, 1, 28, 28)))

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """Predicted digit (N,), in batches; the same call as SemiSupervisedAAE.classify."""
        return torch.cat([self(chunk).argmax(dim=1) for chunk in x.split(batch_size)])


def train_classifier(x: torch.Tensor, y: torch.Tensor, epochs: int = 3, seed: int = 0,
                     batch_size: int = TRAINING["batch_size"], lr: float = TRAINING["lr"],
                     progress=print) -> tuple[DigitCNN, list[dict]]:
    """Adam on (x, y) for `epochs` passes; returns the model (eval mode) and one record per epoch."""
    torch.manual_seed(seed)
    model = DigitCNN().to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = BatchCycler(len(x), batch_size, seed=seed)
    history = []
    for epoch in range(1, epochs + 1):
        start, total = time.perf_counter(), 0.0
        model.train()
        for _ in range(batches.batches_per_pass):
            idx = batches.next().to(x.device)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
        history.append({"epoch": epoch, "loss": total / batches.batches_per_pass,
                        "seconds": time.perf_counter() - start})
        progress(f"epoch {epoch}/{epochs}  loss {history[-1]['loss']:.4f}  {history[-1]['seconds']:.1f} s")
    return model.eval(), history


def save_classifier(model: DigitCNN, path) -> None:
    from .runs import atomic_write

    atomic_write(path, lambda tmp: torch.save({"state_dict": model.state_dict()}, tmp))


def load_classifier(folder, device="cpu") -> DigitCNN:
    """The judge from a classifier folder (model.pt), in eval mode."""
    from pathlib import Path

    from .errors import AAEError
    from .runs import torch_load

    path = Path(folder) / "model.pt" if Path(folder).is_dir() else Path(folder)
    model = DigitCNN()
    try:
        model.load_state_dict(torch_load(path)["state_dict"])
    except (KeyError, RuntimeError):
        raise AAEError(f"{path} holds no DigitCNN weights") from None
    return model.to(device).eval()

"""The semi-supervised adversarial autoencoder of Makhzani et al. 2015 (section 5), MNIST sizes.

    x (N, 784) --encoder--> h (N, 1000) --head_y--> softmax --> y (N, 10)   "which digit"
                                        --head_z-->         --> z (N, 10)   "what style"
    (y, z) (N, 20) --decoder--> x_hat (N, 784) in [0, 1]
    D_y: y (N, 10) -> logit (N,)      D_z: z (N, 10) -> logit (N,)

The discriminators push the aggregated posteriors q(y) and q(z) towards a categorical and a
Gaussian prior; a few labels tie each category of y to a digit. With n_classes=0 the same class
is an unsupervised AAE with only the code z (the book's first chapter). Training lives in `train.py`.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from .config import ModelConfig


def mlp(sizes: list[int], final: nn.Module | None = None) -> nn.Sequential:
    """Linear layers with ReLU between them (not after the last), then `final` if given."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """q(y, z | x): a shared trunk and two heads, y logits and a linear style code z."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        h = cfg.hidden_dim
        self.trunk = mlp([cfg.input_dim, h, h], final=nn.ReLU())
        self.head_y = nn.Linear(h, cfg.n_classes) if cfg.n_classes else None  # none: an unsupervised AAE
        self.head_z = nn.Linear(h, cfg.style_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)  # (N, 1000)
        y_logits = self.head_y(h) if self.head_y is not None else h.new_zeros(len(h), 0)
        return y_logits, self.head_z(h)  # y logits (N, 10), z (N, 10)


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """model in eval mode inside, back in the mode it was in after (training code calls this)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class SemiSupervisedAAE(nn.Module):
    """Encoder, decoder and the two discriminators, with the calls the book and trainer use."""

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = mlp([cfg.n_classes + cfg.style_dim, cfg.hidden_dim, cfg.hidden_dim, cfg.input_dim], final=nn.Sigmoid())
        self.disc_y = mlp([cfg.n_classes, cfg.disc_hidden_dim, cfg.disc_hidden_dim, 1]) if cfg.n_classes else None
        self.disc_z = mlp([cfg.style_dim, cfg.disc_hidden_dim, cfg.disc_hidden_dim, 1])
        if cfg.init_std > 0:
            self.apply(self._init_normal)

    def _init_normal(self, module: nn.Module) -> None:
        # Small Gaussian weights, as Latała's code: the softmax starts near uniform.
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=self.cfg.init_std)
            nn.init.zeros_(module.bias)

    def discriminators(self) -> dict[str, nn.Module]:
        """The adversaries by the code they judge: {'y': D_y, 'z': D_z} (no D_y without a y code)."""
        return {name: disc for name, disc in (("y", self.disc_y), ("z", self.disc_z)) if disc is not None}

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, 784) -> y probabilities (N, 10), z (N, 10)."""
        logits, z = self.encoder(x)
        return logits.softmax(dim=1), z

    def decode(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """y (N, 10), z (N, 10) -> x_hat (N, 784) in [0, 1]."""
        return self.decoder(torch.cat([y, z], dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of x through the code (y, z)."""
        return self.decode(*self.encode(x))

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """Predicted digit (N,) = argmax of y, computed in batches to bound memory."""
        return torch.cat([self.encoder(chunk)[0].argmax(dim=1) for chunk in x.split(batch_size)])

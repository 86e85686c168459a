"""Chapter 1's VAE (Kingma and Welling, 2013) and its training loop: the AAE's encoder with two outputs per
code dimension, the same decoder, and a loss that adds a one-sample estimate of KL(q(z|x) || p(z)) under
the demo's prior, the mixture of ten Gaussians on a circle (whose density is known, though its KL is not).
"""
from __future__ import annotations

import math
import time

import torch
from torch import nn

from ..config import ModelConfig, TrainConfig
from ..data import BatchCycler, SemiSupervisedData
from ..losses import MIXTURE_COMPONENTS, MIXTURE_RADIUS, reconstruction_loss
from ..models import mlp
from ..train import with_noise


class VAE(nn.Module):
    """The demo's VAE: the AAE's encoder with two outputs per code dimension, its decoder as it is.

    x (N, 784) --encoder--> mean, log-variance (N, 2) each --sample--> z (N, 2) --decoder--> x_hat
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        h, d = cfg.hidden_dim, cfg.style_dim
        self.encoder = mlp([cfg.input_dim, h, h, 2 * d])  # the mean, then the log-variance
        self.decoder = mlp([d, h, h, cfg.input_dim], final=nn.Sigmoid())

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) = N(mean, diag(exp(log_var))): mean (N, 2), log_var (N, 2)."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var

    def sample(self, x: torch.Tensor, generator: torch.Generator):
        """z = mean + std * eps, eps ~ N(0, I): a draw of q(z|x) that gradients flow through."""
        mean, log_var = self.posterior(x)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device)
        return mean + (0.5 * log_var).exp() * eps, log_var, eps


def mixture_log_density(z: torch.Tensor, std: float, n_components: int = MIXTURE_COMPONENTS,
                        radius: float = MIXTURE_RADIUS) -> torch.Tensor:
    """log p(z) (N,) under the demo's prior: ten Gaussians of `std` on a circle."""
    angle = 2 * torch.pi * torch.arange(n_components, device=z.device) / n_components
    means = torch.zeros(n_components, z.shape[1], device=z.device)
    means[:, 0], means[:, 1] = radius * angle.cos(), radius * angle.sin()
    squared = (z[:, None, :] - means[None]).pow(2).sum(dim=2)  # (N, K)
    dim = z.shape[1]
    log_normalizer = dim * math.log(std) + 0.5 * dim * math.log(2 * math.pi)
    log_component = -0.5 * squared / std**2 - log_normalizer  # (N, K)
    return torch.logsumexp(log_component, dim=1) - math.log(n_components)


def vae_loss(model: VAE, x_in: torch.Tensor, x: torch.Tensor,
             prior_std: float, generator: torch.Generator):
    """The VAE's two terms, each a mean over the batch: the AAE's
    reconstruction loss, and KL(q(z|x) || p(z)) = E_q[log q(z|x) - log p(z)]
    estimated at one draw of z. The mixture has no closed-form KL, but its
    density is known: all that the estimate needs."""
    z, log_var, eps = model.sample(x_in, generator)
    recon = reconstruction_loss(model.decoder(z), x)
    # log q(z|x) at the drawn z, a Gaussian's log-density (z - mean = std*eps)
    log_q = -0.5 * (eps.pow(2) + log_var + math.log(2 * math.pi)).sum(dim=1)
    kl = (log_q - mixture_log_density(z, prior_std)).mean()
    return recon, kl


class VAETrainer:
    """The VAE's loop, shaped like the Trainer's: the same batch order, input noise, AdamW and
    learning-rate schedule; one phase (reconstruction plus KL) per step."""

    def __init__(self, cfg: TrainConfig, data: SemiSupervisedData, model_cfg: ModelConfig,
                 device: torch.device | str = "cpu"):
        torch.manual_seed(cfg.seed)  # the initial weights, as make_trainer
        self.cfg, self.device = cfg, torch.device(device)
        self.model = VAE(model_cfg).to(self.device)
        self.data = data.to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.0)
        self.sampler = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.batches = BatchCycler(len(data.unlabeled_x), cfg.batch_size, seed=cfg.seed + 1)
        self.epoch, self.history = 0, []

    def fit(self, epochs: int) -> list[dict]:
        while self.epoch < epochs:
            start, cfg = time.perf_counter(), self.cfg
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.optimizer.lr_at("reconstruction", self.epoch)
            self.model.train()
            steps, sums = self.batches.batches_per_pass, torch.zeros(2)
            for _ in range(steps):
                x = self.data.unlabeled_x[self.batches.next_on(self.device)]  # (B, 784)
                x_in = with_noise(x, cfg.noise_std, self.sampler)
                recon, kl = vae_loss(self.model, x_in, x, cfg.prior_std, self.sampler)
                self.optimizer.zero_grad(set_to_none=True)
                (recon + kl).backward()
                self.optimizer.step()
                sums += torch.stack([recon.detach(), kl.detach()]).cpu()
            self.epoch += 1
            means = (sums / steps).tolist()
            self.history.append({"epoch": self.epoch, "steps": steps, "loss_recon": means[0],
                                 "loss_kl": means[1], "seconds": time.perf_counter() - start})
        return self.history

"""Losses of the three training phases, and the two priors the discriminators compare against."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor,
                        form: str = "sum") -> torch.Tensor:
    """Squared error: "sum" over the 784 pixels, averaged over the batch (the
    paper's squared Euclidean distance), or "mean" over pixels too
    (nn.MSELoss, Latała's code): 784x weaker."""
    squared = (x_hat - x).pow(2)
    return squared.mean() if form == "mean" else squared.sum(dim=1).mean()


def discriminator_loss(real_logits: torch.Tensor,
                       fake_logits: torch.Tensor) -> torch.Tensor:
    """D learns to call prior samples real (1) and encoder codes fake (0)."""
    ones, zeros = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
    return (F.binary_cross_entropy_with_logits(real_logits, ones)
            + F.binary_cross_entropy_with_logits(fake_logits, zeros))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The encoder, as generator, learns to make D call its codes real (the
    non-saturating GAN loss)."""
    ones = torch.ones_like(fake_logits)
    return F.binary_cross_entropy_with_logits(fake_logits, ones)


def classification_loss(y_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the y head on labeled images (softmax included)."""
    return F.cross_entropy(y_logits, labels)


def sample_categorical(n: int, n_classes: int, generator: torch.Generator, device=None) -> torch.Tensor:
    """(n, n_classes) one-hot vectors, classes uniform: the prior on y."""
    device = device if device is not None else generator.device
    classes = torch.randint(n_classes, (n,), generator=generator, device=device)
    return F.one_hot(classes, n_classes).float()


def sample_gaussian(n: int, dim: int, std: float, generator: torch.Generator, device=None) -> torch.Tensor:
    """(n, dim) samples of N(0, std^2 I): the prior on z."""
    device = device if device is not None else generator.device
    return torch.randn(n, dim, generator=generator, device=device) * std


# The mixture prior of chapter 1: ten Gaussians whose means sit on a circle of radius 4 (defined here only).
MIXTURE_COMPONENTS = 10
MIXTURE_RADIUS = 4.0


def mixture_means(n_components: int = MIXTURE_COMPONENTS, radius: float = MIXTURE_RADIUS) -> torch.Tensor:
    """The mixture's means (K, 2), counter-clockwise from the one at angle 0."""
    angle = 2 * torch.pi * torch.arange(n_components, dtype=torch.float32) / n_components
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def sample_gaussian_mixture(n: int, dim: int, std: float, generator: torch.Generator, device=None,
                            n_components: int = MIXTURE_COMPONENTS, radius: float = MIXTURE_RADIUS,
                            components: torch.Tensor | None = None) -> torch.Tensor:
    """(n, dim) samples of n_components Gaussians (std `std`) whose means sit on a circle of
    `radius` in the first two dimensions: a prior with visible clusters, for 2-D codes.
    `components` (n,) picks each sample's component; by default they are drawn uniformly."""
    device = device if device is not None else generator.device
    if components is None:
        components = torch.randint(n_components, (n,), generator=generator, device=device)
    angle = 2 * torch.pi * components.to(device).float() / n_components
    samples = torch.randn(n, dim, generator=generator, device=device) * std
    samples[:, 0] += radius * torch.cos(angle)
    samples[:, 1] += radius * torch.sin(angle)
    return samples


def share_near_mixture(codes: torch.Tensor, std: float, n_components: int = MIXTURE_COMPONENTS,
                       radius: float = MIXTURE_RADIUS, within: float = 2.0) -> float:
    """Percentage of 2-D codes (n, 2) within `within` std of the nearest mixture component's mean: how
    much of a code cloud sits on the prior's ten blobs rather than between them (the prior's own
    samples score about 86% at 2 std)."""
    nearest = torch.cdist(codes[:, :2].float().cpu(), mixture_means(n_components, radius)).min(dim=1).values
    return 100.0 * (nearest <= within * std).float().mean().item()

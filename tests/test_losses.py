import pytest
import torch

from aae_core.config import PRESETS
from aae_core.losses import discriminator_loss, generator_loss, reconstruction_loss, sample_categorical, sample_gaussian


def test_sum_reconstruction_is_784_times_the_mean():
    x, x_hat = torch.rand(8, 784), torch.rand(8, 784)
    total = reconstruction_loss(x_hat, x, "sum")
    assert torch.allclose(total, ((x_hat - x) ** 2).sum() / 8)
    assert torch.allclose(total, 784 * reconstruction_loss(x_hat, x, "mean"))


def test_priors():
    gen = torch.Generator().manual_seed(0)
    y = sample_categorical(5000, 10, gen)
    assert y.shape == (5000, 10) and torch.equal(y.sum(dim=1), torch.ones(5000))
    assert (torch.bincount(y.argmax(1), minlength=10) > 400).all()
    z = sample_gaussian(20000, 10, 5.0, gen)
    assert z.shape == (20000, 10) and abs(z.std().item() - 5.0) < 0.1 and abs(z.mean().item()) < 0.1


def test_adversarial_losses_at_chance():
    zeros = torch.zeros(4)
    assert torch.allclose(discriminator_loss(zeros, zeros), torch.tensor(2 * 0.6931), atol=1e-4)
    assert generator_loss(torch.full((4,), 10.0)) < 1e-3 < generator_loss(torch.full((4,), -10.0))


@pytest.mark.parametrize("preset,phase,base", [("paper-sgd", "reconstruction", 0.01), ("paper-sgd", "semi_supervised", 0.1),
                                                ("adamw", "generator", 0.001)])
def test_learning_rate_drops_tenfold_at_50_and_1000(preset, phase, base):
    opt = PRESETS[preset]
    assert opt.lr_at(phase, 0) == opt.lr_at(phase, 49) == base
    assert opt.lr_at(phase, 50) == pytest.approx(base / 10) == opt.lr_at(phase, 999)
    assert opt.lr_at(phase, 1000) == pytest.approx(base / 100)


def test_mixture_prior_has_ten_clusters_on_a_circle():
    from aae_core.losses import sample_gaussian_mixture

    z = sample_gaussian_mixture(10000, 2, 0.5, torch.Generator().manual_seed(0))
    radius = z.norm(dim=1)
    assert z.shape == (10000, 2) and abs(radius.mean().item() - 4.0) < 0.1
    angles = torch.atan2(z[:, 1], z[:, 0]) % (2 * torch.pi)
    nearest = torch.round(angles / (2 * torch.pi / 10)) % 10
    assert (torch.bincount(nearest.long(), minlength=10) > 800).all()


def test_mixture_prior_samples_the_components_asked_for():
    from aae_core.losses import sample_gaussian_mixture

    components = torch.tensor([0, 5] * 500)
    z = sample_gaussian_mixture(1000, 2, 0.1, torch.Generator().manual_seed(0), components=components)
    assert torch.allclose(z[0::2].mean(dim=0), torch.tensor([4.0, 0.0]), atol=0.05)
    assert torch.allclose(z[1::2].mean(dim=0), torch.tensor([-4.0, 0.0]), atol=0.05)

import pytest
import torch

from aae_core import ModelConfig, SemiSupervisedAAE
from conftest import TINY


@pytest.mark.parametrize("cfg", [ModelConfig(), TINY], ids=["paper", "tiny"])
@pytest.mark.parametrize("n", [1, 7, 100])
def test_encode_decode_shapes_and_ranges(cfg, n):
    model = SemiSupervisedAAE(cfg).eval()
    x = torch.rand(n, cfg.input_dim)
    y, z = model.encode(x)
    assert y.shape == (n, cfg.n_classes) and z.shape == (n, cfg.style_dim)
    assert torch.allclose(y.sum(dim=1), torch.ones(n), atol=1e-5) and (y >= 0).all()
    x_hat = model.decode(y, z)
    assert x_hat.shape == (n, cfg.input_dim)
    assert (x_hat >= 0).all() and (x_hat <= 1).all()
    assert torch.equal(model(x), x_hat)
    labels = model.classify(x)
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert torch.equal(labels, y.argmax(dim=1))


def test_layer_sizes_follow_the_seed_report():
    model = SemiSupervisedAAE()
    shapes = [tuple(p.shape) for p in model.encoder.parameters() if p.dim() == 2]
    assert shapes == [(1000, 784), (1000, 1000), (10, 1000), (10, 1000)]
    assert [tuple(p.shape) for p in model.decoder.parameters() if p.dim() == 2] == [(1000, 20), (1000, 1000), (784, 1000)]
    for disc in (model.disc_y, model.disc_z):
        assert [tuple(p.shape) for p in disc.parameters() if p.dim() == 2] == [(1000, 10), (1000, 1000), (1, 1000)]
        assert disc(torch.zeros(5, 10)).shape == (5, 1)


def test_small_gaussian_init_or_pytorch_default():
    small = SemiSupervisedAAE(ModelConfig(init_std=0.01))
    default = SemiSupervisedAAE(ModelConfig(init_std=0))
    w_small, w_default = small.encoder.trunk[0].weight, default.encoder.trunk[0].weight
    assert abs(w_small.std().item() - 0.01) < 1e-3
    assert w_default.std().item() < 0.03 and abs(w_default.std().item() - 0.01) > 1e-3
    assert (small.encoder.trunk[0].bias == 0).all()


def test_classify_batches_agree_with_one_pass():
    model = SemiSupervisedAAE(TINY).eval()
    x = torch.rand(250, 784)
    assert torch.equal(model.classify(x, batch_size=64), model.classify(x, batch_size=1000))


def test_confusion_matrix_counts_every_image_once():
    from aae_core.evaluate import accuracy, confusion_matrix

    model = SemiSupervisedAAE(TINY).train()
    x, labels = torch.rand(300, 784), torch.randint(10, (300,))
    matrix = confusion_matrix(model, x, labels)
    assert matrix.shape == (10, 10) and matrix.sum() == 300 and model.training
    assert torch.equal(matrix.sum(dim=1), torch.bincount(labels, minlength=10))
    assert 100 * matrix.diag().sum().item() / 300 == pytest.approx(accuracy(model, x, labels))


def test_largest_confusions_skip_the_diagonal_and_come_largest_first():
    from aae_core.evaluate import describe_confusions, largest_confusions

    matrix = torch.diag(torch.full((10,), 900))
    matrix[9, 7], matrix[7, 9], matrix[4, 9] = 493, 210, 9
    assert largest_confusions(matrix) == [(9, 7, 493), (7, 9, 210), (4, 9, 9)]
    assert describe_confusions(matrix, 2) == "493 of digit 9 read as 7, 210 of digit 7 read as 9"

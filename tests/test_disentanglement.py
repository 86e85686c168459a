"""Chapter 4's machinery: generated image sets, the independent judge, its two numbers, the widget."""
from __future__ import annotations

import pytest
import torch

from aae_core.chapters.judge import DigitCNN, load_classifier, save_classifier, train_classifier
from aae_core.chapters.judge import generated_agreement, style_stability
from aae_core.chapters.generate import samples_per_digit, style_grid, style_transfer
from aae_core.models import SemiSupervisedAAE
from conftest import TINY


class Oracle:
    """A judge that reads a fixed digit, or the digit a lookup says: numbers we can predict."""

    def __init__(self, read):
        self.read = read

    def classify(self, x):
        return self.read(x)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SemiSupervisedAAE(TINY).eval()


def test_image_sets_have_the_grid_shapes(model, mnist):
    assert samples_per_digit(model, n_cols=7).shape == (70, 784)
    grid = style_grid(model, digit=3, n=5)
    assert grid.shape == (25, 784) and not torch.equal(grid[0], grid[-1])
    transfer = style_transfer(model, mnist.test_x[:4])
    assert transfer.shape == (40, 784)


def test_agreement_counts_what_the_judge_reads(model):
    always_three = Oracle(lambda x: torch.full((len(x),), 3))
    result = generated_agreement(model, always_three, samples_per_digit=5)
    assert result["per_digit"] == [0.0, 0, 0, 100.0, 0, 0, 0, 0, 0, 0] and result["overall"] == pytest.approx(10.0)


def test_style_stability_is_full_for_a_judge_that_ignores_style(model):
    constant = Oracle(lambda x: torch.zeros(len(x), dtype=torch.long))
    assert style_stability(model, constant, bases_per_digit=2, steps=3)["overall"] == 100.0
    # A judge that reads the image's total ink as a digit changes its mind as z moves.
    by_ink = Oracle(lambda x: (x.sum(dim=1) * 1000).long() % 10)
    assert style_stability(model, by_ink, bases_per_digit=2, steps=5)["overall"] < 100.0


def test_classifier_learns_and_round_trips(mnist, tmp_path):
    x, y = mnist.train_x[:2000], mnist.train_y[:2000]
    judge, history = train_classifier(x, y, epochs=2, seed=0, batch_size=100, progress=lambda line: None)
    assert len(history) == 2 and history[1]["loss"] < history[0]["loss"]
    assert (judge.classify(mnist.test_x[:500]) == mnist.test_y[:500]).float().mean() > 0.7
    save_classifier(judge, tmp_path / "model.pt")
    assert torch.equal(load_classifier(tmp_path).classify(mnist.test_x[:50]), judge.classify(mnist.test_x[:50]))
    assert isinstance(load_classifier(tmp_path / "model.pt"), DigitCNN)


def test_style_explorer_redraws_on_every_control(model):
    from aae_core.chapters.explorers import style_explorer

    explorer = style_explorer(model)
    drawn = [bytes(explorer.image.value)]
    explorer.sliders[2].value = 2.5
    drawn.append(bytes(explorer.image.value))
    explorer.digit.value = 7
    drawn.append(bytes(explorer.image.value))
    assert len(set(drawn)) == 3 and all(png.startswith(b"\x89PNG") for png in drawn)
    assert explorer.z[0, 2].item() == 2.5 and len(explorer.sliders) == TINY.style_dim

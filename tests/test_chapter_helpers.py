"""The helpers of chapters 2 and 4: what one phase moves, the layer and preset tables, the y code's
summary, the package's source as the chapter prints it, and where the style codes z lie."""
from __future__ import annotations

import inspect
import math

import pytest
import torch
from matplotlib.figure import Figure

from aae_core import SemiSupervisedAAE, TrainConfig
from aae_core.chapters.phases import (PHASE_COLORS, layer_table, model_parts, moved_by, plot_phase_moves,
                                      presets_table, source_block, y_summary)
from aae_core.chapters.projections import (digit_from_style, discriminant_plane, neighbour_digits,
                                           plot_style_projection, principal_plane, project, style_codes, vote)
from aae_core.config import ModelConfig
from aae_core.train import PlainUpdater, Trainer, make_trainer, phase_parameters
from conftest import ROOT, TINY


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return SemiSupervisedAAE(TINY).eval()


# ----------------------------------------------------------------- chapter 2: one step taken apart
@pytest.fixture
def trainer(small_data):
    return make_trainer(TrainConfig(labels=100, unlabeled=600, seed=0), small_data, ModelConfig(**{
        "hidden_dim": TINY.hidden_dim, "disc_hidden_dim": TINY.disc_hidden_dim}), progress=False)


def test_each_phase_moves_exactly_the_parts_its_loss_reaches(trainer, small_data):
    x = small_data.unlabeled_x[:100]
    x_noisy = trainer.add_noise(x)
    x_l, y_l = small_data.labeled_x, small_data.labeled_y
    _, recon = moved_by(trainer.model, lambda: trainer.reconstruction_phase(x_noisy, x))
    _, regular = moved_by(trainer.model, lambda: trainer.regularization_phase(x_noisy))
    loss, labelled = moved_by(trainer.model, lambda: trainer.semi_supervised_phase(x_l, y_l))
    moved = {phase: {part for part, value in changes.items() if value > 0}
             for phase, changes in (("recon", recon), ("regular", regular), ("labelled", labelled))}
    encoder = {"encoder trunk", "y head", "z head"}
    assert moved["recon"] == encoder | {"decoder"}
    assert moved["regular"] == encoder | {"D_y", "D_z"}
    assert moved["labelled"] == {"encoder trunk", "y head"}  # the cross-entropy never reads z
    assert math.isclose(loss.item(), math.log(10), rel_tol=0.05)  # near-uniform softmax at initialisation


def test_moved_by_measures_the_relative_change(tiny_model):
    model = SemiSupervisedAAE(TINY)
    model.load_state_dict(tiny_model.state_dict())

    def double_the_decoder():
        with torch.no_grad():
            for p in model.decoder.parameters():
                p.mul_(2)
        return "done"

    result, changes = moved_by(model, double_the_decoder)
    assert result == "done" and list(changes) == list(model_parts(model))
    assert changes["decoder"] == pytest.approx(1.0) and changes["D_y"] == 0 and changes["encoder trunk"] == 0


def test_layer_table_names_every_part_with_widths_activations_and_counts():
    model = SemiSupervisedAAE()
    table = layer_table(model).splitlines()
    assert table[0] == "| part | layer widths | activations | parameters |"
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in table[2:]}
    assert rows["encoder trunk"][:2] == ["784 → 1000 → 1000", "ReLU, ReLU"]
    assert rows["y head"][:2] == ["1000 → 10", "softmax"]
    assert rows["z head"][:2] == ["1000 → 10", "none (linear)"]
    assert rows["decoder"][:2] == ["20 → 1000 → 1000 → 784", "ReLU, ReLU, sigmoid"]
    assert rows["$D_y$"][:2] == ["10 → 1000 → 1000 → 1", "ReLU, ReLU, none (a logit)"]
    counts = [int(cells[2].strip(" |").replace(",", "")) for cells in rows.values()]
    assert sum(counts) == sum(p.numel() for p in model.parameters())


def test_presets_table_reads_the_schedules_from_the_config():
    table = presets_table(["paper-sgd", "adamw"])
    assert "`paper-sgd` (SGD, ÷10 at epochs 50 and 1000)" in table
    assert "| reconstruction | 0.01 → 0.001 → 0.0001, momentum 0.9 | 0.001 → 0.0001 → 1e-05 |" in table
    assert len(table.splitlines()) == 2 + 4  # header, rule, the four phases


def test_phase_figure_uses_a_log_axis_and_the_diagrams_colours():
    changes = {"(1) reconstruction": {"trunk": 1e-5, "decoder": 3e-3},
               "(2) regularization": {"trunk": 2e-6, "decoder": 0.0}}
    fig = plot_phase_moves(changes)
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and ax.get_yscale() == "log"
    colors = {patch.get_facecolor()[:3] for patch in ax.patches}
    assert {tuple(int(c * 255) for c in rgb) for rgb in colors} == {
        tuple(int(PHASE_COLORS[name][i:i + 2], 16) for i in (1, 3, 5)) for name in ("reconstruction", "regularization")}
    assert "none" in [text.get_text() for text in ax.texts]  # the decoder in (2): no bar, a word
    assert "log scale" in ax.get_ylabel()
    assert book_style_problems(fig) == []


def test_diagram_uses_the_figures_phase_colours():
    svg = (ROOT / "book" / "_static" / "diagrams" / "semi-supervised-aae.svg").read_text()
    assert svg.startswith("<svg") and '<rect width="860" height="700" fill="#fff"/>' in svg  # opaque
    for color in PHASE_COLORS.values():
        assert color in svg


def test_y_summary_of_a_one_hot_encoder_and_of_an_uninformed_one(tiny_model):
    x = torch.rand(50, 784, generator=torch.Generator().manual_seed(0))
    flat = y_summary(tiny_model, x)  # small initial weights: a near-uniform softmax
    assert flat["mean_largest"] == pytest.approx(0.1, abs=0.02) and flat["nearly_one_hot"] == 0
    assert sum(flat["per_category"]) == 50
    sure = SemiSupervisedAAE(TINY).eval()
    with torch.no_grad():
        sure.encoder.head_y.weight.zero_()
        sure.encoder.head_y.bias.copy_(torch.tensor([50.0] + [0.0] * 9))  # always category 0
    assert y_summary(sure, x) == {"mean_largest": pytest.approx(1.0), "nearly_one_hot": 100.0,
                                  "per_category": [50] + [0] * 9}


def test_source_block_is_the_packages_source_dedented():
    block = source_block(Trainer.semi_supervised_phase)
    assert block.startswith("```python\ndef semi_supervised_phase(") and block.endswith("```")
    assert inspect.getsource(Trainer.semi_supervised_phase).replace("\n    ", "\n").strip() in block


@pytest.mark.parametrize("function", [phase_parameters, PlainUpdater.update, Trainer.reconstruction_phase,
                                      Trainer.regularization_phase, Trainer.semi_supervised_phase],
                         ids=lambda f: f.__name__)
def test_the_code_chapter_2_prints_fits_its_boxes(function):
    """A code box at 1280 px holds 77 characters of the theme's 14 px code font."""
    assert max(len(line) for line in source_block(function).splitlines()) <= 77


def book_style_problems(fig: Figure) -> list[str]:
    """What keeps a figure from reading at the page's width in both colour modes."""
    fig.canvas.draw()
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text().strip() and t.get_visible()]
    problems = [f"{fig.get_figwidth():.1f} inches wide"] if fig.get_figwidth() > 7.0 + 0.01 else []
    problems += [f"text {t.get_text()!r} at {t.get_fontsize()} pt" for t in texts if t.get_fontsize() < 9]
    return problems + (["transparent"] if fig.get_facecolor()[3] < 1 else [])


# ----------------------------------------------------------------- chapter 4: where the style codes lie
def test_vote_takes_the_most_frequent_digit_and_the_smaller_on_a_tie():
    assert vote(torch.tensor([[3, 3, 1], [2, 7, 7], [5, 4, 9]])).tolist() == [3, 7, 4]


def test_neighbour_digits_reads_the_nearest_codes():
    codes = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1]])
    digits = torch.tensor([1, 1, 8, 8, 8])
    assert neighbour_digits(torch.tensor([[0.0, 0.05], [4.9, 5.0]]), codes, digits, k=2).tolist() == [1, 8]


def codes_with_digit(strength: float, n: int = 2000, seed: int = 0):
    """10-D codes: digit d adds `strength` along dimensions 3 and 7 in its own direction, over
    larger noise in dimensions 0 and 1 that says nothing about the digit."""
    gen = torch.Generator().manual_seed(seed)
    digits = torch.arange(n) % 10
    z = 0.3 * torch.randn(n, 10, generator=gen)
    z[:, :2] *= 10  # the largest variance carries no digit
    angle = 2 * math.pi * digits / 10
    z[:, 3] += strength * torch.cos(angle)
    z[:, 7] += strength * torch.sin(angle)
    return z, digits


def test_digit_from_style_is_chance_without_the_digit_and_near_100_with_it():
    z, digits = codes_with_digit(0.0)
    assert 4 < digit_from_style(z, digits) < 18
    z, digits = codes_with_digit(3.0)
    assert digit_from_style(z[:, 2:], digits) > 95  # without the two noisy dimensions


def test_discriminant_plane_finds_the_digit_where_principal_plane_finds_the_noise():
    z, digits = codes_with_digit(3.0)
    _, principal = principal_plane(z)
    _, discriminant = discriminant_plane(z, digits)
    assert principal[:2].abs().sum(dim=0).min() > 0.99  # dimensions 0 and 1: the largest spread
    assert discriminant[[3, 7]].norm(dim=0).min() > 0.99  # dimensions 3 and 7: the digits
    points = project(z, (z.double().mean(dim=0), discriminant))
    assert points.shape == (len(z), 2)
    again = discriminant_plane(z.flip(0), digits.flip(0))[1]
    assert torch.allclose(again, discriminant, atol=1e-6)  # the same plane, the same way round


def test_style_codes_are_the_encoders_z(tiny_model, mnist):
    x = mnist.test_x[:300]
    assert torch.equal(style_codes(tiny_model, x, batch_size=128), tiny_model.encode(x)[1].detach())


@pytest.mark.parametrize("n_panels,shown", [(1, 1), (2, 2), (3, 3)])
def test_projection_figure_has_a_panel_per_model_with_digit_names_and_marks(n_panels, shown):
    z, digits = codes_with_digit(3.0, n=300)
    points = project(z, discriminant_plane(z, digits))
    panels = {f"model {k}": {"points": points, "digits": digits, "marks": {"the 4": (0.0, 0.0)}}
              for k in range(n_panels)}
    fig = plot_style_projection(panels, ("first direction", "second direction"))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == shown and len(fig.axes) <= 2 * math.ceil(n_panels / 2)
    ax = visible[0]
    assert ax.get_title() == "model 0" and ax.get_xlabel() == "first direction"
    names = [text.get_text() for text in ax.texts]
    assert sorted(names) == [str(d) for d in range(10)] + ["the 4"]  # each digit's name, the mark's
    assert book_style_problems(fig) == []

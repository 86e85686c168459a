"""The book's figures read at the page's width: at most plots.WIDTH inches wide, no text under 9 points,
an opaque background, and titles and axes in words rather than history keys."""
import matplotlib.patches
import numpy as np
import pytest
import torch

from aae_core.chapters import demo, plots

HISTORY = [{"epoch": e, "steps": 500, "val_accuracy": 90 + e, "loss_recon": 30 - e, "loss_class": 1 / e,
            "loss_gen_y": 0.7, "loss_disc_y": 1.3} for e in range(1, 6)]
IMAGES = torch.rand(80, 784)


def final_cell(values):
    """A cell of the final table as reproduce.protocol_cell gives it, seeds 100, 101, ... in order."""
    from aae_core.stats import t_interval

    mean = sum(values) / len(values) if values else None
    return {"accuracies": dict(zip((100, 101, 102), values)), "mean": mean, "interval": t_interval(list(values)),
            "planned": 3}


FINAL = {(100, "paper-sgd"): final_cell([90.0, 95.0, 92.0]), (100, "sgd-labeled-noise"): final_cell([93.0, 94.0]),
         ("all", "paper-sgd"): final_cell([]), ("all", "sgd-early-drop"): final_cell([])}


def long_cell(accuracies, kind):
    return {"accuracies": accuracies, "planned": 5, "kind": kind}


def long_runs_figure():
    """Seed 100 on two machine kinds, seed 101 on one, at 100 labels; nothing at all labels."""
    cells = {(100, "cpu: AMD EPYC", "bf16"): {50: long_cell({100: 91.0}, "bf16 on AMD EPYC"),
                                             500: long_cell({100: 92.5}, "bf16 on AMD EPYC")},
             (100, "cpu: Intel Xeon", "bf16"): {50: long_cell({100: 96.4, 101: 87.6}, "bf16 on Intel Xeon"),
                                               500: long_cell({100: 97.9, 101: 88.6}, "bf16 on Intel Xeon")}}
    first = {100: {100: 88.9, 101: 87.9}, "all": {100: 98.8}}
    return plots.plot_long_runs(cells, first, {100: 98.1, "all": 99.15}, "the paper's Table 2", [100, 101, 102],
                                drops=(50, 1000))


def figures():
    codes = (torch.randn(200, 2), torch.randint(0, 10, (200,)))
    yield "codes", demo.plot_codes({"a": codes, "b": codes, "c": codes}, torch.randn(200, 2), "codes")
    yield "decoded prior", demo.plot_decoded_prior({"a": IMAGES[:10], "b": IMAGES[10:20]}, 1, "decoded")
    yield "history", plots.plot_history({f"run {k}": HISTORY for k in range(12)},
                                        ["val_accuracy", "loss_recon", "loss_class"])
    yield "grid", plots.image_grid(IMAGES, n_cols=10, row_labels=[f"component {k}" for k in range(8)])
    yield "grids", plots.image_grids({"SGD": IMAGES[:50], "AdamW": IMAGES[:50]}, n_cols=10)
    yield "confusion", plots.plot_confusion(np.random.randint(0, 50, (10, 10)))
    yield "priors", plots.plot_priors(torch.eye(10)[torch.randint(0, 10, (100,))], torch.randn(100, 5))
    yield "final table", plots.plot_final_table(FINAL, {100: 98.1, "all": 99.15}, "the paper's Table 2")
    yield "long runs", long_runs_figure()


@pytest.mark.parametrize("name,fig", list(figures()), ids=lambda v: v if isinstance(v, str) else "")
def test_figures_read_at_page_width(name, fig):
    fig.canvas.draw()
    assert fig.get_figwidth() <= plots.WIDTH + 0.01
    assert fig.get_facecolor()[3] == 1.0, "transparent figures vanish in dark mode"
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text().strip() and t.get_visible()]
    assert texts and min(t.get_fontsize() for t in texts) >= 9
    assert not [t.get_text() for t in texts if "loss_" in t.get_text() or "val_accuracy" in t.get_text()]


def test_run_colours_are_distinct_up_to_twenty_and_pairs_share_one():
    names = [f"run {k}" for k in range(20)]
    assert len(set(plots.run_colors(names).values())) == 20
    paired = plots.run_colors(["paper-sgd seed 0", "recipe seed 0", "paper-sgd seed 1"], key=lambda n: n[-1])
    assert paired["paper-sgd seed 0"] == paired["recipe seed 0"] != paired["paper-sgd seed 1"]


def test_history_keys_in_words():
    assert plots.metric_name("loss_recon") == "reconstruction loss"
    assert plots.metric_name("loss_something_new") == "something new"


def test_the_final_table_figure_joins_each_seeds_two_runs_and_marks_pending_cells():
    fig = plots.plot_final_table(FINAL, {100: 98.1, "all": 99.15}, "the paper's Table 2")
    few, pending = [ax for ax in fig.axes if ax.get_visible()]
    joined = {line.get_label(): list(line.get_xdata()) for line in few.get_lines() if line.get_label().startswith("seed")}
    assert joined == {"seed 100": [0, 1], "seed 101": [0, 1], "seed 102": [0]}  # seed 102 has one preset only
    assert len(few.containers) == 2  # each cell with an interval has its mean and error bar
    dashed = [line for line in few.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [98.1, 98.1]
    assert [text.get_text() for text in pending.texts] == ["pending", "pending"]
    assert pending.get_ylim()[1] <= 100


def test_the_long_runs_figure_gives_seeds_colours_and_machine_kinds_line_styles():
    fig = long_runs_figure()
    hundred, every = fig.axes[:2]
    lines = [line for line in hundred.get_lines() if line.get_label().startswith("seed")]
    assert sorted((line.get_label(), line.get_linestyle()) for line in lines) == [
        ("seed 100", "-"), ("seed 100", ":"), ("seed 101", ":")]  # one line per seed and machine kind
    assert [text.get_text() for text in every.texts] == ["no long\nrun yet"]
    # the panel with runs is drawn twice as wide as the one with the final table's circles alone
    assert hundred.get_position().width > 1.8 * every.get_position().width
    legend, = fig.legends
    entries = dict(zip((text.get_text() for text in legend.get_texts()), legend.legend_handles))
    assert list(entries)[:2] == ["seed 100", "seed 101"]  # the seeds drawn, not seed 102
    # a seed's entry carries its colour and no line style, which belongs to the machine kinds' entries
    assert all(isinstance(entries[seed], matplotlib.patches.Patch) for seed in ("seed 100", "seed 101"))
    assert entries["bf16 on AMD EPYC"].get_linestyle() == "-" and entries["bf16 on Intel Xeon"].get_linestyle() == ":"
    assert "final table (50 epochs, fp32)" in entries and "the paper's Table 2" in entries
    assert "learning rates ÷ 10" not in entries  # 50 is the first milestone, and 1000 lies past the last


def test_the_long_runs_figure_marks_a_drop_between_two_milestones():
    cells = {(100, "cpu: AMD EPYC", "bf16"): {e: long_cell({101: 88.0 + e / 1000}, "bf16 on AMD EPYC")
                                             for e in (50, 500, 1000, 2000)}}
    cells[(1000, "cpu: AMD EPYC", "bf16")] = {e: long_cell({101: 97.0}, "bf16 on AMD EPYC") for e in (50, 500)}
    fig = plots.plot_long_runs(cells, {}, {100: 98.1, 1000: 98.4}, "the paper's Table 2", [101], drops=(50, 1000))
    marks = [[list(line.get_xdata()) for line in ax.get_lines() if line.get_label() == "learning rates ÷ 10"]
             for ax in fig.axes[:2]]
    assert marks == [[[1000, 1000]], []]  # not at 50, the first milestone; not where a panel's runs stop at 500
    legend, = fig.legends
    assert "learning rates ÷ 10" in [text.get_text() for text in legend.get_texts()]

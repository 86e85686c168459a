"""Figures for the book: each function takes arrays or histories and returns a matplotlib Figure.

No pyplot state, no plt.show(): a notebook displays the returned Figure, a script saves it.
"""
from __future__ import annotations

import functools

import matplotlib
import matplotlib.patches
import numpy as np
from matplotlib.figure import Figure

DIGIT_COLORS = "tab10"

# The book's page is about 690 px wide and shows figures at 100 px an inch (drawn at twice that, for
# high-density screens): a figure at most WIDTH inches wide is shown near its own size, so 9-point text
# stays at least 9 px on screen. Opaque white backgrounds keep figures readable in dark mode.
WIDTH = 7.0
STYLE = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9,
         "ytick.labelsize": 9, "legend.fontsize": 9, "figure.titlesize": 11, "figure.facecolor": "white",
         "savefig.facecolor": "white", "axes.facecolor": "white"}

# Twenty colours, the ten strong ones first: runs of one figure get distinct colours up to twenty.
RUN_PALETTE = [matplotlib.colormaps["tab20"](i) for i in (*range(0, 20, 2), *range(1, 20, 2))]

# Words for the history's keys, used for panel titles and axis labels.
METRIC_NAMES = {
    "val_accuracy": "validation accuracy (%)",
    "loss_recon": "reconstruction loss",
    "loss_class": "classification loss (cross-entropy)",
    "loss_disc_y": "discriminator loss on y",
    "loss_gen_y": "encoder's adversarial loss on y",
    "loss_disc_z": "discriminator loss on z",
    "loss_gen_z": "encoder's adversarial loss on z",
    "loss_disc": "discriminator loss",
    "loss_gen": "encoder's adversarial loss",
    "loss_kl": "KL divergence",
}


def metric_name(key: str) -> str:
    """A history key in words ('loss_recon' -> 'reconstruction loss')."""
    return METRIC_NAMES.get(key, key.removeprefix("loss_").replace("_", " "))


def run_colors(names, key=None) -> dict:
    """One colour per run name, distinct up to twenty; names with the same `key(name)` (e.g. two presets
    run on one seed) share a colour, so paired runs read as pairs."""
    keys = [key(name) if key else name for name in names]
    order = list(dict.fromkeys(keys))
    return {name: RUN_PALETTE[order.index(k) % len(RUN_PALETTE)] for name, k in zip(names, keys)}


def book_style(function):
    """Draw the figure under the book's style (font sizes, opaque background)."""
    @functools.wraps(function)
    def styled(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)
    return styled


def panel_grid(n_panels: int, panel_height: float, width: float = WIDTH, per_row: int = 2, **subplots):
    """A figure with n panels, at most `per_row` side by side, stacked in rows: readable at page width."""
    n_cols = min(per_row, n_panels)
    n_rows = -(-n_panels // n_cols)
    fig = Figure(figsize=(width, panel_height * n_rows + 0.4), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, **subplots).flatten()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _as_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _draw_images(axes: np.ndarray, images, row_labels: list[str] | None, col_labels: list[str] | None) -> None:
    """Images (N, 784) into a 2-D array of axes, row by row, without ticks; labels on the edges."""
    images = _as_numpy(images).reshape(-1, 28, 28)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i < len(images):
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
    for r, label in enumerate(row_labels or []):
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    for c, label in enumerate(col_labels or []):
        axes[0, c].set_title(label)


@book_style
def image_grid(images, n_cols: int, title: str = "", row_labels: list[str] | None = None,
               col_labels: list[str] | None = None, size: float = 0.9) -> Figure:
    """Images (N, 784) in [0, 1] as a grid with n_cols columns, optional row and column labels."""
    n_rows = int(np.ceil(len(images) / n_cols))
    margin = 1.1 if row_labels else 0
    size = min(size, (WIDTH - margin) / n_cols)
    fig = Figure(figsize=(size * n_cols + margin, size * n_rows + 0.5), layout="constrained")
    _draw_images(fig.subplots(n_rows, n_cols, squeeze=False), images, row_labels, col_labels)
    if title:
        fig.suptitle(title)
    return fig


@book_style
def plot_history(histories: dict, keys: list[str], title: str = "Training curves", x: str = "epoch",
                 log_y: tuple = (), dashed: tuple = (), colors: dict | None = None) -> Figure:
    """One panel per history key (e.g. 'loss_recon', 'val_accuracy'), one line per run {name: history},
    two panels to a row. x = "steps" puts training steps on a log axis: runs with different epoch
    lengths line up. Keys in `log_y` get a log y axis (a loss near zero still shows its ratios); runs
    named in `dashed` are drawn dashed (a baseline beside its variants). `colors` {name: colour} keeps
    a run's colour the same across a chapter's figures (run_colors makes one)."""
    colors = colors or run_colors(list(histories))
    fig, axes = panel_grid(len(keys), 2.9)
    for ax, key in zip(axes, keys):
        for name, history in histories.items():
            records = [r for r in history if key in r]
            xs = np.cumsum([r["steps"] for r in history])[[i for i, r in enumerate(history) if key in r]] \
                if x == "steps" else [r["epoch"] for r in records]
            ax.plot(xs, [r[key] for r in records], marker="o" if len(records) < 30 else None, markersize=3, label=name,
                    linestyle="--" if name in dashed else "-", color=colors.get(name))
        ax.set(title=metric_name(key), xlabel="training steps" if x == "steps" else "epoch",
               ylabel="accuracy (%)" if "accuracy" in key else "epoch mean")
        if x == "steps":
            ax.set_xscale("log")
        if key in log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if len(histories) > 1:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                   ncols=min(3, len(histories)), frameon=False)
    fig.suptitle(title)
    return fig


def seed_list(seeds) -> str:
    seeds = list(seeds)
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


@book_style
def plot_precision_curves(cells: dict, reference: dict | None = None,
                          reference_label: str = "another fp32 run") -> Figure:
    """Validation accuracy per epoch, fp32 against bf16, one panel per label count and one line per
    seed ({labels: {seed: {"fp32": RunFolder, "bf16": RunFolder}}}, as report.read_precision_runs);
    `reference` {labels: history} adds another run of the same settings, dashed, named `reference_label`."""
    colors = {"fp32": "tab:blue", "bf16": "tab:orange"}
    fig, axes = panel_grid(len(cells), 3.0)
    for ax, (labels, seeds) in zip(axes, cells.items()):
        for precision, color in colors.items():
            for k, (seed, runs) in enumerate(seeds.items()):
                history = runs[precision].history()
                ax.plot([r["epoch"] for r in history], [r["val_accuracy"] for r in history], color=color, alpha=0.8,
                        marker="o", markersize=3, label=f"{precision} ({seed_list(seeds)})" if k == 0 else None)
        if reference and labels in reference:
            history = reference[labels]
            ax.plot([r["epoch"] for r in history], [r["val_accuracy"] for r in history], color="gray",
                    linestyle="--", label=reference_label)
        ax.set(title=f"{labels} labels", xlabel="epoch", ylabel="validation accuracy (%)")
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle("fp32 against bf16: validation accuracy per epoch")
    return fig


@book_style
def plot_confusion(matrix, title: str = "Confusion matrix on the test set") -> Figure:
    """Counts (10, 10): row = true digit, column = predicted digit; the diagonal is what is right."""
    matrix = _as_numpy(matrix)
    fig = Figure(figsize=(6.2, 5.4), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.log1p(matrix), cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9,
                    color="white" if np.log1p(v) > np.log1p(matrix.max()) / 2 else "black")
    ax.set(xticks=range(len(matrix)), yticks=range(len(matrix)), xlabel="predicted digit", ylabel="true digit",
           title=title)
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    return fig


@book_style
def plot_priors(y_samples, z_samples, title: str = "Samples of the two priors") -> Figure:
    """Left: how often each category of y's one-hot prior is drawn. Right: two dimensions of z's prior."""
    y, z = _as_numpy(y_samples), _as_numpy(z_samples)
    fig = Figure(figsize=(WIDTH, 2.9), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.bar(range(y.shape[1]), y.sum(axis=0), color="tab:blue")
    left.set(title=f"categorical prior on y\n({len(y)} one-hot samples)", xlabel="category", ylabel="samples",
             xticks=range(y.shape[1]))
    right.scatter(z[:, 0], z[:, 1], s=3, alpha=0.5, color="tab:orange")
    right.set(title=f"Gaussian prior on z\n(dimensions 1 and 2 of {z.shape[1]})", xlabel="z1", ylabel="z2",
              aspect="equal")
    fig.suptitle(title)
    return fig


@book_style
def image_grids(panels: dict, n_cols: int, title: str = "", row_labels: list[str] | None = None,
                size: float = 0.55) -> Figure:
    """Several image grids, one per entry {panel title: images (N, 784)}: side by side where they fit
    the page's width, else stacked."""
    n_rows = int(np.ceil(len(next(iter(panels.values()))) / n_cols))
    side_by_side = len(panels) * (size * n_cols + 0.5) <= WIDTH
    across, down = (len(panels), 1) if side_by_side else (1, len(panels))
    fig = Figure(figsize=(across * (size * n_cols + 0.5), down * (size * n_rows + 0.5) + 0.4), layout="constrained")
    for sub, (name, images) in zip(np.atleast_1d(fig.subfigures(down, across)), panels.items()):
        _draw_images(sub.subplots(n_rows, n_cols, squeeze=False), images, row_labels, None)
        sub.suptitle(name)
    if title:
        fig.suptitle(title)
    return fig


@book_style
def plot_bench_scaling(results: list[dict], title: str = "Trainer step against batch size") -> Figure:
    """Per kind of step (read_benches' 'step': fp32, bf16 with weight copies or autocast): ms per step
    of the trainer, the plain loop and the GEMMs alone (left), and images per second through the
    trainer (right), from stored `bench` outputs."""
    fig, (time_ax, rate_ax) = panel_grid(2, 3.0)
    for step in sorted({r["step"] for r in results}):
        runs = [r for r in results if r["step"] == step]
        batches = [r["batch_size"] for r in runs]
        line, = time_ax.plot(batches, [r["ms_per_step"] for r in runs], marker="o", label=f"trainer, {step}")
        color = line.get_color()
        time_ax.plot(batches, [r["gemm_ms_per_step"] for r in runs], ls=":", color=color, label=f"GEMMs alone, {step}")
        if all("reference_ms_per_step" in r for r in runs):
            time_ax.plot(batches, [r["reference_ms_per_step"] for r in runs], ls="--", marker="x", color=color,
                         label=f"plain loop, {step}")
        rate_ax.plot(batches, [2 * r["batch_size"] / r["ms_per_step"] * 1e3 for r in runs], marker="o", color=color,
                     label=f"trainer, {step}")
    time_ax.set(xscale="log", yscale="log", xlabel="batch size (unlabeled; as many labeled)", ylabel="ms per step",
                title="time per step")
    rate_ax.set(xscale="log", xlabel="batch size", ylabel="images per second (both batches)", title="throughput")
    for ax in (time_ax, rate_ax):
        ax.set_xticks([r["batch_size"] for r in results], labels=[str(r["batch_size"]) for r in results])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    fig.legend(*time_ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(title)
    return fig


@book_style
def plot_final_table(cells: dict, quoted: dict, source: str, title: str = "The final table, seed by seed") -> Figure:
    """One panel per label count, one column per preset ({(labels, preset): reproduce.protocol_cell}): a
    dot per seed's test accuracy, the two presets' dots of one seed joined (the slope of the line is that
    seed's paired difference), each cell's mean with its 95% interval beside its dots, and the quoted
    number {labels: accuracy} as a dashed line. A cell with no finished seed says so."""
    panels = {}
    for (labels, preset), cell in cells.items():
        panels.setdefault(labels, {})[preset] = cell
    seeds = sorted({seed for cell in cells.values() for seed in cell["accuracies"]})
    colors = run_colors(seeds)
    fig, axes = panel_grid(len(panels), 3.0, per_row=3)
    for ax, (labels, presets) in zip(axes, panels.items()):
        names = list(presets)
        for seed in seeds:
            xs = [x for x, name in enumerate(names) if seed in presets[name]["accuracies"]]
            ax.plot(xs, [presets[names[x]]["accuracies"][seed] for x in xs], color=colors[seed], marker="o",
                    markersize=4, alpha=0.85, label=f"seed {seed}")
        for x, name in enumerate(names):
            cell = presets[name]
            if cell["interval"]:
                low, high = cell["interval"]
                ax.errorbar([x + 0.18], [cell["mean"]], yerr=[[cell["mean"] - low], [high - cell["mean"]]],
                            color="black", marker="s", markersize=4, capsize=3, label="mean, 95% interval")
            if not cell["accuracies"]:
                ax.annotate("pending", (x, 0.2), xycoords=("data", "axes fraction"), ha="center", color="gray")
        ax.axhline(quoted[labels], color="gray", linestyle="--", label=source)
        if not any(cell["accuracies"] for cell in presets.values()):
            ax.set_ylim(quoted[labels] - 2, 100)  # no dots yet: the quoted number, and no accuracy over 100%
        ax.set_xticks(range(len(names)), labels=[name.replace("-", "-\n", 1) for name in names])
        ax.set(title=f"{labels} labels", xlim=(-0.5, len(names) - 0.3))
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    handles = {}  # one legend entry per label, from whichever panel has it
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=4, frameon=False)
    fig.suptitle(title)
    return fig


LINE_STYLES = ("-", ":", "-.")  # one per kind of long run in a figure: machine, threads and precision
RING = 8  # the final table's rings: larger than a long run's dots, so a ring shows around one it sits on


@book_style
def plot_long_runs(cells: dict, first: dict, quoted: dict, source: str, seeds, drops=(),
                   title: str = "Test accuracy against training length, paper-sgd") -> Figure:
    """One panel per label count of `quoted` ({labels: accuracy}, drawn dashed): a line per seed and kind of
    run through its milestones ({(labels, machine, precision): {epoch: cell}} of long_runs.long_cells), on a
    log axis of epochs, in the colours `seeds` get in the final table's figure; the final table's own
    50-epoch results ({labels: {seed: accuracy}}) as open circles at epoch 50; a learning-rate drop of the
    schedule (`drops`, epochs) as a thick light grey line where it falls between two milestones of the panel."""
    colors = run_colors(list(seeds))
    kinds = sorted({kind[1:] for kind in cells})
    last = max([500] + [epoch for epochs in cells.values() for epoch in epochs])  # one epoch axis for all panels
    ran = [any(n == labels for n, *_ in cells) for labels in quoted]
    # a panel with runs gets twice the width of one that has only the final table's circles
    fig, axes = panel_grid(len(quoted), 3.0, per_row=3, sharey=False, width_ratios=[2 if r else 1 for r in ran])
    for ax, labels, has_runs in zip(axes, quoted, ran):
        drawn = []  # the panel's milestone epochs
        for (n, *kind), epochs in cells.items():
            if n != labels:
                continue
            drawn += list(epochs)
            style = LINE_STYLES[kinds.index(tuple(kind)) % len(LINE_STYLES)]
            for seed in sorted({s for cell in epochs.values() for s in cell["accuracies"]}):
                points = [(e, cell["accuracies"][seed]) for e, cell in epochs.items() if seed in cell["accuracies"]]
                ax.plot(*zip(*points), color=colors.get(seed, "gray"), linestyle=style, marker="o", markersize=3,
                        label=f"seed {seed}")
        for seed, accuracy in first.get(labels, {}).items():
            ax.plot([50], [accuracy], color=colors.get(seed, "gray"), marker="o", markersize=RING, fillstyle="none",
                    linestyle="none")
        ax.axhline(quoted[labels], color="gray", linestyle="--", label=source)
        for drop in drops:
            if drawn and min(drawn) < drop < max(drawn):  # a drop after the last milestone has changed nothing drawn
                ax.axvline(drop, color="0.75", linewidth=3, zorder=0, label="learning rates ÷ 10")
        if not has_runs:
            ax.annotate("no long\nrun yet", (0.5, 0.06), xycoords="axes fraction", ha="center", color="gray")
        ax.set_xscale("log")
        ticks = [e for e in (50, 100, 200, 500, 1000, 2000, 5000) if e <= last]
        ticks = ticks if has_runs else [ticks[0], ticks[-1]]  # a narrow panel has room for its ends only
        ax.set_xticks(ticks, labels=[str(e) for e in ticks], minor=False)
        ax.set_xticks([], minor=True)
        ax.set(title=f"{labels} labels", xlabel="epoch (log scale)", xlim=(40, last * 1.25))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    # a seed's entry is its colour alone: the line style belongs to the machine kind, in entries of its own
    handles = {label: matplotlib.patches.Patch(color=handle.get_color()) if label.startswith("seed ") else handle
               for label, handle in handles.items()}
    handles["final table (50 epochs, fp32)"] = matplotlib.lines.Line2D(
        [], [], color="black", marker="o", markersize=RING, fillstyle="none", linestyle="none")
    words = {tuple(kind[1:]): next(iter(epochs.values()))["kind"] for kind, epochs in cells.items()}
    for kind, style in zip(kinds, LINE_STYLES):
        handles[words[kind]] = matplotlib.lines.Line2D([], [], color="black", linestyle=style)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=3, frameon=False)
    fig.suptitle(title)
    return fig

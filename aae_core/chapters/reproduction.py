"""The reproduction's tables, read from run folders: Table 3 beside the quoted numbers, seed by seed,
preset against preset (paired by seed), and the recipe search's runs with what each changed."""
from __future__ import annotations

import statistics
from dataclasses import fields

from ..config import N_TRAIN, PAPER_LABELS, ModelConfig, TrainConfig, model_config_from_dict
from ..reproduce import machine_kind
from ..stats import interval_verdict
from ..train import steps_per_epoch
from .tables import duration, markdown_table, mean_std


def step_matching_table(runs: dict) -> str:
    """How many steps each run trained, in Latała's epochs and in ours, and where its
    learning rate dropped: {name: RunFolder} of finished runs."""
    rows = []
    for name, run in runs.items():
        cfg, summary = run.train_config(), run.summary()
        seed_epoch = steps_per_epoch("labeled", N_TRAIN, cfg.n_labeled, cfg.batch_size)
        ours = steps_per_epoch(cfg.epoch_def, summary.unlabeled, cfg.n_labeled, cfg.batch_size)
        drops = [f"{m * ours:,} ({m * ours // seed_epoch})" for m in cfg.optimizer.milestones if m <= cfg.epochs]
        rows.append([name, cfg.labels, f"{summary.steps:,}", f"{summary.steps // seed_epoch:,}",
                     cfg.epochs, ", ".join(drops) or "none", duration(summary.wall_seconds)])
    return markdown_table(["run", "labels", "steps", "Latała's epochs", "our epochs",
                           "LR ÷10 after step (Latała's epoch)", "wall time"], rows)


def settings_changed(config: dict, keep=("labels", "epochs", "seed", "device", "precision")) -> str:
    """What a run's config.json changes against the defaults (`paper-sgd`, Latała's Table 1), as the
    `train` options that make the change ("--noise-std 0.5 --init-std 0"); a changed setting with no
    option (API only) as name=value. The settings in `keep` are the run's identity, not changes."""
    runs = [(TrainConfig.from_dict(config.get("train", {})), TrainConfig()),
            (model_config_from_dict(config.get("model", {})), ModelConfig())]

    def words(f, value):
        if isinstance(value, dict):
            value = [f"{k}={v:g}" for k, v in value.items()]
        values = [f"{v:g}" if isinstance(v, float) else str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
        if not f.metadata.get("group"):
            return f"{f.name}={','.join(values)}"
        flag = "--" + f.name.replace("_", "-")
        return flag if value is True else " ".join([flag, *values])

    changed = [words(f, getattr(stored, f.name)) for stored, default in runs for f in fields(stored)
               if f.name not in keep and getattr(stored, f.name) is not None
               and getattr(stored, f.name) != getattr(default, f.name)]
    return " ".join(changed) or "none (paper-sgd as it is)"


def as_code(options: str) -> str:
    """`train` options as code in a markdown table (else "--" renders as a dash); words stay words."""
    return options if options.startswith("none") else f"`{options}`"


def table3(rows: list[dict], ours: str = "ours, 50 epochs", nn_rows: list[dict] | None = None) -> str:
    """Our accuracies per label count (from reproduce.summarise) beside the quoted ones; with
    `nn_rows`, our NN baseline (the encoder trained on the labeled images only) too. * marks the
    paper's Table 2, † Latała's Table 3 (its "Paper" columns are its attribution, not the paper's)."""
    from .quoted import TABLE3

    nn = {row["labels"]: row for row in nn_rows or []}
    body = []
    for row in rows:
        quoted = TABLE3.get(row["labels"], {})
        ours_nn = [mean_std(nn[row["labels"]]["mean"], nn[row["labels"]]["std"], len(nn[row["labels"]]["accuracies"]))
                   if row["labels"] in nn else "–"] if nn_rows is not None else []
        body.append([row["labels"], mean_std(row["mean"], row["std"], len(row["accuracies"])), *ours_nn,
                     *(f"{quoted[k]:.2f}" if k in quoted else "–" for k in ("paper_best", "paper_50", "latala_50", "nn", "vat"))])
    header = ["labels", ours] + (["NN baseline, ours"] if nn_rows is not None else [])
    return markdown_table(header + ["paper, Table 2*", "'paper', 50 epochs†", "Latała, 50 epochs†", "NN*", "VAT*"], body)


def chosen_on_validation(rows_by_preset: dict) -> str:
    """Per label count, the preset ({preset: reproduce.summarise rows}) whose runs end with the highest
    mean validation accuracy, among presets with every planned seed finished, and that preset's test
    accuracy beside Latała's "paper, 50 epochs" column: a choice of recipe made on validation accuracy.
    (The development runs' test numbers were seen as well; the protocol's fresh seeds are what it reports.)"""
    from .quoted import TABLE3

    counts = dict.fromkeys(row["labels"] for rows in rows_by_preset.values() for row in rows)
    body = []
    for count in counts:
        complete = {preset: row for preset, rows in rows_by_preset.items() for row in rows
                    if row["labels"] == count and row["accuracies"] and len(row["accuracies"]) == row["planned"]}
        paper = TABLE3[count]["paper_50"]
        if not complete:
            body.append([count, "–", "no preset has every seed finished", "–", f"{paper:.2f}", "–"])
            continue
        preset, row = max(complete.items(), key=lambda item: item[1]["val_mean"])
        body.append([count, f"`{preset}`", ", ".join(f"`{p}` {r['val_mean']:.2f}%" for p, r in complete.items()),
                     mean_std(row["mean"], row["std"], len(row["accuracies"])), f"{paper:.2f}",
                     f"{row['mean'] - paper:+.2f}"])
    return markdown_table(["labels", "chosen", "mean final validation accuracy of each preset", "test accuracy, ours",
                           "'paper', 50 epochs†", "ours − that"], body)


def seeds_table(rows: list[dict]) -> str:
    """Each seed's test accuracy per label count (rows from reproduce.summarise): the spread that a
    mean ± std hides, such as one seed far below the others."""
    seeds = sorted({seed for row in rows for seed in row["accuracies"]})
    return markdown_table(["labels", *(f"seed {seed}" for seed in seeds)],
                          [[row["labels"], *(f"{row['accuracies'][seed]:.2f}%" if seed in row["accuracies"] else "–"
                                             for seed in seeds)] for row in rows])


def presets_by_seed(rows: dict, machines: dict | None = None) -> str:
    """Each seed's test accuracy under each preset ({preset: one reproduce.summarise row of one label
    count}) and the paired difference of the last preset against the first: the same seed draws the
    same labelled images, initial weights and batches, so the difference is the preset's, but only on
    one kind of machine. `machines` {preset: {seed: machine kind}} (run_machines): a pair from two kinds
    is marked not comparable instead of differenced."""
    names = list(rows)
    seeds = sorted({seed for row in rows.values() for seed in row["accuracies"]})
    body = []
    for seed in seeds:
        accuracies = [rows[name]["accuracies"].get(seed) for name in names]
        kinds = {(machines or {}).get(name, {}).get(seed) for name in (names[0], names[-1])}
        paired = accuracies[-1] - accuracies[0] if None not in (accuracies[0], accuracies[-1]) else None
        body.append([f"seed {seed}", *(f"{a:.2f}%" if a is not None else "–" for a in accuracies),
                     "–" if paired is None else "not comparable (two machine kinds)" if len(kinds - {None}) > 1
                     else f"{paired:+.2f}"])
    body.append(["mean ± std", *(mean_std(row["mean"], row["std"], len(row["accuracies"])) for row in rows.values()), ""])
    return markdown_table(["", *names, f"{names[-1]} − {names[0]}"], body)


def run_machines(runs: list) -> dict:
    """{seed: machine kind} of the finished runs among `runs` (reproduce.plan's PlannedRun)."""
    from ..runs.folder import RunFolder

    summaries = {run.seed: RunFolder(run.folder).summary() for run in runs if run.state == "finished"}
    return {seed: machine_kind(s.device, s.cpu_capability) for seed, s in summaries.items()}


def diagnosis_table(runs: dict, baseline: str, quoted: float) -> str:
    """The diagnosis runs ({name: RunFolder}, finished): what each changes against `paper-sgd` (as `train`
    options; the epochs show in the steps), its steps and test accuracy, and that accuracy against the run named `baseline` and
    against a quoted number (Latała's)."""
    base = runs[baseline].summary().test_accuracy
    rows = []
    for name, run in runs.items():
        summary = run.summary()
        rows.append([name, as_code(settings_changed(run.config(), keep=("labels", "epochs", "seed", "device", "precision"))),
                     f"{summary.steps:,}", f"{summary.test_accuracy:.2f}%",
                     f"{summary.test_accuracy - base:+.2f}", f"{summary.test_accuracy - quoted:+.2f}"])
    return markdown_table(["run", "changes against paper-sgd", "steps", "test accuracy", f"− {baseline}",
                           "− Latała's"], rows)


def commit_words(summary) -> str:
    """The commit a run started at, and those it was resumed at later (its wall time sums them)."""
    def short(commit: str) -> str:
        return commit[:7] + (" (dirty)" if commit.endswith("+dirty") else "")
    resumed = list(dict.fromkeys(c for c in summary.resumed_at_commits if c != summary.git_commit))
    return short(summary.git_commit) + (f", resumed at {', '.join(map(short, resumed))}" if resumed else "")


def runs_table(runs: dict) -> str:
    """What each finished run changed and what it reached: {name: RunFolder}."""
    rows = []
    for name, run in runs.items():
        cfg, summary = run.train_config(), run.summary()
        rows.append([name, cfg.labels, cfg.preset, cfg.epoch_def, cfg.recon_loss, f"{cfg.prior_std:g}",
                     cfg.label_subset, f"{summary.steps:,}", f"{summary.test_accuracy:.2f}%",
                     duration(summary.wall_seconds), summary.device, commit_words(summary)])
    return markdown_table(["run", "labels", "preset", "epoch", "recon loss", "prior std", "labeled subset", "steps",
                           "test accuracy", "wall time", "device", "commit"], rows)


def recipe_table(runs: dict, baselines: dict | None = None) -> str:
    """Runs of the recipe search beside each other: what each changes against `paper-sgd` and where it
    got ({name: RunFolder}, finished or diverged; every epoch's validation accuracy is in the curves).
    `baselines` {seed: RunFolder} adds each run's validation accuracy minus that of the `paper-sgd` run
    with the same seed and epochs: a paired comparison (same initial weights, labels and batches)."""
    rows = []
    for name, run in runs.items():
        cfg = run.train_config()
        if run.finished:
            summary = run.summary()
            base = (baselines or {}).get(cfg.seed)
            paired = (f"{summary.val_accuracy - base.summary().val_accuracy:+.2f}"
                      if base is not None and base.finished and base.summary().epochs == summary.epochs else "–")
            outcome = [summary.epochs, f"{summary.val_accuracy:.2f}%", paired, f"{summary.test_accuracy:.2f}%",
                       duration(summary.wall_seconds), summary.device]
        else:
            diverged = run.divergence()
            outcome = [cfg.epochs, "–", "–", f"diverged (NaN in epoch {diverged['epoch']}, by step "
                       f"{diverged['step']})", "–", diverged["device"]]
        rows.append([name, as_code(settings_changed(run.config())), cfg.labels, cfg.seed, *outcome])
    return markdown_table(["run", "changes against paper-sgd", "labels", "seed", "epochs", "validation",
                           "validation − paper-sgd (same seed)", "test", "wall time", "device"], rows)


def recipe_summary(probes: dict, baselines: dict) -> str:
    """One row per probe over every seed it ran: its validation accuracy minus that of the `paper-sgd` run
    with the same seed and epochs (`probes` {name: {seed: RunFolder}}, `baselines` {seed: RunFolder};
    finished runs only). The mean of those paired differences says more than any one seed."""
    rows = []
    for name, by_seed in probes.items():
        diffs = {seed: run.summary().val_accuracy - baselines[seed].summary().val_accuracy
                 for seed, run in sorted(by_seed.items())
                 if run.finished and seed in baselines and baselines[seed].finished
                 and baselines[seed].summary().epochs == run.summary().epochs}
        if diffs:
            values = list(diffs.values())
            rows.append([name, len(diffs), ", ".join(f"{seed}: {d:+.2f}" for seed, d in diffs.items()),
                         f"{statistics.fmean(values):+.2f}", f"{min(values):+.2f}"])
    return markdown_table(["probe", "seeds", "validation − paper-sgd, per seed", "mean", "worst seed"], rows)


def interval_words(interval: tuple[float, float] | None, sign: bool = False) -> str:
    return "–" if interval is None else f"[{interval[0]:{'+' if sign else ''}.2f}, {interval[1]:{'+' if sign else ''}.2f}]"


def verdict_words(interval: tuple[float, float] | None, margin: float | None = None) -> str:
    """reproduce.interval_verdict in the book's words: where the interval decides nothing, the data cannot tell."""
    verdict = interval_verdict(interval, margin)
    return "the data cannot tell" if verdict == "cannot tell" else verdict


def cell_words(cell: dict) -> str:
    """One cell of the final table in words: its mean ± std and how many of its seeds have finished,
    or that it is pending (no seed finished yet)."""
    n, planned = len(cell["accuracies"]), cell["planned"]
    if n == 0:
        return f"pending (0 of {planned})"
    spread = f" ± {cell['std']:.2f}" if cell["std"] is not None else ""
    return f"{cell['mean']:.2f}{spread} ({n} of {planned})"


def headline_table(cells: dict) -> str:
    """The final table as chapter 3 opens with it: per label count our two presets ({(labels, preset):
    reproduce.protocol_cell}) with their 95% intervals, beside the paper's Table 2 and Latała's own runs
    (its Table 3, 50 of its epochs), each quoted number with its source in the header."""
    from .quoted import LATALA, PAPER

    rows, shown = [], set()
    for (labels, preset), cell in cells.items():
        first = labels not in shown
        shown.add(labels)
        paper, latala = PAPER["AAE"][labels][0], LATALA["ours, 50 epochs"][labels][0]
        rows.append([labels if first else "", f"`{preset}`", cell_words(cell), interval_words(cell["interval"]),
                     f"{paper:.2f}" if first else "", f"{latala:.2f}" if first else ""])
    return markdown_table(["labels", "preset", "ours (seeds done)", "95% interval", "paper's Table 2",
                           "Latała's Table 3"], rows)


def seeds_of_cells(cells: dict, seeds) -> str:
    """Every seed of the final table: its test accuracy, or 'pending'."""
    rows = [[labels, f"`{preset}`", *(f"{cell['accuracies'][s]:.2f}" if s in cell["accuracies"] else "pending"
                                      for s in seeds)]
            for (labels, preset), cell in cells.items()]
    return markdown_table(["labels", "preset", *(f"seed {s}" for s in seeds)], rows)


def quoted_against(cells: list[dict], quoted: float) -> str:
    """'above', 'below' or 'within': where a quoted number lies against the 95% intervals of `cells`
    ('above' only when it lies above every interval; 'unknown' when a cell has none)."""
    intervals = [cell["interval"] for cell in cells]
    return "unknown" if any(interval is None for interval in intervals) else quoted_against_ranges(intervals, quoted)


def quoted_against_ranges(ranges: list[tuple[float, float]], quoted: float) -> str:
    """'above' when a quoted number lies above every (low, high) range, 'below' when below every one,
    else 'within'; a single run's accuracy v is the range (v, v)."""
    if all(high < quoted for _, high in ranges):
        return "above"
    return "below" if all(low > quoted for low, _ in ranges) else "within"


def against_quoted(cell: dict, quoted: float, source: str) -> str:
    """Where a quoted number lies against the 95% interval of our cell's mean, in words; a cell of the
    final table with seeds still to run says so, since its verdict is the protocol's only once all have run."""
    where = quoted_against([cell], quoted)
    if where == "unknown":
        return f"too few seeds for an interval to set beside {quoted:.2f} ({source})"
    interval = {"above": "lies below", "below": "lies above", "within": "contains"}[where]
    words = f"the 95% interval {interval_words(cell['interval'])} {interval} {quoted:.2f} ({source})"
    return words + seeds_to_run(len(cell.get("accuracies", {})), cell.get("planned"))


def seeds_to_run(done: int, planned: int | None) -> str:
    """What a verdict of the final table adds while some of its seeds have still to run: the protocol
    fixed the seeds before the runs, so a verdict from fewer of them is not its verdict yet."""
    return f", from {done} of {planned} seeds: not yet the protocol's verdict" if planned and done < planned else ""


def quoted_table(counts=PAPER_LABELS) -> str:
    """The numbers quoted from others (quoted.py) by label count, each row naming its source: the
    paper's Table 2 (as accuracy), and Latała's Table 3, its own runs and the columns it heads "Paper"."""
    from .quoted import LATALA, LATALA_TABLE3, PAPER, PAPER_TABLE2

    def value(entry):
        accuracy, plus_minus = entry
        return f"{accuracy:.2f}" + (f" ± {plus_minus:.2f}" if plus_minus is not None else "")

    rows = [[f"{PAPER_TABLE2}: {method}", *(value(PAPER[method][n]) for n in counts)] for method in PAPER]
    words = {"ours, 50 epochs": "its runs, 50 of its epochs", "ours, 500 epochs": "its runs, 500 of its epochs",
             "'paper', 50 epochs": "headed \"Paper\", 50 epochs (Latała's attribution)",
             "'paper', 500 epochs": "headed \"Paper\", 500 epochs (Latała's attribution)"}
    rows += [[f"{LATALA_TABLE3}: {words.get(column, column)}", *(value(LATALA[column][n]) for n in counts)]
             for column in LATALA]
    return markdown_table(["source", *(f"{n} labels" for n in counts)], rows)


def reimplementations_table() -> str:
    """Public reimplementations' MNIST accuracies as their authors report them (quoted.py)."""
    from .quoted import REIMPLEMENTATIONS

    return markdown_table(["reimplementation (source: its README on GitHub)", "labels", "test accuracy, as reported"],
                          [[r["who"], r["labels"], r["accuracy"]] for r in REIMPLEMENTATIONS])


def protocol_table(cells: dict) -> str:
    """The final table: one row per (labels, preset) from reproduce.protocol_cell, with the paper's Table 2
    number beside it ({(labels, preset): cell})."""
    from .quoted import PAPER

    rows = []
    for (labels, preset), cell in cells.items():
        n = len(cell["accuracies"])
        rows.append([labels, f"`{preset}`", f"{n} of {cell['planned']}",
                     mean_std(cell["mean"], cell["std"], n) if n else "pending",
                     interval_words(cell["interval"]),
                     ", ".join(f"{a:.2f}" for a in cell["accuracies"].values()) or "–",
                     " / ".join(cell["machines"]) or "–", f"{PAPER['AAE'][labels][0]:.2f}"])
    return markdown_table(["labels", "preset", "seeds done", "test accuracy, mean ± std", "95% interval",
                           "per seed", "machine", "paper's Table 2"], rows)


def protocol_differences_table(differences: dict, margin: float | None = None) -> str:
    """Chosen preset − `paper-sgd`, paired by seed ({labels: reproduce.paired_difference}); the verdict says
    what the 95% interval allows: better, worse, the same within `margin`, or that the data cannot tell."""
    rows = [[labels, len(d["seeds"]), ", ".join(f"{x:+.2f}" for x in d["differences"]) or "–",
             f"{d['mean']:+.2f}" if d["mean"] is not None else "–", interval_words(d["interval"], sign=True),
             verdict_words(d["interval"], margin)
             + (seeds_to_run(len(d["seeds"]), d.get("planned")) if d["interval"] else "")]
            for labels, d in differences.items()]
    return markdown_table(["labels", "paired seeds", "chosen − paper-sgd per seed", "mean", "95% interval",
                           "what the interval says"], rows)

"""Markdown tables the book renders from the package itself (presets, epochs, layer shapes),
so that no hyperparameter or shape is typed by hand into a chapter."""
from __future__ import annotations

import statistics

from .config import N_TRAIN, PHASES, PRESETS
from .models import SemiSupervisedAAE
from .train import steps_per_epoch


def duration(seconds: float) -> str:
    """Wall time as a reader says it: seconds under a minute and a half, else minutes."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def preset_table(name: str) -> str:
    """Optimizer, learning rate schedule and momentum of each phase of a preset."""
    opt = PRESETS[name]
    drops = " and ".join(str(m) for m in opt.milestones)
    rows = []
    for phase in PHASES:
        schedule = " → ".join(f"{opt.lr[phase] * opt.gamma**k:g}" for k in range(len(opt.milestones) + 1))
        rows.append([phase.replace("_", "-"), opt.name.upper() if opt.name == "sgd" else "AdamW", schedule,
                     opt.momentum.get(phase, "–")])
    return markdown_table(["phase", "optimizer", f"learning rate (÷10 at epochs {drops})", "momentum"], rows)


def epochs_table(label_counts=(100, 1000, "all"), batch_size: int = 100) -> str:
    """Steps per epoch under both epoch definitions, for the label counts of Table 3."""
    rows = []
    for labels in label_counts:
        n_labeled = N_TRAIN if labels == "all" else labels
        ours = steps_per_epoch("unlabeled", N_TRAIN, n_labeled, batch_size)
        seed = steps_per_epoch("labeled", N_TRAIN, n_labeled, batch_size)
        rows.append([labels, ours, seed, f"{ours // seed}×"])
    return markdown_table(["labels", "steps per epoch (ours)", "steps per epoch (seed repository)",
                           "ours is longer by"], rows)


def layer_table(model: SemiSupervisedAAE, batch_size: int = 100) -> str:
    """Every linear layer of the model with its input and output shapes for a batch."""
    rows = []
    for network in ("encoder", "decoder", "disc_y", "disc_z"):
        module = getattr(model, network)
        if module is None:
            continue
        for name, layer in module.named_modules():
            if hasattr(layer, "in_features"):
                rows.append([network, name, f"({batch_size}, {layer.in_features})",
                             f"({batch_size}, {layer.out_features})", f"{layer.weight.numel() + layer.bias.numel():,}"])
    return markdown_table(["network", "layer", "input", "output", "parameters"], rows)


def step_matching_table(runs: dict) -> str:
    """How many steps each run trained, in the seed repository's epochs and in ours, and where its
    learning rate dropped: {name: RunFolder} of finished runs."""
    rows = []
    for name, run in runs.items():
        cfg, summary = run.config()["train"], run.summary()
        n_labeled = N_TRAIN if cfg["labels"] == "all" else cfg["labels"]
        seed_epoch = steps_per_epoch("labeled", N_TRAIN, n_labeled, cfg["batch_size"])
        ours = steps_per_epoch(cfg["epoch_def"], summary["unlabeled"], n_labeled, cfg["batch_size"])
        drops = [f"{m * ours:,} ({m * ours // seed_epoch})" for m in run.config()["optimizer"]["milestones"]
                 if m <= cfg["epochs"]]
        rows.append([name, cfg["labels"], f"{summary['steps']:,}", f"{summary['steps'] // seed_epoch:,}",
                     cfg["epochs"], ", ".join(drops) or "none",
                     duration(summary['wall_seconds'])])
    return markdown_table(["run", "labels", "steps", "seed's epochs", "our epochs",
                           "LR ÷10 after step (seed's epoch)", "wall time"], rows)


def agreement_table(entries: dict) -> str:
    """One row per model: its test accuracy and how its generated digits fare with the judge,
    from `python -m aae_core agreement` ({name: entry of agreement.json's 'models'})."""
    rows = [[name, entry["preset"], entry["labels"], f"{entry['steps']:,}", f"{entry['test_accuracy']:.2f}%",
             f"{entry['agreement']['overall']:.1f}%", f"{min(entry['agreement']['per_digit']):.1f}%",
             f"{entry['style_stability']['overall']:.1f}%"] for name, entry in entries.items()]
    return markdown_table(["model", "preset", "labels", "steps", "test accuracy (encoder)", "agreement",
                           "worst digit", "style stability"], rows)


def mean_std(mean: float | None, std: float | None, n: int) -> str:
    if mean is None:
        return "–"
    return f"{mean:.2f} ± {std:.2f} ({n} seeds)" if std is not None else f"{mean:.2f} (1 seed)"


def settings_changed(config: dict, keep=("labels", "epochs", "seed", "device", "precision")) -> str:
    """What a run's config.json changes against the defaults (`paper-sgd` as in Table 1), as the
    `train` options that make the change ("--noise-std 0.5 --init-std 0"); the settings in `keep`
    are the run's identity, not changes."""
    from dataclasses import asdict

    from .config import ModelConfig, TrainConfig

    defaults = {**TrainConfig().to_dict(), **asdict(ModelConfig())}
    stored = {**config.get("train", {}), **config.get("model", {})}
    def option(key, value):
        if isinstance(value, dict):
            value = [f"{k}={v:g}" for k, v in value.items()]
        values = value if isinstance(value, (list, tuple)) else [value]
        flag = "--" + key.replace("_", "-")
        if value is True:
            return flag
        return " ".join([flag, *(f"{v:g}" if isinstance(v, float) else str(v) for v in values)])

    def differs(key):
        if key in keep or stored.get(key) is None:
            return False
        as_list = lambda v: list(v) if isinstance(v, (list, tuple)) else v  # noqa: E731 (JSON turns tuples to lists)
        return as_list(stored[key]) != as_list(defaults[key])

    changed = [option(key, stored[key]) for key in defaults if differs(key)]
    return " ".join(changed) or "none (Table 1 as it is)"


def time_to_accuracy(history: list[dict], threshold: float) -> dict | None:
    """The first epoch whose validation accuracy reaches `threshold` (percent), with the steps and the
    training seconds spent until then; None if no epoch does. Validation, never test: a time to
    accuracy is a choice of checkpoint."""
    steps = seconds = 0.0
    for record in history:
        steps, seconds = steps + record["steps"], seconds + record["seconds"]
        if record["val_accuracy"] >= threshold:
            return {"epoch": record["epoch"], "steps": int(steps), "seconds": seconds,
                    "val_accuracy": record["val_accuracy"]}
    return None


def around_drop(history: list[dict], drop_epoch: int, window: int | None = None) -> dict | None:
    """Validation accuracy on both sides of a learning-rate drop after epoch `drop_epoch`: the best
    epoch of each side and each side's mean over the `window` epochs next to the drop (a whole side
    when None; a mean is steadier than a best on a noisy curve). None until an epoch after the drop."""
    before = history[:drop_epoch][-window:] if window else history[:drop_epoch]
    after = history[drop_epoch:][:window] if window else history[drop_epoch:]
    if not before or not after:
        return None

    def side(records):
        best = max(records, key=lambda r: r["val_accuracy"])
        return {"best": best["val_accuracy"], "best_epoch": best["epoch"], "epochs": (records[0]["epoch"], records[-1]["epoch"]),
                "mean": sum(r["val_accuracy"] for r in records) / len(records)}

    return {"before": side(before), "after": side(after)}


def drop_table(histories: dict, drop_epoch: int, window: int | None = None) -> str:
    """`around_drop` for each run ({name: history}) as a table; a run without epochs after the drop
    gets a row of dashes. Runs with no drop at that epoch are the control: their change is the noise."""
    rows = []
    for name, history in histories.items():
        sides = around_drop(history, drop_epoch, window)
        if sides is None:
            rows.append([name] + ["–"] * 5)
            continue
        before, after = sides["before"], sides["after"]
        rows.append([name, f"{before['mean']:.2f}% (epochs {before['epochs'][0]}-{before['epochs'][1]})",
                     f"{after['mean']:.2f}% (epochs {after['epochs'][0]}-{after['epochs'][1]})",
                     f"{after['mean'] - before['mean']:+.2f}",
                     f"{before['best']:.2f}% (epoch {before['best_epoch']})", f"{after['best']:.2f}% (epoch {after['best_epoch']})"])
    return markdown_table(["run", f"mean validation, up to epoch {drop_epoch}", f"mean validation, after epoch {drop_epoch}",
                           "change", "best before", "best after"], rows)


def curve_milestones(histories: dict, marks=(95.0, 97.0, 98.0)) -> str:
    """Landmarks of each run's curve ({name: history}): the class loss on the labelled images after
    epochs 1 and 10 (how long the labels keep pulling), the validation accuracy at epoch 10 and at its
    best, and when it first reaches each mark (epoch and training time on the run's device)."""
    def at(history, epoch, key):
        return next((f"{r[key]:.3g}" if key.startswith("loss") else f"{r[key]:.2f}%"
                     for r in history if r["epoch"] == epoch and key in r), "–")

    def first(history, mark):
        reached = time_to_accuracy(history, mark)
        return f"epoch {reached['epoch']} ({duration(reached['seconds'])})" if reached else "–"

    rows = []
    for name, history in histories.items():
        best = max(history, key=lambda r: r["val_accuracy"], default=None)
        rows.append([name, len(history), at(history, 1, "loss_class"), at(history, 10, "loss_class"),
                     at(history, 10, "val_accuracy"),
                     f"{best['val_accuracy']:.2f}% (epoch {best['epoch']})" if best else "–",
                     *(first(history, mark) for mark in marks)])
    return markdown_table(["run", "epochs done", "class loss, epoch 1", "class loss, epoch 10", "validation, epoch 10",
                           "best validation",
                           *(f"validation ≥ {mark:g}%" for mark in marks)], rows)


def table3(rows: list[dict], ours: str = "ours, 50 epochs", nn_rows: list[dict] | None = None) -> str:
    """Our accuracies per label count (from reproduce.summarise) beside the quoted ones; with
    `nn_rows`, our NN baseline (the encoder trained on the labeled images only) too."""
    from .quoted import TABLE3

    nn = {row["labels"]: row for row in nn_rows or []}
    body = []
    for row in rows:
        quoted = TABLE3.get(row["labels"], {})
        ours_nn = [mean_std(nn[row["labels"]]["mean"], nn[row["labels"]]["std"], len(nn[row["labels"]]["accuracies"]))
                   if row["labels"] in nn else "–"] if nn_rows is not None else []
        body.append([row["labels"], mean_std(row["mean"], row["std"], len(row["accuracies"])), *ours_nn,
                     *(f"{quoted[k]:.2f}" if k in quoted else "–" for k in ("paper_50", "seed_50", "paper_best", "nn", "vat"))])
    header = ["labels", ours] + (["NN baseline, ours"] if nn_rows is not None else [])
    return markdown_table(header + ["paper, 50 epochs*", "seed, 50 epochs*", "paper, best*", "NN*", "VAT*"], body)


def chosen_on_validation(rows_by_preset: dict) -> str:
    """Per label count, the preset ({preset: reproduce.summarise rows}) whose runs end with the highest
    mean validation accuracy, among presets with every planned seed finished, and that preset's test
    accuracy beside the paper's 50-epoch number: a choice of recipe that never looks at the test set."""
    from .quoted import TABLE3

    counts = dict.fromkeys(row["labels"] for rows in rows_by_preset.values() for row in rows)
    body = []
    for count in counts:
        complete = {preset: row for preset, rows in rows_by_preset.items() for row in rows
                    if row["labels"] == count and row["accuracies"] and len(row["accuracies"]) == row["seeds_planned"]}
        paper = TABLE3[count]["paper_50"]
        if not complete:
            body.append([count, "–", "no preset has every seed finished", "–", f"{paper:.2f}", "–"])
            continue
        preset, row = max(complete.items(), key=lambda item: item[1]["val_mean"])
        body.append([count, f"`{preset}`", ", ".join(f"`{p}` {r['val_mean']:.2f}%" for p, r in complete.items()),
                     mean_std(row["mean"], row["std"], len(row["accuracies"])), f"{paper:.2f}",
                     "yes" if row["mean"] >= paper else f"no ({row['mean'] - paper:+.2f})"])
    return markdown_table(["labels", "chosen", "mean final validation accuracy of each preset", "test accuracy, ours",
                           "paper, 50 epochs*", "ours ≥ paper"], body)


def seeds_table(rows: list[dict]) -> str:
    """Each seed's test accuracy per label count (rows from reproduce.summarise): the spread that a
    mean ± std hides, such as one seed far below the others."""
    seeds = sorted({seed for row in rows for seed in row["accuracies"]})
    return markdown_table(["labels", *(f"seed {seed}" for seed in seeds)],
                          [[row["labels"], *(f"{row['accuracies'][seed]:.2f}%" if seed in row["accuracies"] else "–"
                                             for seed in seeds)] for row in rows])


def presets_by_seed(rows: dict) -> str:
    """Each seed's test accuracy under each preset ({preset: one reproduce.summarise row of one label
    count}) and the paired difference of the last preset against the first: the same seed draws the
    same labelled images, initial weights and batches, so the difference is the preset's."""
    names = list(rows)
    seeds = sorted({seed for row in rows.values() for seed in row["accuracies"]})
    body = []
    for seed in seeds:
        accuracies = [rows[name]["accuracies"].get(seed) for name in names]
        paired = accuracies[-1] - accuracies[0] if None not in (accuracies[0], accuracies[-1]) else None
        body.append([f"seed {seed}", *(f"{a:.2f}%" if a is not None else "–" for a in accuracies),
                     f"{paired:+.2f}" if paired is not None else "–"])
    body.append(["mean ± std", *(mean_std(row["mean"], row["std"], len(row["accuracies"])) for row in rows.values()), ""])
    return markdown_table(["", *names, f"{names[-1]} − {names[0]}"], body)


def runs_table(runs: dict) -> str:
    """What each finished run changed and what it reached: {name: RunFolder}."""
    rows = []
    for name, run in runs.items():
        cfg, summary = run.config()["train"], run.summary()
        rows.append([name, cfg["labels"], cfg["preset"], cfg["epoch_def"], cfg["recon_loss"], f"{cfg['prior_std']:g}",
                     cfg.get("label_subset", "balanced"), f"{summary['steps']:,}", f"{summary['test_accuracy']:.2f}%",
                     duration(summary['wall_seconds']), summary["device"]])
    return markdown_table(["run", "labels", "preset", "epoch", "recon loss", "prior std", "labeled subset", "steps",
                           "test accuracy", "wall time", "device"], rows)


def recipe_table(runs: dict, baselines: dict | None = None) -> str:
    """Runs of the recipe search beside each other: what each changes against Table 1 and where it
    got ({name: RunFolder}, finished or diverged; every epoch's validation accuracy is in the curves).
    `baselines` {seed: RunFolder} adds each run's validation accuracy minus that of the Table 1 run
    with the same seed and epochs: a paired comparison (same initial weights, labels and batches)."""
    rows = []
    for name, run in runs.items():
        config = run.config()
        seed = config["train"]["seed"]
        if run.finished:
            summary = run.summary()
            base = (baselines or {}).get(seed)
            paired = (f"{summary['val_accuracy'] - base.summary()['val_accuracy']:+.2f}"
                      if base is not None and base.finished and base.summary()["epochs"] == summary["epochs"] else "–")
            outcome = [summary["epochs"], f"{summary['val_accuracy']:.2f}%", paired, f"{summary['test_accuracy']:.2f}%",
                       duration(summary["wall_seconds"]), summary["device"]]
        else:
            diverged = run.divergence()
            outcome = [config["train"]["epochs"], "–", "–", f"diverged (NaN in epoch {diverged['epoch']}, by step "
                       f"{diverged['step']})", "–", diverged["device"]]
        rows.append([name, settings_changed(config), config["train"]["labels"], seed, *outcome])
    return markdown_table(["run", "changes against Table 1", "labels", "seed", "epochs", "validation",
                           "validation − Table 1 (same seed)", "test", "wall time", "device"], rows)


def recipe_summary(probes: dict, baselines: dict) -> str:
    """One row per probe over every seed it ran: its validation accuracy minus that of the Table 1 run
    with the same seed and epochs (`probes` {name: {seed: RunFolder}}, `baselines` {seed: RunFolder};
    finished runs only). The mean of those paired differences says more than any one seed."""
    rows = []
    for name, by_seed in probes.items():
        diffs = {seed: run.summary()["val_accuracy"] - baselines[seed].summary()["val_accuracy"]
                 for seed, run in sorted(by_seed.items())
                 if run.finished and seed in baselines and baselines[seed].finished
                 and baselines[seed].summary()["epochs"] == run.summary()["epochs"]}
        if diffs:
            values = list(diffs.values())
            rows.append([name, len(diffs), ", ".join(f"{seed}: {d:+.2f}" for seed, d in diffs.items()),
                         f"{statistics.fmean(values):+.2f}", f"{min(values):+.2f}"])
    return markdown_table(["probe", "seeds", "validation − Table 1, per seed", "mean", "worst seed"], rows)


def trajectory_gap(history_a: list[dict], history_b: list[dict]) -> dict | None:
    """How far two runs' validation accuracies drift apart epoch by epoch: the largest gap and the
    gap at their last common epoch (points). Two runs of the same settings give the noise floor."""
    gaps = [a["val_accuracy"] - b["val_accuracy"] for a, b in zip(history_a, history_b)]
    if not gaps:
        return None
    return {"epochs": len(gaps), "largest": max(gaps, key=abs), "last": gaps[-1]}


def read_benches(folder, device: str = "cpu") -> list[dict]:
    """The stored outputs of `bench --out` for one device, ordered by precision, batch size and step
    ('step' names what the step computes with: fp32, bf16 weight copies or bf16 autocast)."""
    from pathlib import Path

    from .runs import read_json

    results = [read_json(path) for path in Path(folder).glob(f"{device}-*.json")]
    for r in results:  # benches stored before bf16 weight copies existed timed autocast
        r.setdefault("step", "bf16, autocast" if r["precision"] == "bf16" else "fp32")
    return sorted(results, key=lambda r: (r["precision"], r["batch_size"], r["step"]))


def read_precision_runs(folder, against: str = "bf16", fp32_folder=None) -> dict:
    """The pairs of fp32 and `against` runs under `folder` (<labels-L>/<precision>/seed-<S>) finished in
    both: {labels: {seed: {"fp32": RunFolder, against: RunFolder}}}, label counts and seeds in order.
    fp32_folder: the fp32 runs are there instead (<labels-L>/seed-<S>, as results/table3 holds them)."""
    from pathlib import Path

    from .runs import RunFolder

    cells = {}
    for labels_dir in Path(folder).glob("labels-*"):
        fp32_dir = labels_dir / "fp32" if fp32_folder is None else Path(fp32_folder) / labels_dir.name
        seeds = sorted(int(p.name.removeprefix("seed-")) for p in (labels_dir / against).glob("seed-*"))
        pairs = {seed: {"fp32": RunFolder(fp32_dir / f"seed-{seed}"), against: RunFolder(labels_dir / against / f"seed-{seed}")}
                 for seed in seeds}
        finished = {seed: runs for seed, runs in pairs.items() if all(run.finished for run in runs.values())}
        if finished:
            labels = labels_dir.name.removeprefix("labels-")
            cells[int(labels) if labels.isdigit() else labels] = finished
    return dict(sorted(cells.items(), key=lambda item: (isinstance(item[0], str), item[0])))


def bench_table(results: list[dict]) -> str:
    """One row per stored bench: the trainer's step beside the GEMM bound and the plain loop."""
    rows = [[r["step"], r["batch_size"], f"{r['ms_per_step']:.1f}", f"{r['s_per_epoch']:.1f}",
             f"{r['gflop_per_step']:.2f}", f"{r['achieved_gflops']:.0f}", f"{r['gemm_gflops']:.0f}",
             f"{100 * r['ratio_to_gemm']:.0f}%",
             f"{r['reference_ms_per_step']:.1f}" if "reference_ms_per_step" in r else "–",
             f"{r['reference_ms_per_step'] / r['ms_per_step']:.2f}×" if "reference_ms_per_step" in r else "–"]
            for r in results]
    return markdown_table(["step", "batch", "trainer ms/step", "s/epoch", "GFLOP/step", "achieved GFLOP/s",
                           "GEMM alone GFLOP/s", "of GEMM rate", "plain loop ms/step", "trainer speed-up"], rows)


def graph_table(results: list[dict]) -> str:
    """GPU benches: the step replayed as one CUDA graph beside the same step launched kernel by kernel
    (eager), the plain loop and the matrix products alone."""
    rows = [[r["step"], r["batch_size"], f"{r['ms_per_step']:.2f}", f"{r['s_per_epoch']:.2f}",
             f"{r['eager_ms_per_step']:.2f}", f"{r['eager_ms_per_step'] / r['ms_per_step']:.1f}×",
             f"{r['reference_ms_per_step']:.2f}" if "reference_ms_per_step" in r else "–",
             f"{r['gemm_ms_per_step']:.2f}"]
            for r in results if "eager_ms_per_step" in r]
    return markdown_table(["step", "batch", "graph ms/step", "s/epoch", "eager ms/step", "graph speed-up",
                           "plain loop ms/step", "matrix products alone ms/step"], rows)


def kernel_table(results: list[dict]) -> str:
    """The same step with each optimizer kernel (bench --compare-kernels), per precision and batch, beside
    the trainer's own step (in bf16 the kernels are timed under autocast, where the kernel is the whole
    update; the trainer's step computes with bf16 weight copies where the bench says so)."""
    rows = [[r["precision"], r["batch_size"], f"{r['ms_per_step']:.1f} ({r['step']})",
             *(f"{ms:.1f}" for ms in r["optimizer_kernels_ms_per_step"].values())]
            for r in results if "optimizer_kernels_ms_per_step" in r]
    kernels = next((list(r["optimizer_kernels_ms_per_step"]) for r in results
                    if "optimizer_kernels_ms_per_step" in r), [])
    return markdown_table(["precision", "batch", "trainer ms/step", *(f"{k} ms/step" for k in kernels)], rows)


def breakdown_table(results: list[dict]) -> str:
    """Where each profiled step's time goes (bench --breakdown), per precision and batch, beside the
    time its matrix products take alone: the gap between the two is what the other kinds cost."""
    profiled = [r for r in results if "ms_per_step_by_kind" in r]
    kinds = list(profiled[0]["ms_per_step_by_kind"]) if profiled else []
    rows = [[r["step"], r["batch_size"], f"{r['gemm_ms_per_step']:.1f}",
             *(f"{r['ms_per_step_by_kind'][kind]:.1f}" for kind in kinds),
             f"{sum(r['ms_per_step_by_kind'].values()):.1f}"] for r in profiled]
    return markdown_table(["step", "batch", "matrix products alone", *kinds, "profiled step"], rows)


# Issue 5's speed targets for a CPU at batch 100 (set on a 2-core AMD EPYC): ms per step, and the
# least share of the matrix-multiply rate the step should reach
SPEED_TARGETS_MS = {"fp32": 45.0, "bf16": 25.0}
GEMM_RATIO_TARGET = 0.70
TARGET_BATCH = 100


MALLOC_NOT_RECORDED = "not recorded"  # benches stored before results said which malloc they ran with


def group_repeats(results: list[dict]) -> dict[tuple, list[dict]]:
    """{(step, malloc, batch): the runs of that bench}, in that order: what make bench-repeats ran again."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["step"], r.get("malloc", MALLOC_NOT_RECORDED), r["batch_size"]), []).append(r)
    return dict(sorted(groups.items()))


def repeat_table(results: list[dict], targets: dict = SPEED_TARGETS_MS, ratio_target: float = GEMM_RATIO_TARGET) -> str:
    """Benches of the same step run again and again (make bench-repeats): per step, malloc and batch, how
    far one run's number (its best round) moves between runs, and in how many runs the step met the
    targets (at TARGET_BATCH only). One run's number is a draw from this spread, not the machine's speed."""
    rows = []
    for (step, malloc, batch), runs in group_repeats(results).items():
        ms = sorted(r["ms_per_step"] for r in runs)
        ratios = [r["ratio_to_gemm"] for r in runs]
        at_target_batch = batch == TARGET_BATCH
        target = targets.get(runs[0]["precision"]) if at_target_batch else None
        rows.append([step, malloc, batch, len(runs), f"{ms[0]:.1f}", f"{statistics.median(ms):.1f}", f"{ms[-1]:.1f}",
                     f"{sum(m <= target for m in ms)} of {len(ms)} (≤ {target:g} ms)" if target else "–",
                     f"{100 * statistics.median(ratios):.0f}%",
                     f"{sum(x >= ratio_target for x in ratios)} of {len(ratios)} (≥ {100 * ratio_target:.0f}%)"
                     if at_target_batch else "–"])
    return markdown_table(["step", "malloc", "batch", "runs", "fastest run ms/step", "median run", "slowest run",
                           "runs within the time target", "median of GEMM rate", "runs within the rate target"], rows)


PRECISION_TOLERANCE = 0.3  # points: the most a faster precision may move the mean test accuracy (issue 5)


def seed_accuracies(seeds: dict) -> dict[str, list[float]]:
    """{precision: test accuracy of each seed} for one label count of read_precision_runs."""
    precisions = next(iter(seeds.values()))
    return {p: [runs[p].summary()["test_accuracy"] for runs in seeds.values()] for p in precisions}


def seed_differences(accuracies: dict[str, list[float]], against: str = "bf16") -> list[float]:
    """Per seed, `against` minus fp32 test accuracy, in points (from seed_accuracies)."""
    return [b - f for f, b in zip(accuracies["fp32"], accuracies[against])]


def mean_difference(seeds: dict, against: str = "bf16") -> float:
    """Mean over the seeds of one label count of `against` minus fp32 test accuracy, in points."""
    return statistics.fmean(seed_differences(seed_accuracies(seeds), against))


def precision_table(cells: dict, tolerance: float = PRECISION_TOLERANCE, against: str = "bf16") -> str:
    """fp32 against bf16 (or `against`), seed by seed, from read_precision_runs (finished pairs only). A
    seed's difference is `against` minus fp32 in points of test accuracy; the verdict is on their
    mean, the spread between seeds beside it. No wall times: the runs shared the machine."""
    def spread(values, sign=False):
        mean = f"{statistics.fmean(values):{'+' if sign else ''}.2f}"
        return f"{mean} ± {statistics.stdev(values):.2f}" if len(values) > 1 else mean

    rows = []
    for labels, seeds in cells.items():
        acc = seed_accuracies(seeds)
        diffs = seed_differences(acc, against)
        rows.append([labels, ", ".join(map(str, seeds)), spread(acc["fp32"]), spread(acc[against]),
                     ", ".join(f"{d:+.2f}" for d in diffs), spread(diffs, sign=True),
                     "yes" if abs(statistics.fmean(diffs)) <= tolerance else "no"])
    return markdown_table(["labels", "seeds", "fp32 test accuracy", f"{against} test accuracy",
                           f"{against} − fp32 per seed", "mean difference ± std (points)",
                           f"mean within {tolerance:g} points"], rows)

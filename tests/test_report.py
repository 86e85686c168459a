"""Tables the book renders from run folders: here the fp32-against-bf16 check of appendix C."""
from __future__ import annotations

import json

import pytest

from aae_core.chapters.precision import precision_table, read_precision_runs


def summary_of(**fields) -> str:
    """summary.json of a finished run: the fields a test sets, the rest as `train` would write them."""
    return json.dumps({"test_accuracy": 0.0, "val_accuracy": 0.0, "epochs": 1, "labels": 100, "seed": 0,
                       "preset": "paper-sgd", "steps": 500, "device": "cpu", "wall_seconds": 1.0,
                       "git_commit": "abc", **fields})


def fake_run(folder, accuracy=None):
    """A run folder as `train` leaves it: finished (summary.json) when `accuracy` is given."""
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"")
    if accuracy is not None:
        (folder / "summary.json").write_text(summary_of(test_accuracy=accuracy))


def test_pairs_are_read_by_seed_and_unfinished_pairs_left_out(tmp_path):
    for seed, fp32, bf16 in [(0, 93.0, 90.7), (1, 92.0, 92.4), (2, 94.0, None)]:
        fake_run(tmp_path / "labels-100" / "fp32" / f"seed-{seed}", fp32)
        fake_run(tmp_path / "labels-100" / "bf16" / f"seed-{seed}", bf16)
    fake_run(tmp_path / "labels-all" / "fp32" / "seed-0", 98.0)
    fake_run(tmp_path / "labels-all" / "bf16" / "seed-0", 98.1)
    fake_run(tmp_path / "labels-1000" / "fp32" / "seed-0", 96.0)  # bf16 missing altogether

    cells = read_precision_runs(tmp_path)
    assert list(cells) == [100, "all"] and list(cells[100]) == [0, 1]
    table = precision_table(cells).splitlines()
    row_100, row_all = table[2].split(" | "), table[3].split(" | ")
    assert row_100[1] == "0, 1" and row_100[4] == "-2.30, +0.40"
    assert row_100[5] == "-0.95 ± 1.91" and row_100[6] == "[-18.10, +16.20]"  # t(0.975, 1) = 12.706
    assert row_100[7].startswith("the data cannot tell")  # the interval decides, not the mean
    assert row_100[2] == "92.50 ± 0.71"
    assert row_all[5] == "+0.10" and row_all[7].startswith("too few seeds")


def test_no_pairs_no_cells(tmp_path):
    assert read_precision_runs(tmp_path) == {}


def test_pairs_against_another_precision(tmp_path):
    fake_run(tmp_path / "labels-100" / "fp32" / "seed-0", 90.0)
    fake_run(tmp_path / "labels-100" / "bf16" / "seed-0", 88.0)
    fake_run(tmp_path / "labels-100" / "bf16-fp32-labeled" / "seed-0", 90.5)
    cells = read_precision_runs(tmp_path, against="bf16-fp32-labeled")
    assert set(cells[100][0]) == {"fp32", "bf16-fp32-labeled"}
    table = precision_table(cells, against="bf16-fp32-labeled").splitlines()
    assert "bf16-fp32-labeled − fp32 per seed" in table[0] and table[2].split(" | ")[4] == "+0.50"
    from aae_core.chapters.precision import mean_difference
    assert mean_difference(cells[100], "bf16-fp32-labeled") == pytest.approx(0.5)


def test_pairs_with_the_fp32_runs_of_another_folder(tmp_path):
    """bf16 runs beside Table 3's fp32 runs of the same seeds (labels-L/seed-S, no precision folder)."""
    fake_run(tmp_path / "table3" / "labels-1000" / "seed-0", 97.5)
    fake_run(tmp_path / "table3" / "labels-1000" / "seed-1", 97.9)  # no bf16 run: left out
    fake_run(tmp_path / "table3" / "labels-100" / "seed-0", 96.0)
    fake_run(tmp_path / "bf16-50" / "labels-1000" / "bf16" / "seed-0", 97.3)
    fake_run(tmp_path / "bf16-50" / "labels-100" / "bf16" / "seed-0")  # unfinished: left out
    cells = read_precision_runs(tmp_path / "bf16-50", fp32_folder=tmp_path / "table3")
    assert list(cells) == [1000] and list(cells[1000]) == [0]
    assert precision_table(cells).splitlines()[2].split(" | ")[4] == "-0.20"


def test_time_to_accuracy_is_the_first_epoch_that_reaches_it():
    from aae_core.chapters.curves import time_to_accuracy

    history = [{"epoch": e, "steps": 500, "seconds": 30.0, "val_accuracy": v}
               for e, v in enumerate([90.0, 97.9, 98.0, 97.5, 98.4], start=1)]
    assert time_to_accuracy(history, 98.0) == {"epoch": 3, "steps": 1500, "seconds": 90.0, "val_accuracy": 98.0}
    assert time_to_accuracy(history, 98.5) is None
    assert time_to_accuracy([], 50.0) is None


def test_settings_changed_names_what_differs_from_table_1():
    from dataclasses import asdict

    from aae_core.config import ModelConfig, TrainConfig
    from aae_core.chapters.reproduction import settings_changed

    config = {"train": TrainConfig(labels=1000, seed=2, epochs=10).to_dict(), "model": asdict(ModelConfig())}
    assert settings_changed(config) == "none (paper-sgd as it is)"
    config["train"] = TrainConfig(noise_std=0.5, lr_milestones=(20, 1000)).to_dict()
    config["model"]["init_std"] = 0.0
    assert settings_changed(config) == "--noise-std 0.5 --lr-milestones 20 1000 --init-std 0"
    config["train"]["supervised_only"] = True
    assert settings_changed(config).endswith("--supervised-only --init-std 0")


def test_recipe_table_shows_finished_and_diverged_runs(tmp_path):
    from dataclasses import asdict

    from aae_core.config import ModelConfig, TrainConfig
    from aae_core.chapters.reproduction import recipe_table
    from aae_core.runs.folder import RunFolder

    runs = {}
    for name, train, outcome in [
        ("as is", TrainConfig(epochs=10), ("summary.json", {"epochs": 10, "val_accuracy": 92.1, "test_accuracy": 92.9,
                                                           "wall_seconds": 480, "device": "cpu"})),
        ("bold", TrainConfig(epochs=10, phase_lr={"generator": 1.0}), ("diverged.json", {"epoch": 1, "step": 100,
                                                                                         "device": "cpu"}))]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"train": train.to_dict(), "model": asdict(ModelConfig())}))
        (folder / outcome[0]).write_text(summary_of(**outcome[1]) if outcome[0] == "summary.json"
                                         else json.dumps(outcome[1]))
        runs[name] = RunFolder(folder)
    assert runs["bold"].diverged and not runs["as is"].diverged
    rows = recipe_table(runs, baselines={0: runs["as is"]}).splitlines()[2:]
    assert "none (paper-sgd as it is)" in rows[0] and "92.90%" in rows[0] and "8 min" in rows[0]
    assert rows[0].split(" | ")[6] == "+0.00"  # against itself
    assert "--phase-lr generator=1" in rows[1] and "diverged (NaN in epoch 1, by step 100)" in rows[1]


def finished_run(folder, seed, epochs, val):
    """A finished 100-label run folder with its config and the summary the recipe tables read."""
    from dataclasses import asdict

    from aae_core.config import ModelConfig, TrainConfig
    from aae_core.runs.folder import RunFolder

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"train": TrainConfig(seed=seed, epochs=epochs).to_dict(),
                                                    "model": asdict(ModelConfig())}))
    (folder / "summary.json").write_text(summary_of(epochs=epochs, val_accuracy=val, test_accuracy=val))
    return RunFolder(folder)


def test_recipe_summary_pairs_each_seed_with_its_own_baseline(tmp_path):
    from aae_core.chapters.reproduction import recipe_summary

    baselines = {s: finished_run(tmp_path / "base" / f"seed-{s}", s, 10, val) for s, val in [(0, 92.0), (1, 93.0), (2, 88.0)]}
    probes = {"gentle": {0: finished_run(tmp_path / "gentle" / "seed-0", 0, 10, 93.0),
                         2: finished_run(tmp_path / "gentle" / "seed-2", 2, 10, 95.0)},
              "longer": {1: finished_run(tmp_path / "longer" / "seed-1", 1, 20, 99.0)}}  # no baseline of 20 epochs
    rows = recipe_summary(probes, baselines).splitlines()[2:]
    assert len(rows) == 1
    cells = rows[0].strip("| ").split(" | ")
    assert cells == ["gentle", "2", "0: +1.00, 2: +7.00", "+4.00", "+1.00"]


def test_trajectory_gap_keeps_the_sign_of_the_largest_gap():
    from aae_core.chapters.curves import trajectory_gap

    a = [{"val_accuracy": v} for v in (70.0, 80.0, 90.0)]
    b = [{"val_accuracy": v} for v in (71.0, 77.5, 90.5, 99.0)]
    assert trajectory_gap(a, b) == {"epochs": 3, "largest": 2.5, "last": -0.5}
    assert trajectory_gap([], b) is None


def test_seeds_table_shows_each_seed_and_a_dash_for_the_missing_ones():
    from aae_core.chapters.reproduction import seeds_table

    rows = [{"labels": 100, "accuracies": {0: 96.37, 2: 89.86}}, {"labels": "all", "accuracies": {1: 98.9}}]
    lines = seeds_table(rows).splitlines()
    assert lines[0] == "| labels | seed 0 | seed 1 | seed 2 |"
    assert lines[2] == "| 100 | 96.37% | – | 89.86% |" and lines[3] == "| all | – | 98.90% | – |"


def test_presets_by_seed_pairs_each_seed_and_leaves_unpaired_ones_open():
    from aae_core.chapters.reproduction import presets_by_seed

    rows = {"paper-sgd": {"accuracies": {0: 96.0, 1: 95.0, 2: 89.0}, "mean": 93.33, "std": 3.79},
            "recipe": {"accuracies": {0: 96.5, 2: 95.0}, "mean": 95.75, "std": 1.06}}
    lines = presets_by_seed(rows).splitlines()
    assert lines[0] == "|  | paper-sgd | recipe | recipe − paper-sgd |"
    assert lines[2] == "| seed 0 | 96.00% | 96.50% | +0.50 |" and lines[3] == "| seed 1 | 95.00% | – | – |"
    assert lines[4] == "| seed 2 | 89.00% | 95.00% | +6.00 |"
    assert lines[5].startswith("| mean ± std | 93.33 ± 3.79 (3 seeds) | 95.75 ± 1.06 (2 seeds) |")


def test_curve_milestones_reads_landmarks_and_leaves_unreached_marks_open():
    from aae_core.chapters.curves import curve_milestones

    history = [{"epoch": e, "steps": 500, "seconds": 60.0, "val_accuracy": acc, "loss_class": 0.5 / e}
               for e, acc in enumerate([80.0, 90.0, 95.5, 96.0, 97.2] + [97.0] * 5, start=1)]
    lines = curve_milestones({"run": history, "empty": []}, marks=(95.0, 98.0)).splitlines()
    assert lines[0].endswith("| validation ≥ 95% | validation ≥ 98% |")
    assert lines[2] == "| run | 10 | 0.5 | 0.05 | 97.00% | 97.20% (epoch 5) | epoch 3 (3 min) | – |"
    assert lines[3] == "| empty | 0 | – | – | – | – | – | – |"


def test_around_drop_compares_the_epochs_next_to_the_drop():
    from aae_core.chapters.curves import around_drop

    history = [{"epoch": e, "val_accuracy": acc} for e, acc in enumerate([90.0, 96.0, 95.0, 97.0, 98.0, 97.5], start=1)]
    sides = around_drop(history, drop_epoch=3, window=2)
    assert sides["before"] == {"best": 96.0, "best_epoch": 2, "epochs": (2, 3), "mean": 95.5}
    assert sides["after"] == {"best": 98.0, "best_epoch": 5, "epochs": (4, 5), "mean": 97.5}
    assert around_drop(history, drop_epoch=3)["before"]["epochs"] == (1, 3)  # no window: the whole side
    assert around_drop(history[:3], drop_epoch=3) is None  # nothing after the drop yet


def test_drop_table_gives_each_run_its_change_across_the_drop():
    from aae_core.chapters.curves import drop_table

    history = [{"epoch": e, "val_accuracy": acc} for e, acc in enumerate([90.0, 96.0, 95.0, 97.0, 98.0], start=1)]
    lines = drop_table({"run": history, "young": history[:2]}, drop_epoch=3, window=2).splitlines()
    assert lines[2] == "| run | 95.50% (epochs 2-3) | 97.50% (epochs 4-5) | +2.00 | 96.00% (epoch 2) | 98.00% (epoch 5) |"
    assert lines[3] == "| young | – | – | – | – | – |"


def test_chosen_on_validation_picks_by_validation_among_complete_presets():
    from aae_core.chapters.reproduction import chosen_on_validation

    def row(labels, tests, val_mean, planned=2):
        mean = sum(tests) / len(tests) if tests else None
        return {"labels": labels, "accuracies": dict(enumerate(tests)), "mean": mean, "std": None,
                "val_mean": val_mean, "planned": planned}

    lines = chosen_on_validation({
        "a": [row(100, [96.0, 97.0], 96.8), row("all", [98.9, 98.9], 98.0)],
        "b": [row(100, [99.0, 99.0], 96.5), row("all", [99.9], 99.9)],  # b with all labels: one seed of two
    }).splitlines()
    assert lines[2].startswith("| 100 | `a` | `a` 96.80%, `b` 96.50% | 96.50")  # the better test score is not chosen
    assert lines[2].endswith("| 96.60 | -0.10 |")  # a difference, not a verdict: the text weighs it
    assert lines[3].startswith("| all | `a` | `a` 98.00% |") and lines[3].endswith("| 98.75 | +0.15 |")


def test_breakdown_table_lists_the_profiled_benches_only():
    from aae_core.chapters.bench_tables import breakdown_table

    profiled = {"precision": "bf16", "step": "bf16, weight copies", "batch_size": 100, "gemm_ms_per_step": 7.0,
                "ms_per_step_by_kind": {"matrix products": 12.0, "casts and copies": 9.5, "outside operators": 1.0}}
    lines = breakdown_table([profiled, {"precision": "fp32", "step": "fp32", "batch_size": 100}]).splitlines()
    assert lines[0] == ("| step | batch | matrix products alone | matrix products | casts and copies "
                        "| outside operators | profiled step |")
    assert lines[2:] == ["| bf16, weight copies | 100 | 7.0 | 12.0 | 9.5 | 1.0 | 22.5 |"]


def test_graph_table_sets_the_graph_beside_the_eager_step_of_gpu_benches_only():
    from aae_core.chapters.bench_tables import graph_table

    gpu = {"step": "fp32", "batch_size": 100, "ms_per_step": 1.6, "s_per_epoch": 0.8, "eager_ms_per_step": 8.0,
           "reference_ms_per_step": 10.0, "gemm_ms_per_step": 1.0}
    lines = graph_table([gpu, {"step": "fp32", "batch_size": 100, "ms_per_step": 45.0}]).splitlines()
    assert lines[2:] == ["| fp32 | 100 | 1.60 | 0.80 | 8.00 | 5.0× | 10.00 | 1.00 |"]


def test_repeat_table_spreads_runs_of_one_step_and_counts_those_within_the_targets():
    from aae_core.chapters.bench_tables import repeat_table

    def bench(precision, step, ms, ratio, batch=100, malloc="glibc"):
        return {"precision": precision, "step": step, "batch_size": batch, "ms_per_step": ms, "ratio_to_gemm": ratio,
                "malloc": malloc}

    lines = repeat_table([bench("bf16", "bf16, weight copies", ms, 0.25) for ms in (26.0, 24.5, 25.0)]
                         + [bench("bf16", "bf16, weight copies", 23.0, 0.3, malloc="tcmalloc")]
                         + [bench("fp32", "fp32", 44.0, 0.72), bench("fp32", "fp32", 46.0, 0.66),
                            bench("fp32", "fp32", 30.0, 0.9, batch=50)]).splitlines()
    assert lines[2] == "| bf16, weight copies | glibc | 100 | 3 | 24.5 | 25.0 | 26.0 | 2 of 3 (≤ 25 ms) | 25% | 0 of 3 (≥ 70%) |"
    assert lines[3] == "| bf16, weight copies | tcmalloc | 100 | 1 | 23.0 | 23.0 | 23.0 | 1 of 1 (≤ 25 ms) | 30% | 0 of 1 (≥ 70%) |"
    assert lines[4] == "| fp32 | glibc | 50 | 1 | 30.0 | 30.0 | 30.0 | – | 90% | – |"  # no target away from batch 100
    assert lines[5] == "| fp32 | glibc | 100 | 2 | 44.0 | 45.0 | 46.0 | 1 of 2 (≤ 45 ms) | 69% | 1 of 2 (≥ 70%) |"


def test_read_benches_names_the_step_of_files_from_before_weight_copies(tmp_path):
    """A bf16 bench without a 'step' was timed under autocast: it says so beside a new one."""
    from aae_core.chapters.bench_tables import read_benches
    from aae_core.runs.files import write_json

    write_json(tmp_path / "cpu-bf16-batch100.json", {"precision": "bf16", "batch_size": 100})
    write_json(tmp_path / "cpu-fp32-batch100.json", {"precision": "fp32", "batch_size": 100})
    write_json(tmp_path / "cpu-bf16-copies.json", {"precision": "bf16", "batch_size": 100, "step": "bf16, weight copies"})
    write_json(tmp_path / "cuda-fp32-batch100.json", {"precision": "fp32", "batch_size": 100})
    assert [r["step"] for r in read_benches(tmp_path)] == ["bf16, autocast", "bf16, weight copies", "fp32"]


def test_plot_history_puts_chosen_keys_on_a_log_axis_and_dashes_the_baseline():
    from aae_core.chapters.plots import plot_history

    history = [{"epoch": e, "steps": 500, "val_accuracy": 90.0 + e, "loss_class": 10.0 ** -e} for e in (1, 2, 3)]
    fig = plot_history({"baseline": history, "variant": history}, ["val_accuracy", "loss_class"],
                       log_y=("loss_class",), dashed=("baseline",))
    accuracy, loss = fig.axes[:2]
    assert accuracy.get_yscale() == "linear" and loss.get_yscale() == "log"
    assert [line.get_linestyle() for line in loss.get_lines()] == ["--", "-"]


def test_the_final_table_marks_pending_cells_and_counts_seeds():
    from aae_core.chapters.reproduction import against_quoted, headline_table, seeds_of_cells
    from aae_core.stats import t_interval

    def cell(values):
        accuracies = dict(zip((100, 101, 102, 103, 104), values))
        mean = sum(values) / len(values) if values else None
        std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else None
        return {"accuracies": accuracies, "planned": 5, "mean": mean, "std": std, "interval": t_interval(values),
                "machines": ["cpu: AMD EPYC"] if values else [], "dirty": []}

    cells = {(100, "paper-sgd"): cell([88.0, 89.0]), (100, "sgd-labeled-noise"): cell([]),
             ("all", "paper-sgd"): cell([98.0, 98.5, 98.2, 98.4, 98.1])}
    lines = headline_table(cells).splitlines()
    assert lines[2].startswith("| 100 | `paper-sgd` | 88.50 ± 0.71 (2 of 5) | [82.15, 94.85] | 98.10 | 76.60 |")
    assert lines[3] == "|  | `sgd-labeled-noise` | pending (0 of 5) | – |  |  |"  # the quoted numbers once per count
    assert lines[4].startswith("| all | `paper-sgd` | 98.24 ± 0.21 (5 of 5) |") and lines[4].endswith("| 99.15 | 98.66 |")
    seeds = seeds_of_cells(cells, (100, 101, 102, 103, 104)).splitlines()
    assert seeds[2] == "| 100 | `paper-sgd` | 88.00 | 89.00 | pending | pending | pending |"
    assert against_quoted(cells[(100, "paper-sgd")], 98.10, "the paper's Table 2").endswith(
        "lies below 98.10 (the paper's Table 2), from 2 of 5 seeds: not yet the protocol's verdict")
    assert against_quoted(cells[("all", "paper-sgd")], 99.15, "the paper's Table 2").endswith(
        "lies below 99.15 (the paper's Table 2)")
    assert against_quoted(cells[(100, "sgd-labeled-noise")], 98.10, "x").startswith("too few seeds")


def test_pairs_from_two_machine_kinds_are_not_compared():
    from aae_core.chapters.reproduction import presets_by_seed

    rows = {"paper-sgd": {"accuracies": {0: 96.0, 1: 95.0}, "mean": 95.5, "std": 0.71},
            "recipe": {"accuracies": {0: 96.5, 1: 95.5}, "mean": 96.0, "std": 0.71}}
    machines = {"paper-sgd": {0: "cpu: AMD EPYC", 1: "cpu: AMD EPYC"},
                "recipe": {0: "cpu: AMD EPYC", 1: "cpu: Intel(R) Xeon(R) Processor"}}
    lines = presets_by_seed(rows, machines=machines).splitlines()
    assert lines[2].endswith("| +0.50 |") and lines[3].endswith("| not comparable (two machine kinds) |")


def epoch_record(epoch, val, recon=30.0):
    return {"epoch": epoch, "loss_recon": recon, "loss_class": 0.1, "val_accuracy": val, "seconds": 1.0}


def write_history(folder, records, accuracy, epochs):
    fake_run(folder, accuracy)
    (folder / "summary.json").write_text(summary_of(test_accuracy=accuracy, epochs=epochs))
    (folder / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_stacked_runs_are_matched_epoch_by_epoch_and_whole_runs_paired(tmp_path):
    from aae_core.chapters.stacking import retraces, stacked_minus_single

    single = [epoch_record(1, 70.0), epoch_record(2, 80.0), epoch_record(3, 85.0)]
    write_history(tmp_path / "single" / "labels-100" / "seed-0", single, 90.0, 3)
    write_history(tmp_path / "single" / "labels-1000" / "seed-0", single, 96.0, 3)
    drifted = [*single[:2], epoch_record(3, 85.0, recon=30.000001)]  # one loss off in the last bit
    write_history(tmp_path / "stacked" / "labels-100" / "seed-0", drifted, 90.5, 3)
    write_history(tmp_path / "stacked" / "labels-1000" / "seed-0", single[:2], 95.0, 2)  # a shorter check
    fake_run(tmp_path / "stacked" / "labels-all" / "seed-0")  # unfinished: left out

    runs = retraces(tmp_path / "stacked", tmp_path / "single")
    assert [(r["labels"], r["identical_epochs"], r["epochs"]) for r in runs] == [("100", 2, 3), ("1000", 2, 2)]
    assert runs[0]["test"] == (90.5, 90.0) and runs[1]["test"] is None  # tests compare only whole runs
    assert runs[1]["val"] == (80.0, 80.0)  # the single run's accuracy at the stacked run's last epoch
    whole = stacked_minus_single(runs)
    assert whole["differences"] == [pytest.approx(0.5)] and whole["interval"] is None


def test_a_run_resumed_in_later_sessions_names_every_commit_it_trained_at():
    from aae_core.chapters.reproduction import commit_words
    from aae_core.runs.records import Summary

    base = {"test_accuracy": 97.0, "val_accuracy": 97.0, "epochs": 500, "labels": 100, "seed": 100,
            "preset": "paper-sgd", "steps": 250000, "device": "cpu: Intel Xeon, 1 thread", "wall_seconds": 1.0}
    one = Summary.from_dict({**base, "git_commit": "8960226" + "0" * 33})
    assert commit_words(one) == "8960226"
    resumed = Summary.from_dict({**base, "git_commit": "8960226" + "0" * 33,
                                 "resumed_at_commits": ["efa2114" + "0" * 33, "efa2114" + "0" * 33, "57fe421+dirty"]})
    assert commit_words(resumed) == "8960226, resumed at efa2114, 57fe421 (dirty)"

"""The verdict the introduction and chapter 3 open with, and the long runs' milestones it reads: both
computed from run folders, so they change when the runs do."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from aae_core.chapters.long_runs import (
    finished_long_runs, kind_of, long_cells, machine_words, milestone_accuracies, milestone_summary, milestone_table)
from aae_core.chapters.verdict import length_sentence, open_sentence, table_sentence, verdict
from aae_core.config import TrainConfig
from aae_core.errors import AAEError
from aae_core.runs import RunFolder, training
from aae_core.runs.records import machines_in_order
from aae_core.stats import describe, t_interval

PAPER = {100: 98.10, 1000: 98.40, "all": 99.15}


def cell(values: dict, planned: int = 5) -> dict:
    return describe(values, planned)


def final_table(shift: float = 0.0) -> dict:
    """Made-up protocol cells: five seeds a cell, the paper's number `shift` points from their mean."""
    cells = {}
    for n, paper in PAPER.items():
        base = paper - shift
        for preset, offset in (("paper-sgd", 0.0), ("sgd-early-drop", 0.1)):
            cells[(n, preset)] = cell({s: base + offset + 0.05 * (s - 102) for s in range(100, 105)})
    return cells


def test_the_verdict_says_not_reached_only_when_the_paper_lies_above_every_interval():
    said = table_sentence(final_table(shift=2.0), PAPER, "paper-sgd")
    assert said.startswith("**The paper's Table 2 is not reached**") and "5 seeds each" in said
    within = table_sentence(final_table(shift=0.0), PAPER, "paper-sgd")
    assert "not reached" not in within and "inside an interval" in within


def test_the_verdict_counts_seeds_still_to_run():
    cells = final_table(shift=2.0)
    cells[(100, "sgd-early-drop")] = cell({100: 95.0, 101: 96.0})
    assert "2 to 5 of 5 seeds" in table_sentence(cells, PAPER, "paper-sgd")


def test_the_training_length_is_read_from_the_schedule():
    assert "before `paper-sgd`'s first learning-rate drop, at epoch 50;" in length_sentence(50, 500)
    assert "after `paper-sgd`'s first" in length_sentence(60, 500)
    assert "more than 1000 epochs" in length_sentence(50, 500)
    sooner = length_sentence(50, 500, ("paper-sgd", "sgd-labeled-noise", "sgd-early-drop", "sgd-early-drop"))
    assert sooner.count("`sgd-early-drop` drops at epoch 40") == 1 and "labeled-noise" not in sooner


def test_what_is_open_follows_the_long_runs():
    nothing = open_sentence({}, PAPER, 50)
    assert "past the drop at epoch 1000" in nothing and "no run of ours has gone past 50 epochs" in nothing
    partial = {(100, "cpu: AMD EPYC", "bf16"): {500: {**cell({100: 92.46}), "kind": "bf16 on AMD EPYC"}}}
    said = open_sentence(partial, PAPER, 50)
    assert "at 100 labels (the paper: 98.10%) seed 100 (1 of 5) reached epoch 500 in bf16 on AMD EPYC (92.46%, below it)" in said
    assert said.endswith("(92.46%, below it), and the other 4 are still to run.")
    complete = {(100, "cpu: AMD EPYC", "bf16"): {500: {**cell({s: 97.0 + 0.1 * (s - 100) for s in range(100, 105)}),
                                                     "kind": "bf16 on AMD EPYC"}}}
    said = open_sentence(complete, PAPER, 50)
    assert "all 5 seeds reached epoch 500 in bf16 on AMD EPYC (mean 97.20%, 95% interval" in said
    assert said.endswith("below it).")
    apart = {s: 97.5 if s in (102, 103) else 89.0 for s in range(100, 105)}  # strong and weak draws
    complete[(100, "cpu: AMD EPYC", "bf16")][500].update(cell(apart))
    assert open_sentence(complete, PAPER, 50).endswith("], which holds it).")  # not "around": the mean is far off
    assert len(verdict(final_table(2.0), PAPER, complete, 50, 500)) == 3
    complete[(100, "cpu: Intel Xeon", "bf16")] = {500: {**cell({100: 97.9, 101: 88.6}), "kind": "bf16 on Intel Xeon"}}
    said = open_sentence(complete, PAPER, 50)  # the seeds still to run are those of the kind that lacks them
    assert said.endswith("reached epoch 500 in bf16 on Intel Xeon (97.90% and 88.60%, both below it), "
                         "and the other 3 are still to run.") and said.count("still to run") == 1


def test_machine_kinds_read_as_a_reader_says_them():
    assert machine_words("cpu: Intel(R) Xeon(R) Processor") == "Intel Xeon"
    assert machine_words("cpu: Intel(R) Xeon(R) Processor, 1 thread") == "Intel Xeon, 1 thread"
    assert machine_words("cpu: AMD EPYC") == "AMD EPYC"
    assert machine_words("cuda: NVIDIA H100 80GB HBM3") == "cuda: NVIDIA H100 80GB HBM3"


def test_each_kind_of_long_run_is_said_at_its_latest_milestone():
    cells = {(100, "cpu: AMD EPYC", "bf16"): {200: cell({100: 91.0}),
                                              500: {**cell({100: 92.0}), "kind": "bf16 on AMD EPYC"}},
             (100, "cpu: Intel Xeon", "bf16"): {500: {**cell({100: 97.0}), "kind": "bf16 on Intel Xeon"}}}
    said = open_sentence(cells, PAPER, 50)
    assert ("at 100 labels (the paper: 98.10%) seed 100 (1 of 5) reached epoch 500 in bf16 on AMD EPYC (92.00%, below "
            "it), and the other 4 are still to run; seed 100 (1 of 5) reached epoch 500 in bf16 on Intel Xeon (97.00%, "
            "below it), and the other 4 are still to run.") in said
    assert "epoch 200" not in said
    cells[(1000, "cpu: AMD EPYC", "bf16")] = {100: {**cell({100: 98.5}), "kind": "bf16 on AMD EPYC"}}
    said = open_sentence(cells, PAPER, 50)
    assert "still to run; at 1000 labels (the paper: 98.40%) seed 100 (1 of 5) reached epoch 100" in said
    assert "(98.50%, above it)" in said
    cells[(1000, "cpu: AMD EPYC", "bf16")] = {100: {**cell({100: 98.5, 101: 98.0}), "kind": "bf16 on AMD EPYC"}}
    assert "(98.50% and 98.00%, on both sides of it)" in open_sentence(cells, PAPER, 50)
    cells[(100, "cpu: Intel Xeon", "bf16")] = {500: {**cell({100: 97.0, 101: 88.0}), "kind": "bf16 on Intel Xeon"}}
    assert "(97.00% and 88.00%, both below it)" in open_sentence(cells, PAPER, 50)
    cells[(100, "cpu: Intel Xeon", "bf16")] = {500: {**cell({100: 97.0, 101: 88.0, 102: 96.0}), "kind": "bf16 on Intel Xeon"}}
    assert "(97.00%, 88.00% and 96.00%, all below it)" in open_sentence(cells, PAPER, 50)


def test_seeds_that_went_on_past_the_rest_do_not_hide_what_every_seed_reached():
    kind = (100, "cpu: AMD EPYC", "bf16")
    five = {s: 97.0 + 0.1 * (s - 100) for s in range(100, 105)}
    cells = {kind: {50: cell(five), 500: {**cell(five), "kind": "bf16 on AMD EPYC"},
                    2000: {**cell({101: 89.4, 102: 98.3}), "kind": "bf16 on AMD EPYC"}}}
    said = open_sentence(cells, PAPER, 50)
    assert ("all 5 seeds reached epoch 500 in bf16 on AMD EPYC (mean 97.20%, 95% interval [" in said
            and "below it), and seeds 101 and 102 (2 of 5) went on to epoch 2000 (89.40% and 98.30%, on both sides "
            "of it)." in said)
    assert "still to run" not in said  # the two that went on are all that were planned to
    cells[("all", "cpu: AMD EPYC", "bf16")] = {50: {**cell({100: 98.9}), "kind": "bf16 on AMD EPYC"}}
    assert "at all labels" not in open_sentence(cells, PAPER, 50)  # no further than the final table went
    cells[("all", "cpu: AMD EPYC", "bf16")][500] = {**cell({100: 99.0}), "kind": "bf16 on AMD EPYC"}
    said = open_sentence(cells, PAPER, 50)
    assert 0 < said.index("at 100 labels") < said.index("at all labels")  # in the paper's order, not the string's
    del cells[("all", "cpu: AMD EPYC", "bf16")]
    del cells[kind][500]  # no milestone past the final table that every seed reached
    said = open_sentence(cells, PAPER, 50)
    assert "seeds 101 and 102 (2 of 5) reached epoch 2000 in bf16 on AMD EPYC (" in said and "still to run" in said
    cells[kind][500] = {**cell({s: five[s] for s in (100, 101, 102)}), "kind": "bf16 on AMD EPYC"}
    said = open_sentence(cells, PAPER, 50)  # three seeds at 500, two of them on to 2000, two not begun
    assert ("seeds 100, 101 and 102 (3 of 5) reached epoch 500 in bf16 on AMD EPYC (97.00%, 97.10% and 97.20%, all "
            "below it), and seeds 101 and 102 (2 of 5) went on to epoch 2000 (89.40% and 98.30%, on both sides of "
            "it), and the other 2 are still to run.") in said


@pytest.fixture(scope="module")
def two_long_runs(tmp_path_factory):
    """Two tiny runs with milestones at epochs 1 and 2, where chapter 3 looks for long runs."""
    root = tmp_path_factory.mktemp("results") / "long"
    for seed in (100, 101):
        out = root / "paper-sgd" / "labels-100" / f"seed-{seed}"
        subprocess.run([sys.executable, "-m", "aae_core", "train", "--labels", "100", "--unlabeled", "300",
                        "--epochs", "2", "--milestones", "1", "2", "--seed", str(seed), "--device", "cpu", "--quiet",
                        "--allow-dirty", "--out", str(out)], check=True, capture_output=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    (root / "paper-sgd" / "labels-100" / "seed-102").mkdir()  # begun elsewhere, not finished: left out
    return root


def test_long_runs_are_read_milestone_by_milestone(two_long_runs):
    runs = finished_long_runs([two_long_runs])
    assert [run.summary().seed for run in runs] == [100, 101]
    cells = long_cells(runs)
    (kind, by_epoch), = cells.items()
    assert kind[0] == 100 and kind[1].startswith("cpu") and kind[2] == "fp32"
    assert sorted(by_epoch) == [1, 2]
    for run in runs:
        assert milestone_accuracies(run)[2] == run.summary().test_accuracy  # the last milestone is the run's end
    assert by_epoch[2]["accuracies"] == {run.summary().seed: run.summary().test_accuracy for run in runs}
    assert by_epoch[2]["planned"] == 5 and by_epoch[2]["interval"] is not None
    summary = milestone_summary(cells, PAPER)
    assert "epoch 1" in summary and "epoch 2" in summary and "| 100, 101 (2 of 5) |" in summary and "±" not in summary
    assert milestone_table(cells, PAPER).count("2 of 5") == 2
    assert "seeds 100 and 101 (2 of 5) reached epoch 2" in open_sentence(cells, PAPER, 1)


def copied_run(source: RunFolder, to, **summary_fields) -> RunFolder:
    """A copy of a finished run whose summary says other things (another machine, say)."""
    shutil.copytree(source.path, to)
    summary = json.loads((to / "summary.json").read_text())
    (to / "summary.json").write_text(json.dumps({**summary, **summary_fields}))
    return RunFolder(to)


def test_runs_of_one_cpu_name_with_other_instruction_sets_or_a_change_of_machine_get_rows_of_their_own(
        two_long_runs, tmp_path):
    a, b = finished_long_runs([two_long_runs])
    device = a.summary().device
    same = [copied_run(a, tmp_path / "a", cpu_capability=None), copied_run(b, tmp_path / "b", cpu_capability="AVX512")]
    assert [kind[1] for kind in long_cells(same)] == [device]  # one not recorded: it stays with the other
    split = [copied_run(a, tmp_path / "c", cpu_capability="AVX2"), copied_run(b, tmp_path / "d", cpu_capability="AVX512")]
    assert sorted(kind[1] for kind in long_cells(split)) == [f"{device}, AVX2", f"{device}, AVX512"]
    moved = copied_run(a, tmp_path / "e", machines=["not recorded", "cpu: Intel(R) Xeon(R) Processor, 1 thread, AVX512",
                                                     "cpu: AMD EPYC, 1 thread, AVX2"])
    assert kind_of(moved.summary())[1] == "Intel Xeon, 1 thread, AVX512 then AMD EPYC, 1 thread, AVX2"
    assert "Intel Xeon, 1 thread, AVX512 then AMD EPYC" in milestone_summary(long_cells([moved, b]), PAPER)


def with_history_line(run: RunFolder, line: dict, replace_epoch: int | None = None) -> RunFolder:
    """The run with one milestone line more at its end, or (replace_epoch) one of its lines replaced."""
    lines = [json.loads(text) for text in run.history_path.read_text().splitlines()]
    lines = [line if item["epoch"] == replace_epoch else item for item in lines]
    lines += [] if replace_epoch else [line]
    run.history_path.write_text("".join(json.dumps(item) + "\n" for item in lines))
    return run


def test_a_run_continued_past_its_source_extends_its_seed_and_a_rerun_that_disagrees_is_refused(
        two_long_runs, tmp_path):
    a, b = finished_long_runs([two_long_runs])
    continued = with_history_line(copied_run(a, tmp_path / "continued"), {"epoch": 4, "test_accuracy": 50.0})
    (kind, alone), = long_cells([a, b]).items()
    by_epoch = long_cells([a, b, continued])[kind]
    assert sorted(by_epoch) == [1, 2, 4] and by_epoch[4]["accuracies"] == {100: 50.0}
    assert all(by_epoch[epoch]["accuracies"] == alone[epoch]["accuracies"] for epoch in alone)
    moved = {**a.history()[-1], "test_accuracy": a.history()[-1]["test_accuracy"] + 1}
    rerun = with_history_line(copied_run(a, tmp_path / "rerun"), moved, replace_epoch=2)
    with pytest.raises(AAEError, match="seed 100 of its kind disagree at epoch 2"):
        long_cells([a, b, rerun])


def test_two_seeds_trained_past_the_rest_keep_the_gain_of_all_five():
    first = {s: 90.0 + 2 * (s - 100) for s in range(100, 105)}
    kind = (100, "cpu: AMD EPYC, 1 thread", "bf16")
    cells = {kind: {50: cell(first), 500: cell({s: v + 1 for s, v in first.items()}),
                    2000: cell({101: 93.0, 102: 95.5})}}
    header, _, row = milestone_summary(cells, PAPER).splitlines()
    assert header.endswith("| epoch 2000 | gain, epoch 50 to 500 | paper's Table 2 |")
    assert "| 101: 93.00 / 102: 95.50 | +1.00 [+1.00, +1.00] | 98.10 |" in row


def test_bf16_on_a_cpu_that_emulates_it_is_said(monkeypatch):
    said = []
    monkeypatch.setattr(training, "native_bf16", lambda device: False)
    training.warn_of_emulated_bf16(TrainConfig(precision="bf16"), torch.device("cpu"), said.append)
    training.warn_of_emulated_bf16(TrainConfig(precision="fp32"), torch.device("cpu"), said.append)
    assert len(said) == 1 and "bf16 is emulated here" in said[0] and "--precision fp32" in said[0]


def test_a_run_s_machines_are_where_it_went():
    assert machines_in_order(["not recorded", "A", "A", "B", "A"]) == ["A", "B", "A"]
    assert machines_in_order(["not recorded"]) == []


def test_a_folder_that_is_not_a_finished_run_is_no_long_run(tmp_path):
    (tmp_path / "paper-sgd" / "labels-100" / "seed-100").mkdir(parents=True)
    assert finished_long_runs([tmp_path, tmp_path / "missing"]) == []
    assert not RunFolder(tmp_path / "paper-sgd" / "labels-100" / "seed-100").finished


def test_a_milestone_gets_its_mean_and_interval_once_every_seed_has_reached_it():
    by_seed = {s: 96.0 + 0.5 * (s - 100) for s in range(100, 105)}
    cells = {(100, "cpu: Intel(R) Xeon(R) Processor", "bf16"): {
        200: {**cell(by_seed), "kind": "bf16 on Intel Xeon"},
        500: {**cell({s: by_seed[s] for s in (100, 101, 103)}), "kind": "bf16 on Intel Xeon"}}}
    summary = milestone_summary(cells, PAPER)
    row = summary.splitlines()[-1]
    assert row.startswith("| 100 | Intel Xeon, bf16 | all 5 | 97.00 ± 0.79 [")
    # fewer seeds at a milestone than in the row: each accuracy names its seed
    assert row.endswith("| 100: 96.00 / 101: 96.50 / 103: 97.50 | 100: +0.00 / 101: +0.00 / 103: +0.00 | 98.10 |")
    assert row.count("±") == 1
    table = milestone_table(cells, PAPER).splitlines()
    assert [line.count("±") for line in table[2:]] == [1, 0]
    cells[(100, "cpu: Intel(R) Xeon(R) Processor", "bf16")].pop(200)
    assert milestone_summary(cells, PAPER).splitlines()[-1] == (
        "| 100 | Intel Xeon, bf16 | 100, 101, 103 (3 of 5) | 96.00 / 96.50 / 97.50 | – | 98.10 |")


def test_the_gain_of_longer_training_pairs_each_run_with_itself():
    first = {s: 90.0 + 2 * (s - 100) for s in range(100, 105)}
    kind = (100, "cpu: AMD EPYC, 1 thread", "bf16")
    gained = {s: v + 1.0 + 0.1 * (s - 102) for s, v in first.items()}  # +0.8 ... +1.2
    cells = {kind: {50: cell(first), 500: cell(gained)}}
    header, _, row = milestone_summary(cells, PAPER).splitlines()
    assert header.endswith("| epoch 50 | epoch 500 | gain, epoch 50 to 500 | paper's Table 2 |")
    low, high = t_interval([0.8, 0.9, 1.0, 1.1, 1.2])
    assert row.endswith(f"| +1.00 [{low:+.2f}, {high:+.2f}] | 98.10 |")
    cells[kind][500] = cell({s: first[s] + 3 + (s == 102) for s in (100, 102)})  # the rest still running
    assert milestone_summary(cells, PAPER).splitlines()[-1].endswith("| 100: +3.00 / 102: +4.00 | 98.10 |")
    cells[kind][200], cells[kind][500] = cells[kind].pop(500), cell(gained)  # a row that stops short
    other = (100, "cpu: Intel Xeon, 1 thread", "bf16")
    cells[other] = {50: cell(first), 200: cell({s: first[s] - 1 for s in (100, 102)})}
    rows = milestone_summary(cells, PAPER).splitlines()[2:]
    assert rows[1].endswith("| 100: -1.00 / 102: -1.00 (to epoch 200) | 98.10 |")
    assert milestone_summary({kind: {50: cell(first)}}, PAPER).splitlines()[-1].endswith("| – | 98.10 |")

"""The final table's protocol: quoted numbers carry their source, the interval arithmetic, clean commits
for runs into results/, and the table's cells."""
from __future__ import annotations

import shutil

import pytest

from aae_core.chapters import quoted
from aae_core.chapters.reproduction import protocol_differences_table
from aae_core.reproduce import (PROTOCOL_BASELINE, PROTOCOL_CHOSEN, PROTOCOL_LABELS, PROTOCOL_SEEDS, machine_kind,
                                protocol_plan)
from aae_core.stats import paired_difference, t_interval
from conftest import MNIST_RAW
from test_cli import assert_one_line_error, cli


def test_the_papers_table_2_is_quoted_as_the_papers_and_the_epoch_columns_as_latalas():
    assert quoted.PAPER["AAE"] == {100: (98.10, 0.10), 1000: (98.40, 0.08), "all": (99.15, 0.02)}
    for column in ("paper_50", "paper_500", "latala_50", "latala_500"):
        assert quoted.COLUMN_SOURCE[column] == quoted.LATALA_TABLE3
    for column in ("paper_best", "nn", "vat"):
        assert quoted.COLUMN_SOURCE[column] == quoted.PAPER_TABLE2
    assert set(quoted.COLUMN_SOURCE) == {k for row in quoted.TABLE3.values() for k in row}
    # Latała's "all labels, 50 epochs" paper column is the paper's NN baseline, not an AAE number
    assert quoted.TABLE3["all"]["paper_50"] == quoted.PAPER["NN baseline"]["all"][0]
    assert all(entry["source"] for entry in quoted.REIMPLEMENTATIONS)


def test_t_interval_against_a_hand_computed_example():
    # values 1..5: mean 3, s = sqrt(2.5) = 1.5811; t(0.975, 4) = 2.776; half = 2.776 * 1.5811 / sqrt(5) = 1.9629
    low, high = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert low == pytest.approx(3 - 1.9629, abs=1e-4) and high == pytest.approx(3 + 1.9629, abs=1e-4)
    assert t_interval([1.0]) is None


def test_the_verdict_follows_the_interval():
    cell = lambda values: {"accuracies": dict(enumerate(values))}  # noqa: E731
    base = cell([90.0, 91.0, 92.0, 93.0, 94.0])
    higher = paired_difference(cell([91.0, 92.1, 92.9, 94.0, 95.1]), base)
    same = paired_difference(cell([90.05, 90.95, 92.02, 92.98, 94.01]), base)
    unclear = paired_difference(cell([91.0, 90.0, 93.0, 92.0, 94.5]), base)
    rows = protocol_differences_table({"a": higher, "b": same, "c": unclear}, margin=0.3).splitlines()[2:]
    assert rows[0].endswith("| higher |") and rows[1].endswith("| the same within 0.3 points |")
    assert rows[2].endswith("| the data cannot tell |")


def test_a_difference_with_seeds_still_to_run_is_not_yet_the_protocols_verdict():
    planned = lambda values: {"accuracies": dict(enumerate(values)), "planned": 5}  # noqa: E731
    partial = paired_difference(planned([91.0, 92.1, 92.9]), planned([90.0, 91.0, 92.0, 93.0, 94.0]))
    assert partial["seeds"] == [0, 1, 2] and partial["planned"] == 5
    row = protocol_differences_table({1000: partial}, margin=0.3).splitlines()[2]
    assert row.endswith("| higher, from 3 of 5 seeds: not yet the protocol's verdict |")
    whole = paired_difference(planned([91.0, 92.1, 92.9, 94.0, 95.1]), planned([90.0, 91.0, 92.0, 93.0, 94.0]))
    assert protocol_differences_table({1000: whole}).splitlines()[2].endswith("| higher |")
    none_yet = paired_difference(planned([]), planned([90.0]))
    assert protocol_differences_table({"all": none_yet}).splitlines()[2].endswith("| too few seeds |")


def test_the_protocol_plans_fresh_seeds_for_both_presets(tmp_path):
    cells = protocol_plan(tmp_path)
    assert len(cells) == 2 * len(PROTOCOL_LABELS) and all(len(runs) == 5 for runs in cells.values())
    assert {PROTOCOL_BASELINE, *PROTOCOL_CHOSEN.values()} == {preset for _, preset in cells}
    assert not set(PROTOCOL_SEEDS) & {0, 1, 2, 3, 4}  # no development seed
    run = cells[(100, PROTOCOL_CHOSEN[100])][0]
    assert "--preset" in run.argv and "fp32" in run.argv and run.folder == tmp_path / PROTOCOL_CHOSEN[100] / "labels-100" / "seed-100"
    assert machine_kind("cpu: AMD EPYC, 1 thread") == machine_kind("cpu: AMD EPYC, 2 threads")
    assert machine_kind("cpu: AMD EPYC, 1 thread", "AVX2") != machine_kind("cpu: AMD EPYC, 1 thread", "AVX512")
    # the two presets share seeds: each run still has a name (and a log file) of its own
    names = [run.name for runs in cells.values() for run in runs]
    assert len(set(names)) == len(names) == 30 and run.name == f"{PROTOCOL_CHOSEN[100]} labels 100 seed 100"


def test_a_run_into_results_from_a_dirty_tree_stops_unless_allowed(tmp_path):
    """A copy of the package is its own repository root; $AAE_GIT_COMMIT says what git would."""
    from aae_core.provenance import REPO_ROOT

    shutil.copytree(REPO_ROOT / "aae_core", tmp_path / "aae_core", ignore=shutil.ignore_patterns("__pycache__"))
    run = ["train", "--labels", "100", "--unlabeled", "200", "--epochs", "1", "--quiet", "--device", "cpu", "--out"]
    into_results = tmp_path / "results" / "run"

    def train(out, *extra, commit):
        return cli(*run, str(out), *extra, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "AAE_GIT_COMMIT": commit,
                                                              "AAE_DATA_DIR": str(MNIST_RAW.parent.parent)})

    assert_one_line_error(train(into_results, commit="abc+dirty"), "uncommitted", "--allow-dirty")
    assert not into_results.exists()
    assert train(into_results, "--allow-dirty", commit="abc+dirty").returncode == 0
    assert train(tmp_path / "scratch", commit="abc+dirty").returncode == 0
    assert train(tmp_path / "results" / "clean", commit="abc").returncode == 0


def test_reproduce_protocol_prints_the_verdicts_with_the_protocols_margin(tmp_path, monkeypatch, capsys):
    """Finished runs whose seed-by-seed differences all lie well within 0.3 points: the printed verdict is
    "the same", as chapter 3 says of them, not "cannot tell"."""
    from aae_core import cli as cli_module
    from aae_core.runs.folder import RunFolder
    from test_report import summary_of

    offsets = {PROTOCOL_BASELINE: 0.0, PROTOCOL_CHOSEN[1000]: 0.05}  # chosen − baseline: +0.05, -0.05, ...
    for (_, preset), runs in protocol_plan(tmp_path, labels=[1000]).items():
        for run in runs:
            run.folder.mkdir(parents=True)
            RunFolder(run.folder).start(run.train_cfg, run.model_cfg, resume=False, force=False)  # its config.json
            accuracy = 97.0 + run.seed / 100 + offsets[preset] * (-1) ** run.seed
            (run.folder / "summary.json").write_text(summary_of(test_accuracy=accuracy, epochs=run.train_cfg.epochs))
    monkeypatch.setattr(cli_module, "run_planned", lambda *args: [])  # every run is finished: nothing to train

    assert cli_module.main(["reproduce", "--protocol", "--labels", "1000", "--out", str(tmp_path)]) == 0
    differences = capsys.readouterr().out.split("\n\n")[1].splitlines()
    assert differences[2].endswith("| the same within 0.3 points |"), differences


@pytest.mark.parametrize("option", [["--epochs", "500"], ["--seeds", "0"], ["--preset", "adamw"], ["--supervised-only"],
                                    ["--precision", "bf16"], ["--unlabeled", "200"]])
def test_protocol_refuses_the_options_it_would_ignore(tmp_path, option):
    result = cli("reproduce", "--protocol", *option, "--out", tmp_path / "table", "--print-commands")
    assert_one_line_error(result, "--protocol fixes", option[0])
    assert not (tmp_path / "table").exists()

"""The chapters as committed: conventions a reader relies on, and a tiny retrain through papermill."""
from __future__ import annotations

import importlib.util
import json
import logging

import nbformat
import papermill
import pytest
import yaml

from conftest import ROOT

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def test_every_chapter_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {entry["file"] for entry in toc.get("chapters", [])}
    pages = {f"book/{page.stem}" for page in (ROOT / "book").glob("*.md") if page.stem != "intro"}
    assert CHAPTERS and {f"book/{nb.stem}" for nb in CHAPTERS} | pages == listed


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_parameters_first(path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
        assert "!pip" not in cell.source and "%pip" not in cell.source
        assert "exec(" not in cell.source


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_import_the_package_not_copy_it(path):
    source = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    assert "aae_core" in source
    for definition in ("class Trainer", "class SemiSupervisedAAE", "def reconstruction_loss"):
        assert definition not in source


def test_chapter_1_retrains_with_tiny_parameters(tmp_path):
    out = tmp_path / "01.ipynb"
    papermill.execute_notebook(str(ROOT / "book" / "01_background.ipynb"), str(out), cwd=str(ROOT / "book"),
                               parameters={"retrain": True, "epochs": 1, "unlabeled": 300, "hidden": 16}, progress_bar=False,
                               kernel_name="python3")
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "hidden = 16" in injected[0].source
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3
    histories = json.dumps([o for c in nb.cells for o in c.get("outputs", [])])
    assert "Error" not in histories


@pytest.mark.parametrize("chapter,parameters,expected", [
    ("03_reproduction", {"retrain": True, "epochs": 1, "unlabeled": 300, "labels": 100},
     ["retrained: test accuracy", "(3 steps each)"]),
    ("04_disentanglement", {"retrain": True, "epochs": 1, "unlabeled": 500, "labels": 100},
     ["retrained: agreement", "after 1 epochs"]),
    ("05_performance", {"rerun_bench": True, "bench_batch": 10, "bench_steps": 2},
     ["trainer step", "% of the matrix-multiply rate", "plain reference"]),
])
def test_result_chapters_retrain_with_tiny_parameters(tmp_path, chapter, parameters, expected):
    out = tmp_path / f"{chapter}.ipynb"
    papermill.execute_notebook(str(ROOT / "book" / f"{chapter}.ipynb"), str(out), cwd=str(ROOT / "book"),
                               parameters=parameters, progress_bar=False, kernel_name="python3")
    nb = nbformat.read(out, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert all(line in printed for line in expected), printed[-500:]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_parameters_parse_cleanly_for_papermill(path, caplog):
    with caplog.at_level(logging.WARNING, logger="papermill"):
        papermill.inspect_notebook(str(path))
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("parameters,words", [({"labels": 7}, ["parameter labels", "7"]),
                                              ({"results": "/nonexistent"}, ["parameter results", "not a folder"])])
def test_a_bad_parameter_stops_a_chapter_in_the_cell_after_the_parameters(tmp_path, parameters, words):
    """Whatever `retrain` is (here False, the default), before any result is read or computed."""
    with pytest.raises(papermill.PapermillExecutionError) as stopped:
        papermill.execute_notebook(str(ROOT / "book" / "03_reproduction.ipynb"), str(tmp_path / "03.ipynb"),
                                   cwd=str(ROOT / "book"), parameters=parameters, progress_bar=False,
                                   kernel_name="python3")
    assert stopped.value.ename == "AAEError" and stopped.value.exec_count == 3  # parameters, injected, checks
    assert all(word in stopped.value.evalue for word in words), stopped.value.evalue


def test_executed_chapters_carry_no_machine_paths(tmp_path):
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    build_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_book)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["injected-parameters"]})])
    nb.metadata["papermill"] = {"input_path": "/home/someone/aae-book/book/03.ipynb",
                                "output_path": "/home/someone/aae-book/_build/executed/book/03.ipynb"}
    path = tmp_path / "03.ipynb"
    nbformat.write(nb, path)
    build_book.tidy_executed(path)
    tidied = nbformat.read(path, as_version=4)
    assert "/home/someone" not in path.read_text() and tidied.metadata.papermill.input_path == "03.ipynb"
    assert "remove-cell" in tidied.cells[0].metadata.tags

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


def toc_files(entries: list) -> list[str]:
    """Every file of a _toc.yml list of entries, in reading order (sections after their page)."""
    return [name for entry in entries
            for name in [entry["file"], *toc_files(entry.get("sections", []))]]


def test_every_chapter_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = [toc["root"]] + toc_files([chapter for part in toc["parts"] for chapter in part["chapters"]])
    pages = {f"book/{page.stem}" for page in (ROOT / "book").glob("*.md")}
    assert CHAPTERS and {f"book/{nb.stem}" for nb in CHAPTERS} | pages == set(listed)
    assert len(listed) == len(set(listed))


def test_the_book_has_the_story_and_the_appendices():
    """Part I: the four chapters in order; Part II: the protocol and its results (the protocol as
    written before the runs its first section), the reproduction log, the engineering notes, the
    references and the glossary."""
    parts = yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]
    assert [part["caption"] for part in parts] == ["Part I: The story", "Part II: Appendices"]
    assert toc_files(parts[0]["chapters"]) == ["book/01_background", "book/02_method", "book/03_reproduction",
                                               "book/04_disentanglement"]
    assert toc_files(parts[1]["chapters"]) == ["book/a_protocol_results", "book/protocol", "book/b_reproduction_log",
                                               "book/c_engineering_notes", "book/d_references", "book/e_glossary"]
    assert "{bibliography}" in (ROOT / "book" / "d_references.md").read_text()
    assert "{glossary}" in (ROOT / "book" / "e_glossary.md").read_text()


WITH_EXERCISES = [ROOT / "book" / f"{name}.ipynb" for name in ("01_background", "02_method", "03_reproduction",
                                                               "04_disentanglement")]


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_part_one_chapters_end_with_exercises_and_folded_answers(path):
    cells = nbformat.read(path, as_version=4).cells
    text = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    exercises = text.split("## Exercises", 1)
    assert len(exercises) == 2, "no Exercises section"
    answers = exercises[1].count("{admonition} Answer")
    assert 2 <= answers <= 4 and exercises[1].count(":class: dropdown") == answers


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_their_box_and_figures_say_what_they_show(path):
    """At most 88 characters a code line; every figure cell with a caption, a name and alt text."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        assert [line for line in cell.source.splitlines() if len(line) > 88] == []
        figure = cell.metadata.get("mystnb", {})
        if figure:
            assert figure["figure"]["caption"] and figure["figure"]["name"].startswith("fig-")
            assert len(figure["image"]["alt"]) > 40


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_parameters_first(path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code[0].metadata.get("tags") in (["parameters"], ["parameters", "remove-cell"])  # the intro hides its own
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
        assert "!pip" not in cell.source and "%pip" not in cell.source
        assert "exec(" not in cell.source
    stored = json.loads(path.read_text())  # as committed: nbformat.read would fill in missing cell ids
    assert all("id" in cell for cell in stored["cells"]), "a cell without an id (nbformat 4.5 needs one)"


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
    ("03_reproduction", {"retrain": True, "epochs": 2, "epoch_def": "labeled", "recon_loss": "mean"},
     ["retrained: test accuracy", "after 2 epochs (1 steps each)"]),  # Latała's epoch: one step
    ("04_disentanglement", {"retrain": True, "epochs": 1, "unlabeled": 500, "labels": 100},
     ["retrained: agreement", "after 1 epochs"]),
    ("c_engineering_notes", {"rerun_bench": True, "bench_batch": 10, "bench_steps": 2},
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


def load_build_book():
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    build_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_book)
    return build_book


def test_a_rebuild_leaves_no_page_of_a_chapter_that_is_gone(tmp_path):
    sources, html = tmp_path / "src" / "book", tmp_path / "html"
    sources.mkdir(parents=True)
    (html / "book").mkdir(parents=True)
    for name in ("intro.ipynb", "protocol.md"):
        (sources / name).write_text("")
    for name in ("intro.html", "protocol.html", "a_reproduction_log.html"):
        (html / "book" / name).write_text("")
    (html / "index.html").write_text("")
    removed = load_build_book().remove_stale_pages(html, sources)
    assert [page.name for page in removed] == ["a_reproduction_log.html"]
    assert sorted(p.name for p in html.rglob("*.html")) == ["index.html", "intro.html", "protocol.html"]


def test_executed_chapters_carry_no_machine_paths(tmp_path):
    build_book = load_build_book()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["injected-parameters"]})])
    nb.metadata["papermill"] = {"input_path": "/home/someone/aae-book/book/03.ipynb",
                                "output_path": "/home/someone/aae-book/_build/executed/book/03.ipynb"}
    path = tmp_path / "03.ipynb"
    nbformat.write(nb, path)
    build_book.tidy_executed(path)
    tidied = nbformat.read(path, as_version=4)
    assert "/home/someone" not in path.read_text() and tidied.metadata.papermill.input_path == "03.ipynb"
    assert "remove-cell" in tidied.cells[0].metadata.tags

"""Build the book: execute every chapter with papermill, then render the executed copies.

    python tools/build_book.py [--only NAME ...]

_build/executed/ receives _config.yml, _toc.yml and book/ with the executed notebooks;
jupyter-book renders that folder into _build/html (its own execution is off, see _config.yml).
A chapter that raises stops the build with one line naming the chapter and the error.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager

from aae_core.data import ensure_mnist
from aae_core.errors import AAEError

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
EXECUTED = BUILD / "executed"


class LocalKernelManager(AsyncKernelManager):
    """A chapter's kernel talks to papermill over local (IPC) sockets: nothing listens on a network
    port, and the kernel has no reason to warn that it does."""

    def __init__(self, **kwargs):
        super().__init__(transport="ipc", **kwargs)


def execute(notebook: Path, target: Path) -> float:
    """Run one chapter with its default parameters from the book folder; return seconds taken."""
    start = time.perf_counter()
    papermill.execute_notebook(str(notebook), str(target), cwd=str(notebook.parent), kernel_name="python3",
                               progress_bar=False, kernel_manager_class=LocalKernelManager)
    tidy_executed(target)
    return time.perf_counter() - start


def tidy_executed(path: Path) -> None:
    """The executed copy as the page shows it and readers download it: papermill's 'injected-parameters'
    cell kept out of the page (it only repeats overrides), and papermill's record of the notebook's
    paths reduced to file names (no folder of the machine that built the book)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = tags + ["remove-cell"]
    record = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if record.get(key):
            record[key] = Path(record[key]).name
    nbformat.write(nb, path)


def remove_stale_pages(html: Path, sources: Path) -> list[Path]:
    """The pages of chapters renamed or removed since an earlier build: jupyter-book leaves them in
    _build/html, where a reader could land on them and the browser tests would visit them."""
    chapters = {path.stem for pattern in ("*.ipynb", "*.md") for path in sources.glob(pattern)}
    stale = [page for page in sorted((html / sources.name).glob("*.html")) if page.stem not in chapters]
    for page in stale:
        page.unlink()
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="execute only these chapters (file stems); copy the others unexecuted")
    args = parser.parse_args()

    shutil.rmtree(EXECUTED, ignore_errors=True)
    shutil.copytree(ROOT / "book", EXECUTED / "book", ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "_static"))
    # Jupyter Book serves (and adds to every page) the _static folder at the root of the source tree.
    shutil.copytree(ROOT / "book" / "_static", EXECUTED / "_static")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, EXECUTED / name)
    # The chapters read ../results; nbval re-runs the executed copies from _build/executed/book.
    (EXECUTED / "results").symlink_to(ROOT / "results", target_is_directory=True)
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    try:  # MNIST, fetched here where it is missing: its progress lines belong on the terminal, not in a chapter
        if any(not args.only or notebook.stem in args.only for notebook in notebooks):
            ensure_mnist()
    except AAEError as err:
        print(f"build_book: {err}", file=sys.stderr)
        return 1
    for notebook in notebooks:
        target = EXECUTED / "book" / notebook.name
        if args.only and notebook.stem not in args.only:
            shutil.copy(notebook, target)
            continue
        try:
            seconds = execute(notebook, target)
        except papermill.PapermillExecutionError as err:
            print(f"build_book: {notebook.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}", file=sys.stderr)
            return 1
        print(f"executed {notebook.name} in {seconds:.1f} s", flush=True)
    # With --only the other chapters are copied unexecuted: references to their figures cannot resolve,
    # so their warnings are shown but fail only a full build.
    strict = [] if args.only else ["--warningiserror"]
    rendering = time.perf_counter()
    # jupyter-book's own banner says nothing a reader needs; its whole output is shown when it fails
    html = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(EXECUTED), "--path-output", str(ROOT),
                           *strict, "--keep-going", "-q"], cwd=ROOT, capture_output=True, text=True)
    if html.returncode != 0:
        sys.stdout.write(html.stdout)
        sys.stderr.write(html.stderr)
        print("build_book: jupyter-book reported warnings or errors (above)", file=sys.stderr)
        return html.returncode
    for page in remove_stale_pages(BUILD / "html", ROOT / "book"):
        print(f"removed {page.relative_to(ROOT)}: its chapter is gone")
    print(f"rendered the HTML with jupyter-book in {time.perf_counter() - rendering:.1f} s")
    print(f"The book is at file://{BUILD / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

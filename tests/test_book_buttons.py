"""The buttons at the top of each page of the rendered book, in Chromium and offline: the download
menu saves the page's own .ipynb or .md, search, dark mode and full screen work; no page carries a
Thebe (Binder) configuration, and the repository button appears only when a repository is configured.

The browser tests use the HTML of `python tools/build_book.py` (`make test` builds it first) and
are skipped without it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from browser import Visit, serve
from conftest import ROOT

HTML = ROOT / "_build" / "html"
NO_BOOK = "no book at _build/html: run `python tools/build_book.py` (make test does)"


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.skip(NO_BOOK)
    with serve(HTML) as base:
        yield base


def as_text(route):
    """Serve a page source the way many hosts do, as a type a browser shows rather than saves."""
    route.fulfill(response=route.fetch(), headers={"Content-Type": "text/plain; charset=utf-8"})


@pytest.mark.parametrize("page,source", [("book/01_background.html", "book/01_background.ipynb"),
                                         ("book/protocol.html", "book/protocol.md")])
def test_download_button_saves_the_page_source(server, browser, page, source):
    visit = Visit(browser, server)
    visit.page.context.route("**/_sources/**", as_text)  # the context's: a link may open another tab
    opened = visit.open(page)
    link = opened.locator("a.btn-download-source-button")
    assert link.get_attribute("href") == f"../_sources/{source}"
    opened.locator(".dropdown-download-buttons button.dropdown-toggle").click()
    with opened.expect_download(timeout=5000) as saved:
        link.click()
    download = saved.value
    assert download.suggested_filename == Path(source).name
    assert Path(download.path()).read_bytes() == (HTML / "_sources" / source).read_bytes()
    if source.endswith(".ipynb"):
        assert json.loads(Path(download.path()).read_text())["cells"]
    assert visit.problems == [], visit.problems


def test_search_finds_pages_offline(server, browser):
    visit = Visit(browser, server)
    page = visit.open("book/intro.html")
    page.locator(".search-button__button:visible").first.click()
    box = page.locator("input[name=q]:visible").first
    box.fill("adversarial")
    with page.expect_navigation(wait_until="load"):
        box.press("Enter")
    assert "search.html?q=adversarial" in page.url
    page.wait_for_selector("#search-results ul.search li a", timeout=10000)
    assert page.locator("#search-results ul.search li a").count() >= 2
    assert visit.problems == [], visit.problems


def background_brightness(page) -> float:
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)")
    return sum(rgb) / (3 * 255)


def test_dark_mode_switches_and_stays(server, browser):
    visit = Visit(browser, server)
    page = visit.open("book/intro.html")
    assert background_brightness(page) > 0.8
    for _ in range(3):  # the button cycles through light, dark and the system's setting
        page.locator("button.theme-switch-button:visible").first.click()
        if page.evaluate("document.documentElement.dataset.theme") == "dark":
            break
    assert background_brightness(page) < 0.2
    page = visit.open("book/01_background.html")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark" and background_brightness(page) < 0.2
    assert visit.problems == [], visit.problems


def test_full_screen_button_enters_full_screen(server, browser):
    visit = Visit(browser, server)
    page = visit.open("book/intro.html")
    page.locator("button.btn-fullscreen-button:visible").first.click()
    page.wait_for_function("document.fullscreenElement !== null", timeout=5000)
    assert visit.problems == [], visit.problems


def test_no_page_carries_thebe_or_a_repository_button():
    if not (HTML / "index.html").exists():
        pytest.skip(NO_BOOK)
    for page in HTML.rglob("*.html"):
        text = page.read_text()
        assert "thebe" not in text.lower(), f"{page.relative_to(HTML)} carries a Thebe configuration"
        assert "btn-source-repository-button" not in text, f"{page.relative_to(HTML)} has a repository button"


def test_repository_button_appears_when_a_repository_is_configured(tmp_path):
    """A one-page book with the book's configuration and a repository URL."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["repository"] = {"url": "https://github.com/example/aae-book"}
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")
    (tmp_path / "book" / "intro.md").write_text("# A page\n\nSome text.\n")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    built = subprocess.run([str(jupyter_book), "build", str(tmp_path), "--path-output", str(tmp_path), "-q"],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    page = (tmp_path / "_build" / "html" / "book" / "intro.html").read_text()
    assert "btn-source-repository-button" in page
    assert 'href="https://github.com/example/aae-book"' in page

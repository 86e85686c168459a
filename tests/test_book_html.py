"""The rendered book in a real browser, offline: every page loads without a script error, every
image and figure shows, equations render, and the navigation and internal links lead somewhere.

Needs the HTML from `python tools/build_book.py` (`make test` builds it first) and Chromium
(Debian's package; `make test` installs it when missing). Requests to any host but the local
server are blocked and fail the test: the book must work with no network.
"""
from __future__ import annotations

from urllib.parse import urldefrag

import pytest

from browser import Visit, serve
from conftest import ROOT

HTML = ROOT / "_build" / "html"
CHAPTER_FIGURES = {"book/01_background.html": 3, "book/02_method.html": 3}  # at least this many figures



@pytest.fixture(scope="module")
def server():
    assert (HTML / "index.html").exists(), "no book at _build/html: run `python tools/build_book.py` (make test does)"
    with serve(HTML) as base:
        yield base


def pages() -> list[str]:
    return sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html") if "_static" not in p.parts) if HTML.exists() else []


@pytest.mark.parametrize("path", pages() or ["index.html"])
def test_page_loads_offline_without_errors(server, browser, path):
    visit = Visit(browser, server)
    page = visit.open(path)
    broken = page.evaluate("""[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)""")
    assert broken == [], f"broken images: {broken}"
    if page.locator("span.math, div.math").count():
        page.wait_for_selector("mjx-container", timeout=10000)
    figures = page.locator(".cell_output img").count()
    assert figures >= CHAPTER_FIGURES.get(path, 0), f"{path}: {figures} figures"
    assert visit.problems == [], visit.problems
    page.close()


def test_landing_page_redirects_to_the_introduction(server, browser):
    visit = Visit(browser, server)
    visit.page.goto(server + "index.html")
    visit.page.wait_for_url("**/intro.html", timeout=10000)
    assert visit.problems == []


def test_chapters_are_linked_in_order(server, browser):
    visit = Visit(browser, server)
    page = visit.open("intro.html")
    seen = [page.url]
    while page.locator("a.right-next").count():
        target = page.locator("a.right-next").first.get_attribute("href")
        with page.expect_navigation(wait_until="load"):
            page.locator("a.right-next").first.click()
        assert page.url.endswith(target.lstrip("./").split("#")[0].rsplit("/", 1)[-1]), (page.url, target)
        seen.append(page.url)
    assert [u.rsplit("/", 1)[-1] for u in seen] == ["intro.html", "01_background.html", "02_method.html"]
    assert visit.problems == []


def test_internal_links_resolve(server, browser):
    visit = Visit(browser, server)
    missing = []
    for path in pages():
        page = visit.open(path)
        for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)"):
            target, _ = urldefrag(href)
            if target.startswith(server) and not (HTML / target[len(server):]).exists():
                missing.append(f"{path} -> {target}")
    assert missing == [] and visit.problems == [], (missing, visit.problems)

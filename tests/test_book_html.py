"""The rendered book in a real browser, offline: every page loads without a script error, every
image and figure shows (a figure with two pixels per screen pixel, sharp on a phone), equations
render, and the navigation and internal links lead somewhere.

Needs the HTML from `python tools/build_book.py` (`make test` builds it first) and Chromium
(Debian's package; `make test` installs it when missing). Requests to any host but the local
server are blocked and fail the test: the book must work with no network.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urldefrag

import pytest
import yaml

from browser import Visit, serve
from conftest import ROOT

HTML = ROOT / "_build" / "html"
CHAPTER_FIGURES = {"book/01_background.html": 3, "book/02_method.html": 3, "book/03_reproduction.html": 2,
                   "book/04_disentanglement.html": 4, "book/b_reproduction_log.html": 6,
                   "book/c_engineering_notes.html": 2}  # at least this many figures



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
    blurred = page.evaluate("""[...document.querySelectorAll('article img[src$=".png"]')].filter(i => {
        const shown = i.getBoundingClientRect().width; return shown > 0 && i.naturalWidth < 1.9 * shown;
      }).map(i => i.alt.slice(0, 60) || i.src)""")
    assert blurred == [], f"{path}: figures with fewer than two pixels per screen pixel (blurred on a phone): {blurred}"
    assert visit.problems == [], visit.problems
    page.close()


def toc_root() -> str:
    return yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]


def reading_order() -> list[str]:
    """The root, then every page of every part, a page's sections after it."""
    def files(entries):
        return [name for entry in entries for name in [entry["file"], *files(entry.get("sections", []))]]

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [name for part in toc["parts"] for name in files(part["chapters"])]


def part_pages(caption: str) -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part = next(part for part in toc["parts"] if part["caption"] == caption)
    return [f"{entry['file']}.html" for entry in part["chapters"]]


def test_landing_page_redirects_to_the_introduction(server, browser):
    visit = Visit(browser, server)
    visit.page.goto(server + "index.html")
    visit.page.wait_for_url("**/intro.html", timeout=10000)
    assert visit.problems == []


def test_chapters_are_linked_in_order(server, browser):
    visit = Visit(browser, server)
    page = visit.open(f"{toc_root()}.html")
    seen = [page.url]
    while page.locator("a.right-next").count():
        target = page.locator("a.right-next").first.get_attribute("href")
        with page.expect_navigation(wait_until="load"):
            page.locator("a.right-next").first.click()
        assert page.url.endswith(target.lstrip("./").split("#")[0].rsplit("/", 1)[-1]), (page.url, target)
        seen.append(page.url)
    assert [u.rsplit("/", 1)[-1] for u in seen] == [f"{Path(c).name}.html" for c in reading_order()]
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


EXPLORER_PAGE = "book/04_disentanglement.html"
LIVE = ("/_static/lib/", "/_static/widgets/", "/_static/models/")  # chapter 4's live figures' files


def canvas_image(page) -> str:
    return page.evaluate("document.querySelector('.aae-explorer canvas.aae-digit').toDataURL()")


def test_style_explorer_redraws_in_the_static_book(server, browser):
    visit = Visit(browser, server)
    page = visit.open(EXPLORER_PAGE)
    page.wait_for_selector(".aae-explorer[data-ready=true]", timeout=20000)
    assert page.locator(".aae-explorer input[type=range]").count() == 10
    drawn = [canvas_image(page)]
    slider = page.locator(".aae-explorer input[type=range]").first
    slider.focus()
    for _ in range(20):  # the keyboard moves a range input as a reader would, firing input events
        page.keyboard.press("ArrowRight")
    assert float(slider.input_value()) == pytest.approx(1.0)
    drawn.append(canvas_image(page))
    page.locator(".aae-explorer .aae-digits button[data-digit='7']").click()
    drawn.append(canvas_image(page))
    assert len(set(drawn)) == 3, "the canvas did not change when a slider or the digit changed"
    assert visit.problems == [], visit.problems


def test_live_figures_load_their_files_once_and_only_on_their_page(server, browser):
    visit, urls = Visit(browser, server), []
    visit.page.on("request", lambda r: urls.append(r.url))
    page = visit.open(EXPLORER_PAGE)
    page.wait_for_selector(".aae-explorer[data-ready=true]", timeout=20000)
    page.click(".aae-draw .aae-load")
    page.wait_for_function("document.querySelector('.aae-draw').aaeDraw.result() !== null", timeout=20000)
    live = [u.split("/_static/")[1] for u in urls if any(d in u for d in LIVE)]
    assert sorted(live) == sorted(set(live)), f"loaded twice: {live}"
    assert set(live) == {"lib/aae-nn.js", "widgets/aae-widgets.css", "widgets/aae-draw.js", "widgets/aae-explorer.js",
                         "widgets/test-digits.js", "models/sgd-1000/decoder-weights.js", "models/sgd-1000/encoder-weights.js"}
    assert visit.problems == [], visit.problems
    # chapter 1's trainer and latent map run on the library too, with widgets and models of their own
    users = {"book/01_background.html": LIVE, EXPLORER_PAGE: LIVE}
    chapter_4_only = ("models/sgd-1000/", "models/adamw-2000/", "widgets/aae-explorer.js", "widgets/aae-draw.js")
    assert [f for f in chapter_4_only if f in (HTML / "book/01_background.html").read_text()] == []
    for path in pages():  # Jupyter Book's own tags would load them in every page's head
        head, _, body = (HTML / path).read_text().partition("</head>")
        assert [d for d in LIVE if d.lstrip("/") in head] == [], f"{path} loads {LIVE} in its head"
        assert [d for d in LIVE if d.lstrip("/") in body and d not in users.get(path, ())] == [], path


def test_book_networks_match_torch(server, browser, mnist):
    import torch

    from aae_core import load_checkpoint
    from aae_core.chapters.export import read_exported_weights
    from aae_core.chapters.generate import generate

    manifest, _ = read_exported_weights(ROOT / "book" / "_static" / "models" / "sgd-1000")
    model = load_checkpoint(ROOT / manifest["source"]["run"])
    digits = torch.tensor([0, 3, 7, 9])
    z = torch.tensor([[0.0] * 10, [1.0, -1.0] * 5, [-2.0] + [0.5] * 9, [0.3 * i for i in range(10)]])
    x = mnist.test_x[:20]
    visit = Visit(browser, server)
    page = visit.open(EXPLORER_PAGE)
    page.wait_for_selector(".aae-explorer[data-ready=true]", timeout=20000)
    out = page.evaluate("""async ([digits, zs, xs]) => {
        const network = src => new Promise((ok, no) => AAENN.network(src, (e, net) => e ? no(e) : ok(net)));
        const decoder = await network("../_static/models/sgd-1000/decoder-weights.js");
        const encoder = await network("../_static/models/sgd-1000/encoder-weights.js");
        return {pixels: digits.map((d, i) => Array.from(AAENN.decode(decoder, d, zs[i]))),
                probs: Array.from(AAENN.encode(encoder, Float32Array.from(xs.flat()), xs.length).probs)};
    }""", [digits.tolist(), z.tolist(), x.tolist()])
    difference = (torch.tensor(out["pixels"]) - generate(model, digits, z)).abs().max().item()
    assert difference < 1e-2, f"JavaScript and torch decoders differ by {difference:.2e} per pixel"
    with torch.no_grad():
        probs, _ = model.encode(x)
    assert (torch.tensor(out["probs"]).view(20, 10) - probs).abs().max() < 1e-3
    assert visit.problems == [], visit.problems


@pytest.mark.parametrize("path", ["book/intro.html", "book/03_reproduction.html"])
def test_the_verdict_is_on_the_page(path):
    """The verdict is a cell's output: a page built from a run that lost it would still pass its other tests."""
    assert (HTML / path).exists(), "no book at _build/html: run `python tools/build_book.py` (make test does)"
    text = (HTML / path).read_text()
    assert "<strong>Still open</strong>" in text and "<strong>That is after" in text, f"{path}: no verdict"

"""The pages as a reader sees them, in Chromium, offline: how long they are, that nothing is wider
than its box, that every image says what it shows and every figure has a caption.

Screens are the document's height over 800 at a 1280-pixel-wide window (the budgets below: chapter 3,
the story, that is the introduction and Part I, and each appendix). Needs the HTML of `python tools/build_book.py`
(`make test` builds it first) and Chromium; skipped without the HTML.
"""
from __future__ import annotations

import re

import pytest
import yaml

from browser import Visit, serve
from conftest import ROOT

HTML = ROOT / "_build" / "html"
SCREEN = (1280, 800)
PHONE = (390, 800)
# Chapter 3 opens with the verdict and has the final table seed by seed and the long runs; the introduction
# opens with the verdict too.
MOST_SCREENS = {"book/03_reproduction.html": 15}
STORY_SCREENS = 60  # the story in screens at 1280x800
APPENDIX_SCREENS = 20  # the most of any one page of Part II: a longer one is split or folded


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.skip("no book at _build/html: run `python tools/build_book.py` (make test does)")
    with serve(HTML) as base:
        yield base


def toc() -> dict:
    return yaml.safe_load((ROOT / "_toc.yml").read_text())


def story() -> list[str]:
    """The introduction and the chapters of Part I."""
    part = toc()["parts"][0]
    return [f"{toc()['root']}.html"] + [f"{entry['file']}.html" for entry in part["chapters"]]


def pages(entries: list) -> list[str]:
    """The pages of a _toc.yml list of entries, sections after their page."""
    return [page for entry in entries for page in [f"{entry['file']}.html", *pages(entry.get("sections", []))]]


def every_page() -> list[str]:
    return [f"{toc()['root']}.html"] + [page for part in toc()["parts"] for page in pages(part["chapters"])]


def opened(browser, server, path: str, size=SCREEN):
    visit = Visit(browser, server)
    visit.page.set_viewport_size({"width": size[0], "height": size[1]})
    page = visit.open(path)
    page.wait_for_timeout(500)  # figures and MathJax settle
    return visit, page


def screens(page) -> float:
    return page.evaluate("document.documentElement.scrollHeight") / SCREEN[1]


def test_chapter_3_and_the_story_fit_their_screens(server, browser):
    counted = {}
    for path in story():
        visit, page = opened(browser, server, path)
        counted[path] = screens(page)
        assert visit.problems == [], visit.problems
        page.close()
    print("screens per page at 1280x800: " + ", ".join(f"{path} {n:.1f}" for path, n in counted.items()))
    for path, most in MOST_SCREENS.items():
        assert counted[path] <= most, f"{path}: {counted[path]:.1f} screens, at most {most}"
    assert sum(counted.values()) <= STORY_SCREENS, f"the story is {sum(counted.values()):.1f} screens"


def appendices() -> list[str]:
    return pages(toc()["parts"][1]["chapters"])


@pytest.mark.parametrize("path", appendices())
def test_no_page_of_the_appendices_is_longer_than_its_budget(server, browser, path):
    visit, page = opened(browser, server, path)
    assert screens(page) <= APPENDIX_SCREENS, f"{path}: {screens(page):.1f} screens, at most {APPENDIX_SCREENS}"
    assert visit.problems == [], visit.problems



@pytest.mark.parametrize("size", [SCREEN, PHONE], ids=["screen", "phone"])
def test_a_page_has_one_way_to_search_and_it_opens_the_search(server, browser, size):
    visit, page = opened(browser, server, f"{toc()['root']}.html", size)
    shown = page.locator(".search-button__button:visible")
    assert shown.count() == 1, f"{shown.count()} search fields at {size[0]} px"
    assert page.evaluate("document.querySelector('article').getBoundingClientRect().top") < 150  # no empty bar above
    shown.click()
    page.locator("#pst-search-dialog input[name=q]").wait_for(state="visible", timeout=5000)
    assert visit.problems == [], visit.problems

@pytest.mark.parametrize("path", every_page())
def test_no_page_scrolls_sideways_on_a_phone(server, browser, path):
    visit, page = opened(browser, server, path, PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"{path} is {width} px wide at {PHONE[0]} px"
    # what is wider than the phone scrolls inside its own box: tables, code, display math
    loose = page.evaluate("""[...document.querySelectorAll('article table, article mjx-container[display=true]')]
        .filter(e => { let box = e.parentElement;
                       while (box && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
                       return e.getBoundingClientRect().right > innerWidth + 1 && box === document.body; })
        .map(e => e.tagName)""")
    assert loose == [], f"{path}: {loose} wider than the page"


@pytest.mark.parametrize("path", story())
def test_figures_shrink_on_a_phone_keeping_their_proportions(server, browser, path):
    visit, page = opened(browser, server, path, PHONE)
    stretched = page.evaluate("""[...document.querySelectorAll('article img[src$=".png"]')].filter(i => {
        const r = i.getBoundingClientRect();
        return r.width > 0 && Math.abs(r.height / r.width - i.naturalHeight / i.naturalWidth) > 0.02 * r.height / r.width;
      }).map(i => i.alt.slice(0, 60))""")
    assert stretched == [], f"{path}: figures out of proportion at {PHONE[0]} px: {stretched}"


@pytest.mark.parametrize("path", every_page())
def test_no_code_or_output_line_is_wider_than_its_box(server, browser, path):
    visit, page = opened(browser, server, path)
    wide = page.evaluate("""[...document.querySelectorAll('article pre')]
        .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.split('\\n')[0].slice(0, 60))""")
    assert wide == [], f"{path}: code wider than its box at 1280 px: {wide}"


@pytest.mark.parametrize("path", every_page())
def test_every_image_says_what_it_shows(server, browser, path):
    visit, page = opened(browser, server, path)
    alts = page.evaluate("[...document.querySelectorAll('article img')].map(i => [i.getAttribute('src'), i.alt])")
    for src, alt in alts:
        words = (alt or "").strip()
        assert len(words) >= 20 and not re.search(r"\.(png|svg|jpe?g|gif)\b|/", words), f"{path}: {src} has alt {alt!r}"


@pytest.mark.parametrize("path", story())
def test_every_figure_of_the_story_is_numbered_with_a_caption(server, browser, path):
    visit, page = opened(browser, server, path)
    bare = page.evaluate("""[...document.querySelectorAll('article img')]
        .filter(i => { const f = i.closest('figure');
                       return !(f && f.querySelector('figcaption .caption-number')
                                && f.querySelector('figcaption').textContent.trim().length > 40); })
        .map(i => i.getAttribute('src'))""")
    assert bare == [], f"{path}: figures without a numbered caption: {bare}"


def test_the_references_and_the_glossary_are_linked_from_the_chapters(server, browser):
    visit, page = opened(browser, server, "book/03_reproduction.html")
    hrefs = page.evaluate("[...document.querySelectorAll('article a[href]')].map(a => a.getAttribute('href'))")
    assert any("d_references.html#id" in h or "d_references.html" in h for h in hrefs), "no citation links"
    assert any("e_glossary.html#term-" in h for h in hrefs), "no glossary links"
    visit, page = opened(browser, server, "book/d_references.html")
    assert page.locator("article .citation, article dl.citation, article div.citation").count() >= 2


# Dark mode: figures (opaque white) and the explorer's digit buttons against the dark page, as contrast ratios.
CONTRAST = """(() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = c => { const l = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                     return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const opaque = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
                         if (!/rgba\\(.*,\\s*0\\)|transparent/.test(c)) return rgb(c); } return [255, 255, 255]; };
  const page = opaque(document.querySelector('article'));
  const figures = [...document.querySelectorAll('article .cell_output img')].map(img => {
    const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0);
    const [r, gr, b, a] = g.getImageData(1, 1, 1, 1).data;
    return {what: img.alt, ratio: a < 255 ? 1 : ratio([r, gr, b], page)};
  });
  const buttons = [...document.querySelectorAll('.aae-explorer .aae-digits button')].map(btn => ({
    what: 'digit button ' + btn.textContent,
    ratio: Math.min(ratio(rgb(getComputedStyle(btn).color), opaque(btn)), 
                    Math.max(ratio(opaque(btn), page), ratio(rgb(getComputedStyle(btn).borderTopColor), page)))}));
  return {figures, buttons};
})()"""


@pytest.mark.parametrize("path", story())
def test_dark_mode_figures_and_digit_buttons_stand_out(server, browser, path):
    visit, tab = opened(browser, server, path)
    tab.evaluate("document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark'")
    tab.wait_for_timeout(300)
    found = tab.evaluate(CONTRAST)
    faint = [item for item in found["figures"] + found["buttons"] if item["ratio"] < 3]
    assert faint == [], f"{path}: contrast under 3 against the dark page: {faint}"
    tab.close()

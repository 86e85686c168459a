"""The built book read as a student reads it: Part I short enough to read (screens of 1280×800),
no page that scrolls sideways on a phone, no code line wider than its box, figures numbered with
captions and alt text that says something, and dark mode where figures and the explorer's digit
buttons stand out from the page.

Needs the HTML from `python tools/build_book.py` (`make test` builds it first) and Chromium.
"""
from __future__ import annotations

import re

import pytest
import yaml

from browser import Visit, serve
from conftest import ROOT

HTML = ROOT / "_build" / "html"
SCREEN = (1280, 800)
PHONE = (390, 844)
PART_ONE_SCREENS = 55  # intro and chapters 1-4 together
PAGE_SCREENS = {"book/03_reproduction": 12}


def toc_parts() -> list[list[str]]:
    """The pages of each part of _toc.yml in reading order; the root page belongs to the first part."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    parts = toc.get("parts") or [{"chapters": toc.get("chapters", [])}]
    files = [[entry["file"] for entry in part["chapters"]] for part in parts]
    files[0].insert(0, toc["root"])
    return files


PART_ONE = toc_parts()[0]
ALL_PAGES = [page for part in toc_parts() for page in part]


@pytest.fixture(scope="module")
def server():
    assert (HTML / "index.html").exists(), "no book at _build/html: run `python tools/build_book.py` (make test does)"
    with serve(HTML) as base:
        yield base


def open_page(browser, server, page: str, size=SCREEN, dark=False):
    visit = Visit(browser, server)
    visit.page.set_viewport_size({"width": size[0], "height": size[1]})
    if dark:
        visit.page.add_init_script("localStorage.setItem('theme', 'dark'); localStorage.setItem('mode', 'dark');")
    tab = visit.open(f"{page}.html")
    if dark:  # as the theme's switch leaves it
        tab.evaluate("document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark'")
    tab.wait_for_timeout(500)  # widgets draw, MathJax typesets
    return visit, tab


def screens(tab) -> float:
    return tab.evaluate("document.documentElement.scrollHeight") / SCREEN[1]


def test_part_one_fits_its_screens(server, browser):
    counts = {}
    for page in PART_ONE:
        visit, tab = open_page(browser, server, page)
        counts[page] = round(screens(tab), 1)
        tab.close()
    print("screens at 1280×800:", counts, "total", round(sum(counts.values()), 1))
    assert sum(counts.values()) <= PART_ONE_SCREENS, counts
    for page, limit in PAGE_SCREENS.items():
        assert counts.get(page, 0) <= limit, (page, counts.get(page))


@pytest.mark.parametrize("page", ALL_PAGES)
def test_no_sideways_scrolling_on_a_phone(server, browser, page):
    visit, tab = open_page(browser, server, page, size=PHONE)
    overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page} scrolls {overflow} px sideways at {PHONE[0]} px"
    tab.close()


@pytest.mark.parametrize("page", ALL_PAGES)
def test_code_and_output_lines_fit_their_box(server, browser, page):
    visit, tab = open_page(browser, server, page)
    too_wide = tab.evaluate("""[...document.querySelectorAll('article div.highlight pre')]
        .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
        .map(pre => pre.textContent.split('\\n').reduce((a, b) => a.length >= b.length ? a : b).slice(0, 100))""")
    assert too_wide == [], f"{page}: lines wider than their box at {SCREEN[0]} px: {too_wide}"
    tab.close()


@pytest.mark.parametrize("page", ALL_PAGES)
def test_images_say_what_they_show(server, browser, page):
    visit, tab = open_page(browser, server, page)
    alts = tab.evaluate("[...document.querySelectorAll('article img')].map(i => i.getAttribute('alt') || '')")
    file_like = re.compile(r"(^|/)[\w.-]+\.(png|svg|jpe?g|gif)$|_images/", re.I)
    bad = [alt for alt in alts if len(alt.split()) < 3 or file_like.search(alt)]
    assert bad == [], f"{page}: images without alt text that describes them: {bad}"
    tab.close()


@pytest.mark.parametrize("page", PART_ONE)
def test_part_one_figures_have_captions(server, browser, page):
    visit, tab = open_page(browser, server, page)
    bare = tab.evaluate("""[...document.querySelectorAll('article img')]
        .filter(i => !(i.closest('figure') && i.closest('figure').querySelector('figcaption')))
        .map(i => i.getAttribute('alt') || i.src)""")
    assert bare == [], f"{page}: figures without a caption: {bare}"
    tab.close()


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


@pytest.mark.parametrize("page", PART_ONE)
def test_dark_mode_figures_and_digit_buttons_stand_out(server, browser, page):
    visit, tab = open_page(browser, server, page, dark=True)
    assert tab.evaluate("document.documentElement.dataset.theme") == "dark"
    found = tab.evaluate(CONTRAST)
    faint = [item for item in found["figures"] + found["buttons"] if item["ratio"] < 3]
    assert faint == [], f"{page}: contrast under 3 against the dark page: {faint}"
    tab.close()

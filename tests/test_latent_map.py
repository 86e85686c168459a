"""Chapter 1's latent map (widgets/aae-latent.js, models/demo-2d/) in Chromium, offline, over http
and file://.

The page is what chapter 1 emits (BrowserLatentMap), next to the shipped scripts. The library's
decoder must draw what torch's snapshot decoders draw (every model, every stored epoch); what a
reader does (move the epoch slider, click two points, switch the model, touch at 390 px) must
change what the page shows; the decoders load when first used; nothing comes from another host,
no console error; the map's files stay within the chapter's budget.
"""
from __future__ import annotations

import pytest
import torch

from aae_core.chapters.demo_runs import DemoRun
from aae_core.chapters.demo_training import KINDS
from aae_core.chapters.latent_map import CODES_SCRIPT, BrowserLatentMap, decoder_script, read_latent_map
from browser import serve
from conftest import ROOT
from test_live_figures import Requests, touch_stroke

STATIC = ROOT / "book" / "_static"
RESULTS = ROOT / "results" / "demo-2d"
MAP = ".aae-latent"
# the chapter's own files: the map (all of it), the in-page trainer, the library, the diagram
CHAPTER_BUDGET = 6 * 10**6
NETWORK = "(src) => new Promise((ok, no) => AAENN.network(src, (e, net) => e ? no(e) : ok(net)))"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("latent-site")
    static = folder / "_static"
    static.mkdir()
    for name in ("lib", "widgets", "models"):
        (static / name).symlink_to(STATIC / name)
    head = ('<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width, initial-scale=1"></head>'
            '<body style="max-width: 760px; margin: 0 auto; padding: 0 8px; font-family: sans-serif">')
    widget = BrowserLatentMap(RESULTS, static="_static/")._repr_html_()
    (folder / "index.html").write_text(head + widget + "</body></html>")
    (folder / "parity.html").write_text(head + '<script src="_static/lib/aae-nn.js"></script></body></html>')
    return folder


@pytest.fixture(scope="module")
def http(site):
    with serve(site) as base:
        yield base


def open_map(browser, base, **page):
    visit = Requests(browser, base, **page)
    page = visit.open("index.html")
    page.wait_for_selector(f"{MAP}[data-ready=true]", timeout=30000)
    return visit, page


def panel(page, kind: str) -> str:
    return page.evaluate(f"document.querySelector('{MAP} .aae-panel[data-model={kind}] canvas').toDataURL()")


def decoded(page) -> str:
    return page.evaluate(f"document.querySelector('{MAP} canvas.aae-digit').toDataURL()")


def decodes(page) -> int:
    return int(page.evaluate(f"+(document.querySelector('{MAP}').dataset.decodes || 0)"))


def wait_for_decode(page, before: int) -> None:
    page.wait_for_function(f"+(document.querySelector('{MAP}').dataset.decodes || 0) > {before}", timeout=30000)


def click_code(page, kind: str, z: tuple[float, float]) -> None:
    """A click in `kind`'s panel at code z (the panel spans the map's range on both axes)."""
    low, high = page.evaluate(f"document.querySelector('{MAP}').aaeLatent.range")
    box = page.locator(f"{MAP} .aae-panel[data-model={kind}] canvas").bounding_box()
    page.mouse.click(box["x"] + (z[0] - low) / (high - low) * box["width"],
                     box["y"] + (high - z[1]) / (high - low) * box["height"])


# --------------------------------------------------------------------------- the maths: parity with torch
def test_javascript_decoders_match_torch(browser, http):
    epochs = read_latent_map(STATIC / "models" / "demo-2d")["epochs"]
    gen = torch.Generator().manual_seed(3)
    z = torch.cat([torch.tensor([[4.0, 0.0], [0.0, 0.0], [-5.5, 5.5]]), 3 * torch.randn(17, 2, generator=gen)])
    visit = Requests(browser, http)
    page = visit.open("parity.html")
    worst = {}
    for kind in KINDS:
        run = DemoRun(RESULTS / kind)
        for epoch in epochs:
            out = page.evaluate(f"""async ([src, zs]) => {{
                const decoder = await ({NETWORK})(src);
                return Array.from(decoder.forward(Float32Array.from(zs.flat()), zs.length)); }}""",
                                [f"_static/models/demo-2d/{decoder_script(kind, epoch)}", z.tolist()])
            with torch.no_grad():
                expected = run.snapshot_decoder(epoch)(z)
            worst[(kind, epoch)] = (torch.tensor(out).view_as(expected) - expected).abs().max().item()
    print("latent map decoders, JavaScript against torch (fp16 weights, fp32 arithmetic), largest pixel "
          f"difference over {len(worst)} decoders and {len(z)} codes: {max(worst.values()):.1e}")
    assert max(worst.values()) < 1e-4, worst
    assert visit.problems == [], visit.problems


def test_the_codes_script_holds_the_runs_codes():
    exported = read_latent_map(STATIC / "models" / "demo-2d")
    assert exported["codes"].keys() == KINDS.keys() and len(exported["labels"]) == exported["codes"]["aae"].shape[1]
    for kind in KINDS:
        snapshots = DemoRun(RESULTS / kind).snapshots()
        for i, epoch in enumerate(exported["epochs"]):
            assert torch.equal(torch.from_numpy(exported["codes"][kind][i]), snapshots["codes"][epoch])


def test_the_widget_emits_html_and_a_png_fallback():
    widget = BrowserLatentMap(RESULTS)
    html = widget._repr_html_()
    assert 'data-widget="latent"' in html and "../_static/models/demo-2d/" in html and "lib/aae-nn.js" in html
    assert widget._repr_png_().startswith(b"\x89PNG")


# --------------------------------------------------------------------------- what a reader sees happen
def test_the_epoch_slider_changes_the_map(browser, http):
    visit, page = open_map(browser, http)
    epochs = page.evaluate(f"document.querySelector('{MAP}').aaeLatent.epochs")
    assert page.get_attribute(MAP, "data-epoch") == str(epochs[-1])
    panels, image = {kind: panel(page, kind) for kind in KINDS}, decoded(page)
    slider = page.locator(f"{MAP} input[type=range]")
    slider.focus()
    before = decodes(page)
    page.keyboard.press("Home")  # the first stored epoch
    page.wait_for_function(f"document.querySelector('{MAP}').dataset.epoch === '{epochs[0]}'")
    wait_for_decode(page, before)
    assert page.locator(f"{MAP} .aae-epoch-out").inner_text() == str(epochs[0])
    assert all(panel(page, kind) != panels[kind] for kind in KINDS), "every panel moves with the slider"
    assert decoded(page) != image, "the marked point is decoded by the decoder of that epoch"
    assert visit.loaded(decoder_script("aae", epochs[0])) and not visit.loaded(decoder_script("vae", epochs[0]))
    assert visit.problems == [] and all(u.startswith(http) for u in visit.urls), (visit.problems, visit.urls)


def test_clicking_two_far_apart_points_decodes_two_images(browser, http):
    visit, page = open_map(browser, http)
    images = []
    for z in ((4.0, 0.0), (-4.0, 0.0)):  # two components of the prior, opposite on the ring
        before = decodes(page)
        click_code(page, "aae", z)
        wait_for_decode(page, before)
        marked = page.evaluate(f"document.querySelector('{MAP}').aaeLatent.state.z")
        assert marked == pytest.approx(z, abs=0.1)
        images.append(page.evaluate(f"Array.from(document.querySelector('{MAP}').aaeLatent.pixels())"))
    difference = max(abs(a - b) for a, b in zip(*images))
    assert difference > 0.5, "two far-apart codes decode to different images"
    readout = page.inner_text(f"{MAP} .aae-readout")
    assert readout.startswith("The adversarial autoencoder after epoch") and "z = (\u2212" in readout
    # a drag moves the point with the pointer
    box = page.locator(f"{MAP} .aae-panel[data-model=aae] canvas").bounding_box()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + 0.3 * box["height"], steps=6)
    page.mouse.up()
    low, high = page.evaluate(f"document.querySelector('{MAP}').aaeLatent.range")
    dragged = page.evaluate(f"document.querySelector('{MAP}').aaeLatent.state.z")
    assert dragged == pytest.approx([low + 0.8 * (high - low), high - 0.3 * (high - low)], abs=0.1)
    assert visit.problems == [], visit.problems


def test_the_model_switch_changes_the_image(browser, http):
    visit, page = open_map(browser, http)
    last = page.evaluate(f"document.querySelector('{MAP}').aaeLatent.epochs").pop()
    assert visit.loaded(decoder_script("vae", last)) == [], "another model's decoder loads only when asked"
    aae = decoded(page)
    page.locator(f"{MAP} .aae-switch button[data-model=vae]").click()
    page.wait_for_selector(f"{MAP}[data-model=vae]", state="attached")
    page.wait_for_function(f"document.querySelector('{MAP} .aae-readout').textContent.includes('variational')",
                           timeout=30000)
    assert decoded(page) != aae
    assert page.get_attribute(f"{MAP} .aae-panel[data-model=vae]", "class") == "aae-panel aae-picked"
    assert len(visit.loaded(decoder_script("vae", last))) == 1
    # a click in another model's panel picks that model
    before = decodes(page)
    click_code(page, "autoencoder", (0.0, 0.0))
    wait_for_decode(page, before)
    assert page.get_attribute(MAP, "data-model") == "autoencoder"
    assert page.locator(f"{MAP} .aae-switch button[data-model=autoencoder]").get_attribute("aria-pressed") == "true"
    assert visit.problems == [], visit.problems


def test_touch_at_390_px(browser, http):
    visit, page = open_map(browser, http, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                           device_scale_factor=2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the map is wider than the phone"
    shown = f"[...document.querySelectorAll('{MAP} .aae-panel')].filter(p => p.offsetWidth).map(p => p.dataset.model)"
    assert page.evaluate(shown) == ["aae"], "on a phone the picked panel alone shows"
    # taps first: after a drag, Chromium may not call a tap a click
    page.tap(f"{MAP} .aae-switch button[data-model=autoencoder]")
    page.wait_for_selector(f"{MAP}[data-model=autoencoder]", state="attached")
    assert page.evaluate(shown) == ["autoencoder"]
    page.tap(f"{MAP} .aae-switch button[data-model=aae]")
    page.wait_for_selector(f"{MAP}[data-model=aae]", state="attached")
    page.locator(f"{MAP} .aae-panel[data-model=aae] canvas").scroll_into_view_if_needed()
    page.wait_for_timeout(100)
    before, image = decodes(page), decoded(page)
    touch_stroke(page, f"{MAP} .aae-panel[data-model=aae] canvas", [(0.8, 0.5), (0.3, 0.25)])
    wait_for_decode(page, before)
    z = page.evaluate(f"document.querySelector('{MAP}').aaeLatent.state.z")
    low, high = page.evaluate(f"document.querySelector('{MAP}').aaeLatent.range")
    assert z == pytest.approx([low + 0.3 * (high - low), high - 0.25 * (high - low)], abs=0.15)
    page.wait_for_timeout(100)
    assert decoded(page) != image
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert visit.problems == [], visit.problems


def test_works_from_file_urls(browser, site):
    visit, page = open_map(browser, site.as_uri() + "/")
    before = decodes(page)
    click_code(page, "vae", (1.0, -2.0))
    wait_for_decode(page, before)
    assert page.get_attribute(MAP, "data-model") == "vae"
    assert visit.problems == [], visit.problems


def test_page_weight_and_decode_time(browser, http):
    visit, page = open_map(browser, http)
    page.wait_for_timeout(300)
    with_page = sum(visit.sizes.get(u, 0) for u in visit.urls if "/_static/" in u)
    times = page.evaluate(f"""async () => {{
        const median = a => a.sort((p, q) => p - q)[a.length >> 1];
        const map = document.querySelector('{MAP}').aaeLatent;
        const net = await ({NETWORK})("_static/models/demo-2d/aae-epoch-" + map.epochs.at(-1) + ".js");
        const z = Float32Array.from([1.5, -2.5]);
        const time = (f, n) => {{ f(); f(); const t = []; for (let i = 0; i < n; i++) {{
            const s = performance.now(); f(); t.push(performance.now() - s); }} return median(t); }};
        return {{decode: time(() => net.forward(z, 1), 51)}};
    }}""")
    map_ms = float(page.get_attribute(MAP, "data-map-ms"))
    folder = STATIC / "models" / "demo-2d"
    map_files = sum(p.stat().st_size for p in folder.iterdir())
    trainer = sum(p.stat().st_size for p in (STATIC / "train").iterdir())
    chapter = (map_files + trainer + sum((STATIC / "widgets" / f"aae-latent.{ext}").stat().st_size for ext in ("js", "css"))
               + (STATIC / "lib" / "aae-nn.js").stat().st_size + (STATIC / "diagrams" / "aae.svg").stat().st_size)
    print(f"latent map: {with_page / 1e6:.2f} MB with the page ({CODES_SCRIPT} and one decoder), "
          f"{map_files / 1e6:.2f} MB in all ({len(list(folder.iterdir()))} files); chapter 1's own "
          f"scripts, data and diagram {chapter / 1e6:.2f} MB")
    print(f"latent map times in headless Chromium: decode {times['decode']:.2f} ms (median), "
          f"three panels drawn in {map_ms:.1f} ms")
    assert chapter <= CHAPTER_BUDGET and with_page <= 10**6
    assert times["decode"] < 100
    assert visit.problems == [], visit.problems


def test_the_built_chapter_mounts_the_map_beside_the_trainer(browser):
    """Chapter 1 loads the library twice (the trainer's own tag, the map's bootstrap): the map must
    mount whichever copy runs first, and the trainer must start."""
    html = ROOT / "_build" / "html"
    if not (html / "book" / "01_background.html").exists():
        pytest.skip("no built book (python tools/build_book.py)")
    with serve(html) as base:
        visit = Requests(browser, base)
        page = visit.open("book/01_background.html")
        page.wait_for_selector(f"{MAP}[data-ready=true]", timeout=30000)
        page.wait_for_selector(".aae-trainer canvas", timeout=30000)
        assert visit.problems == [] and all(u.startswith(base) for u in visit.urls), visit.problems

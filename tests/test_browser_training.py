"""Chapter 1's in-page trainer (book/_static/train/) in Chromium, offline, over http and file://.

The page is the HTML chapter 1 emits (`BrowserTrainer`), written next to a copy of the shipped
scripts. One JavaScript step must be a torch step of the same network (chapter 1's Trainer phases,
same weights and batch) to 1e-5; a seed must fix the first hundred steps; the controls must change
what the page says; and 3,000 steps with the adversary must pull most held-out codes onto the
mixture prior, which they do not reach without it.
"""
from __future__ import annotations

import shutil
import time

import pytest
import torch

from aae_core.chapters.browser_training import (
    DIGITS_SCRIPT, PAGE, STATIC, BrowserTrainer, browser_digits, downsample, read_digits_script, sample_page_prior,
    torch_model,
)
from aae_core.config import TrainConfig
from aae_core.data import SemiSupervisedData
from aae_core.train import PlainUpdater, Trainer
from browser import Visit, serve
from conftest import ROOT

TRAINER = ".aae-trainer"
HANDLE = "document.querySelector('.aae-trainer').aaeTrainer"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A page holding what chapter 1 emits, with the shipped scripts beside it in train/."""
    folder = tmp_path_factory.mktemp("trainer-site")
    shutil.copytree(STATIC, folder / "train")
    shutil.copytree(STATIC.parent / "lib", folder / "lib")  # the book's layer library
    (folder / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        'initial-scale=1"></head>'
        '<body style="max-width: 760px; margin: 0 auto; padding: 0 8px; font-family: sans-serif">'
        f'{BrowserTrainer(static="train/")._repr_html_()}</body></html>')
    return folder


@pytest.fixture(scope="module")
def http(site):
    with serve(site) as base:
        yield base


def open_trainer(browser, base: str) -> tuple[Visit, object]:
    visit = Visit(browser, base)
    page = visit.open("index.html")
    page.wait_for_selector(f"{TRAINER}[data-ready=true]", timeout=20000)
    return visit, page


def state(page) -> dict:
    """The trainer's state after every message sent before (codes left out unless needed)."""
    return page.evaluate(f"{HANDLE}.state().then(s => {{ delete s.codes; delete s.labels; return s; }})")


def wait_for_step(page, step: int, timeout_s: float = 120) -> None:
    page.wait_for_function(f"+document.querySelector('{TRAINER}').dataset.step >= {step} && "
                           f"document.querySelector('{TRAINER}').dataset.playing === 'false'",
                           timeout=timeout_s * 1000, polling=200)


# --------------------------------------------------------------------------- the data file
def test_downsample_averages_2x2_blocks():
    image = torch.zeros(1, 784)
    image[0, 0], image[0, 1], image[0, 28], image[0, 29] = 1.0, 1.0, 1.0, 0.0  # top-left block: 3 of 4 inked
    small = downsample(image)
    assert small.shape == (1, 196) and small.dtype == torch.uint8
    assert small[0, 0] == 191 and small[0, 1:].eq(0).all()  # 255 * 3/4 = 191.25


def test_shipped_digits_are_the_projects_split(mnist):
    shipped, expected = read_digits_script(), browser_digits(mnist)
    assert all(torch.equal(shipped[k], expected[k]) for k in expected)
    assert shipped["train_images"].shape == (2000, 196) and shipped["val_images"].shape == (500, 196)
    assert shipped["val_labels"].bincount().min() >= 30  # every digit among the held-out ones
    assert (STATIC / DIGITS_SCRIPT).stat().st_size < 2**20


def test_the_widget_html_loads_its_scripts_and_has_a_png_fallback():
    widget = BrowserTrainer(static="../_static/train/")
    html = widget._repr_html_()
    for script in (DIGITS_SCRIPT, "aae-train-core.js", "aae-train.js"):
        assert f'src="../_static/train/{script}"' in html
    assert 'src="../_static/lib/aae-nn.js"' in html
    assert widget._repr_png_().startswith(b"\x89PNG")


# --------------------------------------------------------------------------- the maths: parity with torch
def torch_trainer(model, images: torch.Tensor) -> Trainer:
    """Chapter 1's Trainer on the page's network, with the page's learning rates and betas."""
    cfg = TrainConfig(labels=0, seed=0, preset="adamw", batch_size=PAGE.batch, device="cpu", z_prior="mixture",
                      prior_std=PAGE.prior_std, noise_std=PAGE.noise_std).check(unsupervised=True)
    none = torch.zeros(0, dtype=torch.long)
    data = SemiSupervisedData(images, images[:0], none, images[:8], none[:0], images[:8], none[:0])
    trainer = Trainer(model, cfg, data, device="cpu", progress=False, updater=PlainUpdater)  # the textbook step
    for optimizer in trainer.optimizers.values():
        for group in optimizer.param_groups:
            group.update(lr=PAGE.lr, betas=PAGE.betas, weight_decay=PAGE.weight_decay)
    return trainer


JS_STEP = """([x, xIn, prior, n]) => {
    const r = M.trainStep(Float32Array.from(x), Float32Array.from(xIn), Float32Array.from(prior), n, true);
    const out = {losses: r.losses, weights: {}};
    for (const phase of ["reconstruction", "discriminator", "generator"]) {
        out[phase] = {};
        for (const name in r[phase]) out[phase][name] = Array.from(r[phase][name]);
    }
    const w = M.getWeights();
    for (const name in w) out.weights[name] = Array.from(w[name]);
    return out;
}"""


def differences(js: dict, reference: dict) -> tuple[float, float]:
    """Largest absolute difference, and largest relative one where torch's value is not tiny."""
    worst_abs = worst_rel = 0.0
    for name, expected in reference.items():
        got = torch.tensor(js[name]).view_as(expected)
        diff = (got - expected).abs()
        worst_abs = max(worst_abs, diff.max().item())
        big = expected.abs() > 1e-3
        if big.any():
            worst_rel = max(worst_rel, (diff[big] / expected.abs()[big]).max().item())
    return worst_abs, worst_rel


def test_one_javascript_step_is_a_torch_step(browser, http):
    torch.manual_seed(0)
    model = torch_model()
    start = {name: value.clone() for name, value in model.state_dict().items()}
    digits = read_digits_script()["train_images"].float() / 255
    trainer = torch_trainer(model, digits)
    params = dict(model.named_parameters())
    gen = torch.Generator().manual_seed(1)
    visit, page = open_trainer(browser, http)
    page.evaluate("""w => { window.M = new AAETrain.Model({});
        const f = {}; for (const k in w) f[k] = Float32Array.from(w[k]); M.setWeights(f); }""",
                  {name: value.flatten().tolist() for name, value in start.items()})
    worst = {}
    for step in range(3):  # Adam's first update hardly depends on the gradient's size: check later ones too
        x = digits[step * PAGE.batch:(step + 1) * PAGE.batch]
        x_in = trainer.add_noise(x)
        prior = sample_page_prior("mixture", PAGE.batch, gen)
        js = page.evaluate(JS_STEP, [x.flatten().tolist(), x_in.flatten().tolist(), prior.flatten().tolist(),
                                     PAGE.batch])
        trainer.sample_prior = lambda code, n: prior  # the prior samples the page drew
        recon = trainer.reconstruction_phase(x_in, x)
        grads = {"reconstruction": {name: params[name].grad.clone() for name in js["reconstruction"]}}
        adversarial = trainer.regularization_phase(x_in)
        grads["discriminator"] = {name: params[name].grad.clone() for name in js["discriminator"]}
        grads["generator"] = {name: params[name].grad.clone() for name in js["generator"]}
        assert js["losses"]["recon"] == pytest.approx(recon.item(), rel=1e-5)
        assert js["losses"]["disc"] == pytest.approx(adversarial["disc_z"].item(), rel=1e-5)
        assert js["losses"]["gen"] == pytest.approx(adversarial["gen_z"].item(), rel=1e-5)
        for phase, reference in [*grads.items(), ("weights", model.state_dict())]:
            abs_diff, rel_diff = differences(js[phase], reference)
            worst[phase] = max(worst.get(phase, (0, 0)), (abs_diff, rel_diff))
            assert abs_diff < 1e-5, f"step {step + 1}, {phase}: JavaScript and torch differ by {abs_diff:.2e}"
    for phase, (abs_diff, rel_diff) in worst.items():
        print(f"{phase}: max abs difference {abs_diff:.1e}, max relative {rel_diff:.1e} (where |torch| > 1e-3)")
    assert visit.problems == [], visit.problems


def test_priors_are_the_pythons(browser, http):
    visit, page = open_trainer(browser, http)
    for name in ("mixture", "gaussian", "swissroll"):
        js = torch.tensor(page.evaluate(
            "name => Array.from(AAETrain.samplePrior(name, 20000, new AAETrain.Random(3, 9)))", name)).view(-1, 2)
        py = sample_page_prior(name, 20000, torch.Generator().manual_seed(3))
        radius, mean = (lambda z: z.norm(dim=1)), (lambda z: z.mean(dim=0).abs().max())
        for stat in (lambda z: radius(z).mean(), lambda z: radius(z).std(), mean):
            assert stat(js).item() == pytest.approx(stat(py).item(), abs=0.05), name
        within = page.evaluate("([name, z]) => AAETrain.withinTwoSigma(name, Float32Array.from(z), z.length / 2)",
                               [name, py.flatten().tolist()])
        assert within > 0.8, f"{name}: only {within:.0%} of the prior's own samples within 2 sigma"
    assert visit.problems == [], visit.problems


# --------------------------------------------------------------------------- the page
def test_page_trains_in_a_worker_fast_enough(browser, http):
    visit, page = open_trainer(browser, http)
    assert page.get_attribute(TRAINER, "data-engine") == "worker"
    page.click(".aat-play")
    page.wait_for_timeout(6000)
    page.click(".aat-play")  # pause
    page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.playing === 'false'")
    s = state(page)
    print(f"in-page training: {s['stepsPerSecond']:.0f} steps per second at batch {PAGE.batch} "
          f"({s['step']} steps, views redrawn as they came)")
    assert s["stepsPerSecond"] >= 10 and s["step"] >= 60
    assert s["finite"] and s["historyLength"] == s["step"]
    assert 0 <= s["share"] <= 1
    assert f"step {s['step']:,}" in page.inner_text(".aat-status")
    assert visit.problems == [], visit.problems


def test_play_for_a_fixed_number_of_steps_and_read_the_state(browser, http):
    visit, page = open_trainer(browser, http)
    page.evaluate(f"{HANDLE}.play(150)")
    wait_for_step(page, 150)
    s = state(page)
    assert s["step"] == 150 and not s["playing"] and s["finite"]
    assert all(s["losses"][k] > 0 for k in ("recon", "disc", "gen"))
    assert f"{round(100 * s['share'])}% of held-out codes" in page.inner_text(".aat-share")
    assert visit.problems == [], visit.problems


def test_a_seed_fixes_the_first_hundred_steps_over_http_and_file(browser, http, site):
    runs = []
    for base in (http, site.as_uri() + "/"):
        visit, page = open_trainer(browser, base)
        assert page.get_attribute(TRAINER, "data-engine") == "worker", base
        page.evaluate(f"{HANDLE}.step(100)")  # 100 steps in one go
        wait_for_step(page, 100)
        runs.append(state(page))
        page.click(".aat-reset")
        page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.step === '0'")
        page.evaluate(f"{HANDLE}.play(100)")  # the same 100 steps in slices, views drawn between them
        wait_for_step(page, 100)
        runs.append(state(page))
        assert visit.problems == [], visit.problems
    assert all(r["step"] == 100 for r in runs)
    assert len({r["digest"] for r in runs}) == 1, [r["digest"] for r in runs]
    assert len({r["lossSums"]["recon"] for r in runs}) == 1


def test_trains_in_the_page_where_workers_are_refused(browser, http):
    visit = Visit(browser, http)
    visit.page.add_init_script("window.Worker = function () { throw new Error('workers refused'); };")
    page = visit.open("index.html")
    page.wait_for_selector(f"{TRAINER}[data-ready=true]", timeout=20000)
    page.evaluate(f"{HANDLE}.step(5)")
    wait_for_step(page, 5)
    assert page.get_attribute(TRAINER, "data-engine") == "page"
    assert state(page)["finite"]
    assert visit.problems == [], visit.problems


def canvas(page, selector: str = ".aat-codes") -> str:
    return page.evaluate(f"document.querySelector('{TRAINER} {selector}').toDataURL()")


def test_controls_change_what_the_page_says(browser, http):
    visit, page = open_trainer(browser, http)
    first = state(page)
    assert first["step"] == 0 and first["options"]["adversary"] and first["options"]["prior"] == "mixture"
    page.click(".aat-step")
    page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.step === '1'")
    page.click(".aat-step")
    page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.step === '2'")
    assert "step 2" in page.inner_text(".aat-status")
    # the adversary off: a plain autoencoder, no adversarial losses, and the page says so
    page.uncheck(".aat-adversary")
    page.click(".aat-step")
    page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.step === '3'")
    s = state(page)
    assert page.get_attribute(TRAINER, "data-adversary") == "false" and not s["options"]["adversary"]
    assert s["losses"]["disc"] is None or s["losses"]["disc"] != s["losses"]["disc"]  # NaN: no D step
    assert "adversary off" in page.inner_text(".aat-share")
    page.check(".aat-adversary")
    # another prior: other samples in code space, another share, another sentence
    before = canvas(page)
    page.select_option(".aat-prior", "swissroll")
    page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.prior === 'swissroll'")
    assert canvas(page) != before and "swiss roll" in page.inner_text(".aat-share")
    page.select_option(".aat-lr-disc", "0.1")
    assert state(page)["options"]["lrDisc"] == pytest.approx(0.1)
    # clicking code space decodes that point
    before = canvas(page, ".aat-decoded")
    page.click(".aat-codes", position={"x": 60, "y": 60})
    page.wait_for_function(f"document.querySelector('{TRAINER} .aat-probe').textContent.includes('Decoded at')")
    assert canvas(page, ".aat-decoded") != before
    # reset restores step 0 and the first weights (the seed's)
    page.click(".aat-reset")
    page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.step === '0'")
    s = state(page)
    assert s["step"] == 0 and s["historyLength"] == 0 and s["digest"] == first["digest"]
    assert "step 0" in page.inner_text(".aat-status")
    assert visit.problems == [], visit.problems


class Phone:
    """A browser whose new pages are a 390 px wide touch screen (for tests.browser.Visit)."""

    def __init__(self, browser):
        self.browser = browser

    def new_page(self, **kwargs):
        return self.browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                     device_scale_factor=2)


def test_works_at_390_px_with_touch(browser, http):
    visit, page = open_trainer(Phone(browser), http)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the trainer is wider than the phone"
    width = page.evaluate(f"document.querySelector('{TRAINER} .aat-codes').getBoundingClientRect().width")
    assert 250 <= width <= 390
    page.tap(".aat-play")
    page.wait_for_function(f"+document.querySelector('{TRAINER}').dataset.step >= 20", timeout=30000)
    page.tap(".aat-play")
    page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.playing === 'false'")
    page.tap(".aat-codes", position={"x": 40, "y": 40})
    page.wait_for_function(f"document.querySelector('{TRAINER} .aat-probe').textContent.includes('Decoded at')")
    page.tap(".aat-reset")
    page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.step === '0'")
    assert visit.problems == [], visit.problems


# --------------------------------------------------------------------------- what a reader should see happen
def test_the_adversary_pulls_held_out_codes_onto_the_prior(browser, http):
    """3,000 steps, mixture prior, the page's default seed: with the adversary and without (in parallel)."""
    pages = {}
    for adversary in (True, False):
        visit, page = open_trainer(browser, http)
        page.evaluate(f"{HANDLE}.set({{adversary: {str(adversary).lower()}, prior: 'mixture'}}); {HANDLE}.play(3000)")
        pages[adversary] = (visit, page)
    start, shares = time.perf_counter(), {}
    for adversary, (visit, page) in pages.items():
        wait_for_step(page, 3000, timeout_s=900)
        s = state(page)
        assert s["step"] == 3000 and s["finite"] and s["options"]["adversary"] == adversary
        shares[adversary] = s["share"]
        assert visit.problems == [], visit.problems
    print(f"after 3,000 steps ({time.perf_counter() - start:.0f} s, two pages at once): held-out codes within "
          f"2 sigma of a mixture component: {shares[True]:.1%} with the adversary, {shares[False]:.1%} without")
    assert shares[True] >= 0.6 and shares[False] < 0.3


# --------------------------------------------------------------------------- the built book, when there is one
BOOK = ROOT / "_build" / "html"


@pytest.mark.skipif(not (BOOK / "book" / "01_background.html").exists(), reason="no built book (make test builds it)")
def test_chapter_1_trains_in_the_built_book(browser):
    with serve(BOOK) as base:
        visit, page = Visit(browser, base), None
        page = visit.open("book/01_background.html")
        page.wait_for_selector(f"{TRAINER}[data-ready=true]", timeout=20000)
        page.click(".aat-step")
        page.wait_for_function(f"document.querySelector('{TRAINER}').dataset.step === '1'")
        loaded = page.evaluate("[...document.scripts].map(s => s.src).filter(s => s.includes('/_static/train/'))")
        assert len(loaded) == 3, loaded  # once each: the output cell's tags, not also Jupyter Book's
        other = visit.open("book/02_method.html")
        assert other.evaluate("[...document.scripts].filter(s => s.src.includes('/_static/train/')).length") == 0
        assert visit.problems == [], visit.problems

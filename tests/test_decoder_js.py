"""The browser decoder (book/_static/decoder/aae-decoder.js) computes what the torch decoder does.

A decoder is exported with `export_decoder`, loaded by the real script in Chromium next to a
blank page, and decoded for fixed (y, z); its pixels must equal torch's within 1e-2 (fp16 weights
against fp32) and the fp16-rounded torch decoder's within 1e-4 (the JavaScript arithmetic itself).
"""
from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
import torch

from aae_core.chapters.export import export_decoder, MANIFEST, read_exported_weights, unpack_layer, WEIGHTS_SCRIPT
from aae_core.chapters.generate import generate
from aae_core.models import SemiSupervisedAAE
from browser import Visit, serve
from conftest import ROOT, TINY

SCRIPT = ROOT / "book" / "_static" / "decoder" / "aae-decoder.js"
SHIPPED = ROOT / "book" / "_static" / "decoder"


def fixed_inputs(n_classes: int, style_dim: int):
    gen = torch.Generator().manual_seed(7)
    digits = torch.arange(6) % n_classes
    return digits, 1.5 * torch.randn(6, style_dim, generator=gen)


def fp16_rounded(model: SemiSupervisedAAE) -> SemiSupervisedAAE:
    rounded = SemiSupervisedAAE(model.cfg)
    rounded.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    return rounded.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = SemiSupervisedAAE(replace(TINY, init_std=0)).eval()  # PyTorch init: larger weights
    folder = tmp_path_factory.mktemp("site")
    export_decoder(model, folder / "decoder", {"run": "test"})
    shutil.copy(SCRIPT, folder / "decoder")
    (folder / "index.html").write_text(
        '<!doctype html><html><body><script src="decoder/decoder-weights.js"></script>'
        '<script src="decoder/aae-decoder.js"></script></body></html>')
    return model, folder


def js_decode(browser, folder, digits, z):
    with serve(folder) as base:
        visit = Visit(browser, base)
        page = visit.open("index.html")
        pixels = page.evaluate("""([digits, zs]) => {
            const decoder = AAEDecoder.load(window.AAE_DECODER);
            return digits.map((d, i) => Array.from(AAEDecoder.decode(decoder, d, zs[i])));
        }""", [digits.tolist(), z.tolist()])
        assert visit.problems == [], visit.problems
    return torch.tensor(pixels)


def test_javascript_decoder_matches_torch(browser, exported):
    model, folder = exported
    digits, z = fixed_inputs(model.cfg.n_classes, model.cfg.style_dim)
    in_browser = js_decode(browser, folder, digits, z)
    assert in_browser.shape == (6, 784)
    assert (in_browser - generate(model, digits, z)).abs().max() < 1e-2
    assert (in_browser - generate(fp16_rounded(model), digits, z)).abs().max() < 1e-4
    assert (in_browser[0] - in_browser[1]).abs().max() > 1e-3  # different inputs, different digits


def test_export_round_trips_the_fp16_weights(exported):
    model, folder = exported
    manifest, buffer = read_exported_weights(folder / "decoder")
    first = manifest["layers"][0]
    weight = unpack_layer(buffer, first["weight"]).reshape(first["out"], first["in"])
    assert torch.equal(torch.from_numpy(weight), model.decoder[0].weight.detach().half().float())
    assert [layer["activation"] for layer in manifest["layers"]] == ["relu", "relu", "sigmoid"]
    assert (folder / "decoder" / MANIFEST).exists() and manifest["weights_bytes"] == len(buffer)


def test_shipped_decoder_is_the_named_run_and_small():
    from aae_core import load_checkpoint

    manifest, buffer = read_exported_weights(SHIPPED)
    assert manifest["weights_bytes"] <= 4 * 2**20, "the browser decoder must stay at 4 MiB of fp16 or less"
    model = load_checkpoint(ROOT / manifest["source"]["run"])
    for layer, linear in zip(manifest["layers"], [m for m in model.decoder if isinstance(m, torch.nn.Linear)]):
        weight = unpack_layer(buffer, layer["weight"]).reshape(layer["out"], layer["in"])
        assert torch.equal(torch.from_numpy(weight), linear.weight.detach().half().float())


def test_export_refuses_a_model_without_y(tmp_path):
    from aae_core.errors import AAEError

    with pytest.raises(AAEError, match="no y code"):
        export_decoder(SemiSupervisedAAE(replace(TINY, n_classes=0)), tmp_path, {})

"""The decoder for the browser: fp16 weights and a JSON manifest that a few lines of JavaScript read.

The static book has no Python kernel, so chapter 4's style explorer decodes (y, z) in the page
itself (`book/_static/decoder/aae-decoder.js`). Browsers refuse `fetch` on `file://` pages, so the
weights travel inside a script, `decoder-weights.js`, that assigns them (base64 of little-endian
fp16) with their manifest to `window.AAE_DECODER`; `manifest.json` holds the same manifest for
tools and tests.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from .errors import AAEError
from .models import SemiSupervisedAAE
from .runs import RunFolder, atomic_write

WEIGHTS_SCRIPT = "decoder-weights.js"
MANIFEST = "manifest.json"
FORMAT = "aae-decoder/1"


def decoder_layers(model: SemiSupervisedAAE) -> list[tuple[torch.nn.Linear, str]]:
    """The decoder's linear layers with the activation after each: relu, relu, sigmoid."""
    linears = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
    return [(layer, "sigmoid" if i == len(linears) - 1 else "relu") for i, layer in enumerate(linears)]


def pack_decoder(model: SemiSupervisedAAE) -> tuple[bytes, list[dict]]:
    """All weights and biases as one little-endian fp16 buffer, and where each layer's values are.

    A weight is stored as torch keeps it, (out, in) row-major, so output j reads a contiguous row.
    """
    chunks, layers, offset = [], [], 0
    for layer, activation in decoder_layers(model):
        entry = {"in": layer.in_features, "out": layer.out_features, "activation": activation}
        for name in ("weight", "bias"):
            values = getattr(layer, name).detach().cpu().to(torch.float16).numpy().astype("<f2").ravel()
            chunks.append(values.tobytes())
            entry[name] = [offset, values.size]  # offset and count, in fp16 elements
            offset += values.size
        layers.append(entry)
    return b"".join(chunks), layers


def unpack_layer(buffer: bytes, span: list[int]) -> np.ndarray:
    """The fp32 values of one [offset, count] span of a packed buffer (the inverse of pack_decoder)."""
    offset, count = span
    return np.frombuffer(buffer, dtype="<f2", count=count, offset=2 * offset).astype(np.float32)


def export_decoder(model: SemiSupervisedAAE, out: str | Path, source: dict) -> dict:
    """Write decoder-weights.js and manifest.json into `out`; returns the manifest."""
    if not model.cfg.n_classes:
        raise AAEError("this model has no y code: only a semi-supervised AAE's decoder can be explored")
    out = Path(out)
    RunFolder(out).ensure_writable()
    buffer, layers = pack_decoder(model)
    manifest = {
        "format": FORMAT, "dtype": "float16", "byte_order": "little",
        "n_classes": model.cfg.n_classes, "style_dim": model.cfg.style_dim, "image_shape": [28, 28],
        "layers": layers, "weights_bytes": len(buffer), "sha256": hashlib.sha256(buffer).hexdigest(),
        "source": source,
    }
    script = (f"// Written by `python -m aae_core export-decoder`; read by aae-decoder.js.\n"
              f"window.AAE_DECODER = {{\"manifest\": {json.dumps(manifest)},\n"
              f"\"weights\": \"{base64.b64encode(buffer).decode('ascii')}\"}};\n")
    atomic_write(out / WEIGHTS_SCRIPT, lambda tmp: Path(tmp).write_text(script))
    atomic_write(out / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n"))
    return manifest


def read_exported_weights(folder: str | Path) -> tuple[dict, bytes]:
    """The manifest and the fp16 buffer of an exported decoder (what the browser decodes)."""
    text = (Path(folder) / WEIGHTS_SCRIPT).read_text()
    bundle = json.loads(text[text.index("{"): text.rindex("}") + 1])
    return bundle["manifest"], base64.b64decode(bundle["weights"])


class BrowserExplorer:
    """The style explorer as page content: a canvas, digit buttons and sliders that run the exported
    decoder in the reader's browser (no kernel). `static` is the decoder folder as the page sees it.

    Its HTML needs trusted output in Jupyter (scripts run); elsewhere the PNG shows the digits at z = 0.
    """

    _count = 0

    def __init__(self, model: SemiSupervisedAAE, static: str = "../_static/decoder/", slider_range: float = 3.0):
        self.model, self.static, self.slider_range = model, static.rstrip("/") + "/", slider_range
        BrowserExplorer._count += 1
        self.element_id = f"aae-explorer-{BrowserExplorer._count}"

    def _repr_html_(self) -> str:
        return (f'<div class="aae-explorer" id="{self.element_id}" data-range="{self.slider_range:g}">'
                f'<noscript>The style explorer needs JavaScript.</noscript></div>\n'
                f'<script src="{self.static}{WEIGHTS_SCRIPT}"></script>\n'
                f'<script src="{self.static}aae-decoder.js"></script>\n'
                f'<script>AAEDecoder.mount(document.getElementById("{self.element_id}"), window.AAE_DECODER);</script>')

    def _repr_png_(self) -> bytes:
        import io

        from .generate import generate
        from .plots import image_grid

        digits = torch.arange(self.model.cfg.n_classes)
        images = generate(self.model, digits, torch.zeros(len(digits), self.model.cfg.style_dim))
        buffer = io.BytesIO()
        image_grid(images, n_cols=len(digits), title="every digit at z = 0 (the live explorer needs the HTML book)",
                   col_labels=[str(d) for d in digits.tolist()]).savefig(buffer, format="png", dpi=80)
        return buffer.getvalue()

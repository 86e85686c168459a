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

from ..errors import AAEError
from ..models import SemiSupervisedAAE
from ..provenance import git_commit
from ..runs import (LOCK, RunFolder, atomic_write, exclusive, load_checkpoint, make_folder, probe_writable,
                    refuse_to_overwrite)

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


def export_decoder(model: SemiSupervisedAAE, out: str | Path, source: dict, force: bool = False) -> dict:
    """Write decoder-weights.js and manifest.json into `out` (replacing an earlier export only with
    `force`; the folder may hold other files, such as the explorer's script); returns the manifest."""
    if not model.cfg.n_classes:
        raise AAEError("this model has no y code: only a semi-supervised AAE's decoder can be explored")
    out = Path(out)
    for name in (WEIGHTS_SCRIPT, MANIFEST):
        refuse_to_overwrite(out / name, force)
    probe_writable(out)
    make_folder(out)
    with exclusive(out / LOCK, f"{out}"):
        return write_decoder(model, out, source)


def write_decoder(model: SemiSupervisedAAE, out: Path, source: dict) -> dict:
    """The work of export_decoder, in a checked and locked folder."""
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


def export_run_decoder(run_path: str | Path, out: str | Path, force: bool = False) -> dict:
    """export_decoder for a run folder (or model.pt), with where the weights came from in the manifest."""
    model = load_checkpoint(run_path, "cpu")
    run = RunFolder(run_path)
    source = {"run": str(run_path), "exported_at_commit": git_commit()}
    if run.finished:
        summary = run.summary()
        source.update({k: getattr(summary, k) for k in ("preset", "labels", "epochs", "steps", "test_accuracy",
                                                         "git_commit")})
        source["prior_std"] = run.train_config().prior_std
    return export_decoder(model, out, source, force)


def read_exported_weights(folder: str | Path) -> tuple[dict, bytes]:
    """The manifest and the fp16 buffer of an exported decoder (what the browser decodes)."""
    text = (Path(folder) / WEIGHTS_SCRIPT).read_text()
    bundle = json.loads(text[text.index("{"): text.rindex("}") + 1])
    return bundle["manifest"], base64.b64decode(bundle["weights"])

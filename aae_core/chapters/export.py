"""The model for the browser: the encoder's and the decoder's fp16 weights in scripts a page loads.

The static book has no Python kernel, so chapter 4's live figures run the networks in the page
itself (`book/_static/lib/aae-nn.js`). Browsers refuse `fetch` on `file://` pages, so each network
travels inside a script, `encoder-weights.js` or `decoder-weights.js`, that files its weights
(base64 of little-endian fp16) with the model's manifest in `window.AAE_WEIGHTS` under the script's
own URL. A page loads the network it needs when it needs it; `manifest.json` holds the same manifest
for tools and tests.

The encoder's two heads (y logits and z, both read from the trunk's last layer) are stored as one
layer whose first `n_classes` outputs are the logits: the page then runs both networks as plain
stacks of layers.
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
from ..runs.files import LOCK, atomic_write, exclusive, make_folder, probe_writable, refuse_to_overwrite
from ..runs.folder import RunFolder
from ..runs.weights import load_checkpoint

SCRIPTS = {"encoder": "encoder-weights.js", "decoder": "decoder-weights.js"}
WEIGHTS_SCRIPT = SCRIPTS["decoder"]
MANIFEST = "manifest.json"
FORMAT = "aae-model/2"


def linears(sequential: torch.nn.Sequential) -> list[torch.nn.Linear]:
    return [m for m in sequential if isinstance(m, torch.nn.Linear)]


def network_layers(model: SemiSupervisedAAE, part: str) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """(weight (out, in), bias, activation) of each layer of the encoder or the decoder, in order.

    decoder: relu, relu, sigmoid.  encoder: relu, relu, then head_y and head_z as one linear layer.
    """
    if part == "decoder":
        layers = linears(model.decoder)
        return [(l.weight, l.bias, "sigmoid" if i == len(layers) - 1 else "relu") for i, l in enumerate(layers)]
    heads = (model.encoder.head_y, model.encoder.head_z)
    return [(l.weight, l.bias, "relu") for l in linears(model.encoder.trunk)] + [
        (torch.cat([h.weight for h in heads]), torch.cat([h.bias for h in heads]), "none")]


def pack(layers: list[tuple[torch.Tensor, torch.Tensor, str]]) -> tuple[bytes, list[dict]]:
    """All weights and biases as one little-endian fp16 buffer, and where each layer's values are.

    A weight is stored as torch keeps it, (out, in) row-major, so output j reads a contiguous row.
    """
    chunks, entries, offset = [], [], 0
    for weight, bias, activation in layers:
        entry = {"in": weight.shape[1], "out": weight.shape[0], "activation": activation}
        for name, tensor in (("weight", weight), ("bias", bias)):
            values = tensor.detach().cpu().to(torch.float16).numpy().astype("<f2").ravel()
            chunks.append(values.tobytes())
            entry[name] = [offset, values.size]  # offset and count, in fp16 elements
            offset += values.size
        entries.append(entry)
    return b"".join(chunks), entries


def unpack_layer(buffer: bytes, span: list[int]) -> np.ndarray:
    """The fp32 values of one [offset, count] span of a packed buffer (the inverse of pack)."""
    offset, count = span
    return np.frombuffer(buffer, dtype="<f2", count=count, offset=2 * offset).astype(np.float32)


def export_model(model: SemiSupervisedAAE, out: str | Path, source: dict, force: bool = False) -> dict:
    """Write encoder-weights.js, decoder-weights.js and manifest.json into `out` (replacing an earlier
    export only with `force`; the folder may hold other files); returns the manifest."""
    if not model.cfg.n_classes:
        raise AAEError("this model has no y code: only a semi-supervised AAE can be explored")
    out = Path(out)
    for name in (*SCRIPTS.values(), MANIFEST):
        refuse_to_overwrite(out / name, force)
    probe_writable(out)
    make_folder(out)
    with exclusive(out / LOCK, f"{out}"):
        return write_model(model, out, source)


def write_model(model: SemiSupervisedAAE, out: Path, source: dict) -> dict:
    """The work of export_model, in a checked and locked folder."""
    nc, sd = model.cfg.n_classes, model.cfg.style_dim
    manifest = {"format": FORMAT, "dtype": "float16", "byte_order": "little", "n_classes": nc, "style_dim": sd,
                "image_shape": [28, 28], "source": source}
    buffers = {}
    for part, script in SCRIPTS.items():
        buffers[part], layers = pack(network_layers(model, part))
        manifest[part] = {"script": script, "layers": layers, "weights_bytes": len(buffers[part]),
                          "sha256": hashlib.sha256(buffers[part]).hexdigest()}
    manifest["encoder"]["outputs"] = {"y_logits": [0, nc], "z": [nc, nc + sd]}
    for part, script in SCRIPTS.items():
        text = (f"// Written by `python -m aae_core export-decoder`; read by lib/aae-nn.js.\n"
                f"(window.AAE_WEIGHTS = window.AAE_WEIGHTS || {{}})[document.currentScript.src] = "
                f"{{\"part\": \"{part}\", \"manifest\": {json.dumps(manifest)},\n"
                f"\"weights\": \"{base64.b64encode(buffers[part]).decode('ascii')}\"}};\n")
        atomic_write(out / script, lambda tmp, text=text: Path(tmp).write_text(text))
    atomic_write(out / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n"))
    return manifest


def export_run(run_path: str | Path, out: str | Path, force: bool = False) -> dict:
    """export_model for a run folder (or model.pt), with where the weights came from in the manifest."""
    model = load_checkpoint(run_path, "cpu")
    run = RunFolder(run_path)
    source = {"run": str(run_path), "exported_at_commit": git_commit()}
    if run.finished:
        summary = run.summary()
        source.update({k: getattr(summary, k) for k in ("preset", "labels", "epochs", "steps", "test_accuracy",
                                                         "git_commit")})
        source["prior_std"] = run.train_config().prior_std
    return export_model(model, out, source, force)


def read_exported_weights(folder: str | Path, part: str = "decoder") -> tuple[dict, bytes]:
    """The manifest and the fp16 buffer of an exported network (what the browser multiplies out)."""
    text = (Path(folder) / SCRIPTS[part]).read_text()
    bundle = json.loads(text[text.index("= {") + 2: text.rindex("}") + 1])
    return bundle["manifest"], base64.b64decode(bundle["weights"])

"""Chapter 1's latent map in the HTML book: the demo models' codes, epoch by epoch, and their decoders.

The static book has no kernel, so the map is page content (`book/_static/widgets/aae-latent.js`,
drawing with the book's library `lib/aae-nn.js`) that reads what `write_latent_map` exports from
the demo's run folders (results/demo-2d, see demo.py) into book/_static/models/demo-2d/:

    latent-map.js           window.AAE_LATENT_MAP: the stored epochs, the digits' labels (uint8), each
                            model's codes at each epoch (fp16, (epochs, n, 2)) and samples of the prior;
                            it loads with the page
    <model>-epoch-<E>.js    that model's decoder after epoch E, in export.py's format (fp16 weights
                            filed in window.AAE_WEIGHTS under the script's URL); each loads the first
                            time the reader decodes with it
    manifest.json           the same facts for tools and tests: files, sizes, runs and their commits

Scripts, not `fetch`: browsers refuse fetch on `file://` pages.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ..errors import AAEError
from ..losses import MIXTURE_RADIUS
from ..provenance import git_commit
from ..paths import check_path
from ..runs.files import LOCK, atomic_write, exclusive, make_folder, probe_writable
from .demo_figures import VIEW
from .demo_runs import DemoRun, load_demo
from .demo_training import KINDS, SHORT, prior_samples
from .explorers import BrowserWidget
from .export import pack

CODES_SCRIPT = "latent-map.js"
MANIFEST = "manifest.json"
FORMAT = "aae-latent-map/1"
DECODER_FORMAT = "aae-model/2"  # export.py's, with n_classes 0 and a 2-D code


def decoder_script(kind: str, epoch: int) -> str:
    return f"{kind}-epoch-{epoch}.js"


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def decoder_layers(decoder: torch.nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """(weight, bias, activation) of each linear layer: relu, relu, sigmoid."""
    linears = [m for m in decoder if isinstance(m, torch.nn.Linear)]
    return [(l.weight, l.bias, "sigmoid" if i == len(linears) - 1 else "relu") for i, l in enumerate(linears)]


def decoder_text(decoder: torch.nn.Sequential, source: dict) -> tuple[str, dict]:
    """The script of one decoder (export.py's format) and its manifest."""
    buffer, layers = pack(decoder_layers(decoder))
    manifest = {"format": DECODER_FORMAT, "dtype": "float16", "byte_order": "little", "n_classes": 0,
                "style_dim": layers[0]["in"], "image_shape": [28, 28], "source": source,
                "decoder": {"layers": layers, "weights_bytes": len(buffer),
                            "sha256": hashlib.sha256(buffer).hexdigest()}}
    text = ("// Written by `python -m aae_core demo-2d --export`; read by lib/aae-nn.js.\n"
            "(window.AAE_WEIGHTS = window.AAE_WEIGHTS || {})[document.currentScript.src] = "
            f"{{\"part\": \"decoder\", \"manifest\": {json.dumps(manifest)},\n"
            f"\"weights\": \"{base64.b64encode(buffer).decode('ascii')}\"}};\n")
    return text, manifest


def write_latent_map(results: str | Path, out: str | Path) -> dict:
    """Export the finished demo runs in `results` into `out` (replacing an earlier export there);
    returns the manifest."""
    runs = load_demo(results)
    out = check_path(out)
    probe_writable(out)
    make_folder(out)
    with exclusive(out / LOCK, str(out)):
        return write_files(runs, out)


def write_files(runs: dict[str, DemoRun], out: Path) -> dict:
    """The work of write_latent_map, in a checked and locked folder."""
    commit = git_commit()  # before the first file: the export changes tracked files
    snapshots = {kind: run.snapshots() for kind, run in runs.items()}
    epochs = snapshots["aae"]["epochs"]
    if any(s["epochs"] != epochs for s in snapshots.values()):
        raise AAEError("the demo runs stored their codes at different epochs; train them with the same "
                       "settings")
    settings = runs["aae"].settings()
    prior = prior_samples(len(snapshots["aae"]["labels"]), settings)
    files, models = {}, []
    for kind, run in runs.items():
        summary = run.summary()
        source = {"run": str(run.path), "git_commit": summary["git_commit"], "model": KINDS[kind]}
        codes = np.stack([snapshots[kind]["codes"][e].numpy() for e in epochs]).astype("<f2")
        models.append({"kind": kind, "label": KINDS[kind], "short": SHORT[kind], "codes": b64(codes),
                       "source": source})
        for epoch in epochs:
            text, _ = decoder_text(run.snapshot_decoder(epoch), {**source, "epoch": epoch})
            files[decoder_script(kind, epoch)] = text
    last = epochs[-1]
    bundle = {"format": FORMAT, "n": len(prior), "epochs": epochs, "range": list(VIEW),
              "prior_std": settings.prior_std, "labels": b64(snapshots["aae"]["labels"].numpy().astype(np.uint8)),
              "prior": b64(prior.numpy().astype("<f2")), "models": models,
              "start": {"model": "aae", "epoch": last, "z": [MIXTURE_RADIUS, 0.0]}}  # a component's mean
    files[CODES_SCRIPT] = ("// Written by `python -m aae_core demo-2d --export`; read by "
                           "widgets/aae-latent.js.\n"
                           f"window.AAE_LATENT_MAP = {json.dumps(bundle)};\n")
    earlier = read_manifest(out).get("files", {})
    for name, text in files.items():
        atomic_write(out / name, lambda tmp, text=text: Path(tmp).write_text(text))
    for name in set(earlier) - set(files):  # an earlier export's decoders of other epochs
        (out / name).unlink(missing_ok=True)
    manifest = {"format": FORMAT, "epochs": epochs, "exported_at_commit": commit,
                "runs": {kind: {"path": str(run.path), "git_commit": run.summary()["git_commit"]}
                         for kind, run in runs.items()},
                "files": {name: len(text.encode()) for name, text in sorted(files.items())}}
    atomic_write(out / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1) + "\n"))
    return manifest


def read_manifest(folder: Path) -> dict:
    """An earlier export's manifest.json ({} when there is none, or not one of ours)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    if not (isinstance(manifest, dict) and manifest.get("format") == FORMAT):
        return {}
    return {"files": {name: size for name, size in manifest.get("files", {}).items()
                      if isinstance(name, str) and "/" not in name and name.endswith(".js")}}


def read_script_bundle(path: str | Path) -> dict:
    """The JSON object a written script assigns (the latent map's codes or one decoder)."""
    text = Path(path).read_text()
    return json.loads(text[text.index("= {") + 2: text.rindex("}") + 1])


def read_latent_map(folder: str | Path) -> dict:
    """The exported map as arrays: {"epochs", "range", "labels" (n,), "prior" (n, 2),
    "codes": {kind: (epochs, n, 2)}} (the inverse of write_files, for tests and tools)."""
    bundle = read_script_bundle(Path(folder) / CODES_SCRIPT)
    n, e = bundle["n"], len(bundle["epochs"])

    def array(text: str, dtype: str) -> np.ndarray:
        return np.frombuffer(base64.b64decode(text), dtype=dtype)

    return {"epochs": bundle["epochs"], "range": bundle["range"], "labels": array(bundle["labels"], "u1").copy(),
            "prior": array(bundle["prior"], "<f2").reshape(n, 2).astype(np.float32),
            "codes": {m["kind"]: array(m["codes"], "<f2").reshape(e, n, 2).astype(np.float32)
                      for m in bundle["models"]}}


class BrowserLatentMap(BrowserWidget):
    """The latent map as page content (widgets/aae-latent.js): an epoch slider, a model switch, a panel
    of codes per model and the decoding of the point the reader marks. In Jupyter without trusted
    output, the PNG shows the panels at the last stored epoch."""

    kind = "latent"

    def __init__(self, results: str | Path, static: str = "../_static/", folder: str = "demo-2d"):
        super().__init__({}, static, path=f"{static.rstrip('/')}/models/{folder}/")
        del self.config["models"]  # the map names its models in its own script
        self.results = Path(results)

    def still(self) -> Figure:
        from .demo_figures import plot_codes

        runs = load_demo(self.results)
        snapshots = {kind: run.snapshots() for kind, run in runs.items()}
        last = snapshots["aae"]["epochs"][-1]
        labels = snapshots["aae"]["labels"]
        prior = prior_samples(len(labels), runs["aae"].settings())
        return plot_codes({KINDS[k]: (s["codes"][last], labels) for k, s in snapshots.items()}, prior,
                          f"Codes after epoch {last} (the live map needs the HTML book)")

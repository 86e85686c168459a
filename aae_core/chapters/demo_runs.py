"""Chapter 1's demo runs on disk, one folder per model (`python -m aae_core demo-2d --out results/demo-2d`):
config.json, history.jsonl, model.pt (fp16), snapshots.pt (the codes of the first validation digits and
the decoder at a few epochs, for the chapter's latent map) and, once finished, summary.json.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..config import ModelConfig
from ..data import load_mnist, prepare_data
from ..devices import resolve_device
from ..errors import AAEError
from ..losses import share_near_mixture
from ..models import SemiSupervisedAAE, mlp
from ..provenance import git_commit, provenance
from ..paths import check_path
from ..runs.files import (LOCK, atomic_write, exclusive, make_folder, probe_writable, read_history, read_json_object,
                          refuse_dirty_results, refuse_foreign_files, torch_load, write_json, write_jsonl)
from .demo_training import KINDS, DemoSettings, codes_of, fp16, train_model
from .demo_vae import VAE

RUN_FILES = ("config.json", "history.jsonl", "summary.json", "model.pt", "snapshots.pt")


class DemoRun:
    """One demo model's run folder: config.json, history.jsonl, model.pt (fp16), snapshots.pt
    (codes and decoders at the snapshot epochs) and, once finished, summary.json."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.kind = self.path.name

    @property
    def finished(self) -> bool:
        return (self.path / "summary.json").exists()

    def config(self) -> dict:
        return read_json_object(self.path / "config.json", "a demo run's config.json")

    def summary(self) -> dict:
        return read_json_object(self.path / "summary.json", "a demo run's summary.json")

    def history(self) -> list[dict]:
        return read_history(self.path / "history.jsonl")

    def settings(self) -> DemoSettings:
        demo = self.config().get("demo", {})
        try:
            return DemoSettings(**{**demo, "snapshots": tuple(demo.get("snapshots", ()))}).check()
        except (TypeError, AAEError) as err:
            raise AAEError(f"{self.path / 'config.json'} holds no demo settings ({err})") from None

    def model(self) -> nn.Module:
        """The trained model, fp32, in eval mode."""
        payload = torch_load(self.path / "model.pt")
        try:
            model = (VAE if payload["kind"] == "vae" else SemiSupervisedAAE)(
                ModelConfig(**payload["model_config"]))
            model.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
        except (KeyError, TypeError, RuntimeError) as err:
            raise AAEError(f"{self.path / 'model.pt'} is not a demo model ({err})") from None
        return model.eval()

    def snapshots(self) -> dict:
        """{"epochs": [...], "labels": (n,) uint8, "codes": {epoch: (n, 2)}, "decoder": {epoch: weights}}."""
        payload = torch_load(self.path / "snapshots.pt")
        return {"epochs": [int(e) for e in payload["epochs"]], "labels": payload["labels"],
                "codes": {int(e): c.float() for e, c in payload["codes"].items()},
                "decoder": {int(e): w for e, w in payload["decoder"].items()}}

    def snapshot_decoder(self, epoch: int) -> nn.Sequential:
        """The decoder as it was after `epoch` (fp16 weights, computed in fp32)."""
        cfg = ModelConfig(**self.config()["model"])
        decoder = mlp([cfg.style_dim, cfg.hidden_dim, cfg.hidden_dim, cfg.input_dim],
                      final=nn.Sigmoid())
        decoder.load_state_dict({k: v.float() for k, v in self.snapshots()["decoder"][epoch].items()})
        return decoder.eval()

    def write(self, kind: str, settings: DemoSettings, runner, snapshots: dict, labels: torch.Tensor,
              val_x: torch.Tensor, commit: str, device: torch.device) -> dict:
        """history, weights and snapshots, then summary.json (the run is finished once it exists)."""
        write_jsonl(self.path / "history.jsonl", runner.history)
        model_cfg = settings.model_config()
        payload = {"kind": kind, "model_config": asdict(model_cfg), "state_dict": fp16(runner.model)}
        atomic_write(self.path / "model.pt", lambda tmp: torch.save(payload, tmp))
        stored = {"epochs": list(snapshots), "labels": labels.to(torch.uint8),
                  "codes": {str(e): s["codes"] for e, s in snapshots.items()},
                  "decoder": {str(e): s["decoder"] for e, s in snapshots.items()}}
        atomic_write(self.path / "snapshots.pt", lambda tmp: torch.save(stored, tmp))
        codes = codes_of(runner.model, val_x.to(runner.device), settings.seed)
        summary = {"kind": kind, "model": KINDS[kind], "epochs": settings.epochs,
                   "steps": sum(r["steps"] for r in runner.history),
                   "share_within_2sd": share_near_mixture(codes, settings.prior_std),
                   "n_val": len(val_x), "unlabeled": settings.unlabeled, "hidden": settings.hidden,
                   "seed": settings.seed,
                   **provenance(device, sum(r["seconds"] for r in runner.history)),
                   "git_commit": commit}  # the commit the run started at (provenance reads HEAD now)
        write_json(self.path / "summary.json", summary)
        return summary


def train_demo(out: str | Path, settings: DemoSettings = DemoSettings(), kinds=tuple(KINDS),
               force: bool = False, allow_dirty: bool = False, mnist=None,
               report: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Train the demo models into out/<kind>/, one run folder each; returns their summaries.

    A finished run of the same settings is kept (and its summary returned); one of other settings
    is replaced only with `force`. Everything is checked before the first folder is written."""
    settings.check()
    out, say = check_path(out), report or (lambda line: None)
    refuse_foreign_files(out, KINDS, "demo run folders")
    todo = []
    for kind in kinds:
        if kind not in KINDS:
            raise AAEError(f"unknown demo model {kind!r}; one of {', '.join(KINDS)}")
        run = DemoRun(out / kind)
        refuse_foreign_files(run.path, RUN_FILES, "a demo run")
        if run.finished and not force:
            if run.settings() != settings:
                raise AAEError(f"{run.path} holds a finished run of other settings; pass --force to "
                               "replace it, or choose another --out")
            say(f"{KINDS[kind]}: already finished ({run.path})")
            continue
        refuse_dirty_results(run.path, allow_dirty)
        todo.append(kind)
    probe_writable(out)
    summaries = {kind: DemoRun(out / kind).summary() for kind in kinds if kind not in todo}
    if not todo:
        return summaries
    device = resolve_device(settings.device)
    data = prepare_data(settings.train_config(), mnist if mnist is not None else load_mnist())
    commit = git_commit()
    for kind in todo:
        run = DemoRun(out / kind)
        make_folder(run.path)
        with exclusive(run.path / LOCK, str(run.path)):
            (run.path / "summary.json").unlink(missing_ok=True)  # unfinished until written again
            write_json(run.path / "config.json", {
                "kind": kind, "model_name": KINDS[kind], "demo": settings.to_dict(),
                "train": settings.train_config(kind).to_dict(), "model": asdict(settings.model_config()),
                "git_commits": [commit]})
            runner, snapshots = train_model(kind, settings, data, device, say)
            summaries[kind] = run.write(kind, settings, runner, snapshots,
                                        data.val_y[: settings.n_map], data.val_x, commit, device)
        say(f"{KINDS[kind]}: {summaries[kind]['share_within_2sd']:.0f}% of the validation codes "
            f"within 2 std of a prior component ({run.path})")
    return {kind: summaries[kind] for kind in kinds}


def load_demo(results: str | Path) -> dict[str, DemoRun]:
    """The shipped demo runs {kind: DemoRun}, each finished; an AAEError naming what is missing."""
    runs = {kind: DemoRun(Path(results) / kind) for kind in KINDS}
    missing = [str(run.path) for run in runs.values() if not run.finished]
    if missing:
        raise AAEError(f"no finished demo run in {', '.join(missing)}; train them with "
                       "`python -m aae_core demo-2d --out results/demo-2d`, or pass retrain=True")
    return runs


def demo_models(results: str | Path, retrain: bool, settings: DemoSettings,
                say: Callable[[str], None] = print) -> tuple[dict, dict, DemoSettings]:
    """The three trained models {kind: model}, their histories and their settings: read from the
    shipped run folders in `results`, or, with `retrain`, trained here with `settings`."""
    if not retrain:
        runs = load_demo(results)
        settings = runs["aae"].settings()
        summary = runs["aae"].summary()
        say(f"Read the three models from {results}:\n{settings.epochs} epochs on "
            f"{settings.unlabeled:,} images, hidden layers of {settings.hidden} units, "
            f"commit {summary['git_commit'][:10]}.")
        return ({kind: run.model() for kind, run in runs.items()},
                {kind: run.history() for kind, run in runs.items()}, settings)
    settings.check()
    data = prepare_data(settings.train_config())
    device = resolve_device(settings.device)
    trained = {kind: train_model(kind, settings, data, device)[0] for kind in KINDS}
    say(f"Trained the three models here:\n{settings.epochs} epochs on {settings.unlabeled:,} "
        f"images, hidden layers of {settings.hidden} units.")
    return ({kind: runner.model.eval() for kind, runner in trained.items()},
            {kind: runner.history for kind, runner in trained.items()}, settings)

"""An independent judge of generated digits: a small CNN trained on every MNIST training label, and
the two measures it gives chapter 4 (does y decide the digit? does z leave it alone?).

Chapter 4 asks whether the decoder draws digit d when y says d. The AAE's own encoder cannot
answer that fairly (it was trained with the decoder), so a separate convolutional network, in the
spirit of pytorch/examples `mnist/main.py`, classifies the generated images instead.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from ..data import BatchCycler, load_mnist, train_val_split
from ..errors import AAEError
from ..evaluate import accuracy
from ..provenance import provenance
from ..runs.files import (LOCK, atomic_write, claim_output_file, exclusive, make_folder, probe_writable,
                          read_json_object, refuse_foreign_files, refuse_to_overwrite, torch_load, write_json,
                          write_jsonl)
from ..runs.folder import RunFolder
from ..runs.weights import load_checkpoint
from ..models import SemiSupervisedAAE
from .generate import generate, model_device
from .tables import markdown_table

TRAINING = {"optimizer": "adam", "lr": 1e-3, "batch_size": 128}  # recorded in the folder's config.json
JUDGE_FILES = ("config.json", "history.jsonl", "model.pt", "summary.json")


class DigitCNN(nn.Module):
    """Two conv layers and two linear layers; (N, 784) in [0, 1] -> 10 logits."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 13, 13)
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),  # (N, 64, 5, 5)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.25),
                                  nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.view(-1, 1, 28, 28)))

    @torch.no_grad()
    def classify(self, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """Predicted digit (N,), in batches; the same call as SemiSupervisedAAE.classify."""
        return torch.cat([self(chunk).argmax(dim=1) for chunk in x.split(batch_size)])


def train_classifier(x: torch.Tensor, y: torch.Tensor, epochs: int = 3, seed: int = 0,
                     batch_size: int = TRAINING["batch_size"], lr: float = TRAINING["lr"],
                     progress=print) -> tuple[DigitCNN, list[dict]]:
    """Adam on (x, y) for `epochs` passes; returns the model (eval mode) and one record per epoch."""
    torch.manual_seed(seed)
    model = DigitCNN().to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = BatchCycler(len(x), batch_size, seed=seed)
    history = []
    for epoch in range(1, epochs + 1):
        start, total = time.perf_counter(), 0.0
        model.train()
        for _ in range(batches.batches_per_pass):
            idx = batches.next().to(x.device)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
        history.append({"epoch": epoch, "loss": total / batches.batches_per_pass,
                        "seconds": time.perf_counter() - start})
        progress(f"epoch {epoch}/{epochs}  loss {history[-1]['loss']:.4f}  {history[-1]['seconds']:.1f} s")
    return model.eval(), history


def save_classifier(model: DigitCNN, path) -> None:
    atomic_write(path, lambda tmp: torch.save({"state_dict": model.state_dict()}, tmp))


def load_classifier(folder, device="cpu") -> DigitCNN:
    """The judge from a classifier folder (model.pt), in eval mode."""
    path = Path(folder) / "model.pt" if Path(folder).is_dir() else Path(folder)
    model, payload = DigitCNN(), torch_load(path)
    try:
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, IndexError, RuntimeError):
        raise AAEError(f"{path} holds no DigitCNN weights") from None
    return model.to(device).eval()


@torch.no_grad()
def generated_agreement(model: SemiSupervisedAAE, judge, samples_per_digit: int = 200, prior_std: float = 1.0,
                        seed: int = 0) -> dict:
    """How often `judge` (an independent classifier) reads digit d in decode(y = d, z ~ prior).

    Returns {"per_digit": [10 percentages], "overall": percentage}: 100% means y alone decides
    the digit whatever style z is drawn.
    """
    gen = torch.Generator().manual_seed(seed)
    n_classes = model.cfg.n_classes
    digits = torch.arange(n_classes).repeat_interleave(samples_per_digit)  # (10 * S,)
    z = prior_std * torch.randn(len(digits), model.cfg.style_dim, generator=gen)
    device = model_device(model)
    read = judge.classify(generate(model, digits.to(device), z.to(device))).cpu()
    hits = (read == digits).float().view(n_classes, samples_per_digit)
    return {"per_digit": (100 * hits.mean(dim=1)).tolist(), "overall": 100 * hits.mean().item()}


@torch.no_grad()
def style_stability(model: SemiSupervisedAAE, judge, bases_per_digit: int = 20, steps: int = 9,
                    prior_std: float = 1.0, seed: int = 0) -> dict:
    """How often `judge` keeps its reading while one style dimension sweeps across the prior.

    For each digit, `bases_per_digit` style codes are drawn from the prior; each dimension of each
    code is swept over [-2 std, 2 std] in `steps` points with the others held. A point counts as
    stable when the judge reads the same digit as at the unswept code. 100% means z changes the
    style only, never which digit is drawn.
    """
    gen = torch.Generator().manual_seed(seed)
    n_classes, style_dim = model.cfg.n_classes, model.cfg.style_dim
    device = model_device(model)
    sweep = torch.linspace(-2 * prior_std, 2 * prior_std, steps)
    per_digit = []
    for digit in range(n_classes):
        base = prior_std * torch.randn(bases_per_digit, style_dim, generator=gen)  # (B, D)
        z = base[:, None, None, :].repeat(1, style_dim, steps, 1)  # (B, D swept, steps, D)
        for dim in range(style_dim):
            z[:, dim, :, dim] = sweep
        labels = torch.full((z[..., 0].numel(),), digit)
        read = judge.classify(generate(model, labels.to(device), z.view(-1, style_dim).to(device))).cpu()
        at_base = judge.classify(generate(model, labels[:bases_per_digit].to(device), base.to(device))).cpu()
        same = read.view(bases_per_digit, -1) == at_base[:, None]
        per_digit.append(100 * same.float().mean().item())
    return {"per_digit": per_digit, "overall": sum(per_digit) / n_classes}


def agreement_table(entries: dict) -> str:
    """One row per model: its test accuracy and how its generated digits fare with the judge,
    from `python -m aae_core agreement` ({name: entry of agreement.json's 'models'})."""
    rows = [[name, entry["preset"], entry["labels"], f"{entry['steps']:,}", f"{entry['test_accuracy']:.2f}%",
             f"{entry['agreement']['overall']:.1f}%", f"{min(entry['agreement']['per_digit']):.1f}%",
             f"{entry['style_stability']['overall']:.1f}%"] for name, entry in entries.items()]
    return markdown_table(["model", "preset", "labels", "steps", "test accuracy (encoder)", "agreement",
                           "worst digit", "style stability"], rows)


def train_judge(out: str | Path, epochs: int = 3, seed: int = 0, device: torch.device = torch.device("cpu"),
                force: bool = False, report=print) -> dict:
    """Train the judge on the 50,000 training images into the folder `out` (config, history, model.pt,
    summary.json with its test and validation accuracy); returns the summary."""
    out = Path(out)
    if epochs < 1:
        raise AAEError("--epochs must be a positive integer")
    check_judge_out(out, force)
    probe_writable(out)
    mnist = load_mnist()
    make_folder(out)
    with exclusive(out / LOCK, f"classifier folder {out}"):
        return train_judge_into(out, mnist, epochs, seed, device, report)


def check_judge_out(out: Path, force: bool) -> None:
    """The classifier's --out: new, empty, or a classifier folder (a finished one replaced only with force)."""
    refuse_foreign_files(out, JUDGE_FILES, "a classifier's")
    config = out / "config.json"
    if config.exists() and read_json_object(config, "a classifier's config.json").get("model") != "DigitCNN":
        raise AAEError(f"{out} holds the config.json of something else than the classifier; give a new or empty --out")
    refuse_to_overwrite(out / "summary.json", force)


def train_judge_into(out: Path, mnist, epochs: int, seed: int, device: torch.device, report) -> dict:
    """The work of train_judge, in a checked and locked folder."""
    train_idx, val_idx = train_val_split(len(mnist.train_x))
    start = time.perf_counter()
    model, history = train_classifier(mnist.train_x[train_idx].to(device), mnist.train_y[train_idx].to(device),
                                      epochs=epochs, seed=seed, progress=report)
    write_json(out / "config.json", {"model": "DigitCNN", "epochs": epochs, "seed": seed, **TRAINING,
                                     "train_images": len(train_idx)})
    write_jsonl(out / "history.jsonl", history)
    save_classifier(model, out / "model.pt")
    summary = {"test_accuracy": accuracy(model, mnist.test_x.to(device), mnist.test_y.to(device)),
               "val_accuracy": accuracy(model, mnist.train_x[val_idx].to(device), mnist.train_y[val_idx].to(device)),
               "epochs": epochs, "seed": seed, **provenance(device, time.perf_counter() - start)}
    write_json(out / "summary.json", summary)
    return summary


def judge_runs(runs: list, classifier: str | Path, out: str | Path, samples: int = 200, seed: int = 0,
               device: torch.device = torch.device("cpu"), force: bool = False, report=print) -> dict:
    """`generated_agreement` and `style_stability` of each finished run folder, judged by the classifier
    in `classifier`, written to the JSON file `out` (chapter 4 reads it); returns what it wrote."""
    out = Path(out)
    if samples < 1:
        raise AAEError("--samples must be a positive integer")
    claim_output_file(out, force)
    judge = load_classifier(classifier, device)
    judge_accuracy = read_json_object(Path(classifier) / "summary.json", "a classifier's summary").get("test_accuracy")
    for path in runs:  # every run checked before the first is judged
        if not RunFolder(path).finished:
            raise AAEError(f"{path} is not a finished run (no summary.json)")
        RunFolder(path).summary()
    with exclusive(out.parent / f".{out.name}{LOCK}", str(out)):
        return judge_runs_into(runs, judge, judge_accuracy, classifier, out, samples, seed, device, report)


def judge_runs_into(runs: list, judge: DigitCNN, judge_accuracy, classifier, out: Path, samples: int, seed: int,
                    device: torch.device, report) -> dict:
    """The work of judge_runs, its output checked and locked."""
    start, models = time.perf_counter(), {}
    for path in runs:
        run = RunFolder(path)
        model, cfg, summary = load_checkpoint(path, device), run.train_config(), run.summary()
        models[str(path)] = {
            "preset": cfg.preset, "labels": cfg.labels, "epochs": cfg.epochs, "steps": summary.steps,
            "test_accuracy": summary.test_accuracy,
            "agreement": generated_agreement(model, judge, samples, cfg.prior_std, seed),
            "style_stability": style_stability(model, judge, prior_std=cfg.prior_std, seed=seed),
        }
        report(f"{path}: agreement {models[str(path)]['agreement']['overall']:.1f}%  "
               f"style stability {models[str(path)]['style_stability']['overall']:.1f}%")
    result = {"classifier": {"path": str(classifier), "test_accuracy": judge_accuracy},
              "samples_per_digit": samples, "seed": seed, "models": models,
              **provenance(device, time.perf_counter() - start)}
    write_json(out, result)
    return result


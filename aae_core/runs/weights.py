"""A run's model weights: model.pt saved in fp16 with the run's fingerprint, loaded back checked (the
payload's shape, the run it belongs to, its summary's test accuracy), and remade from checkpoint.pt."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..config import ModelConfig, model_config_from_dict
from ..errors import AAEError
from ..models import SemiSupervisedAAE
from .files import atomic_write, torch_load
from .folder import RunFolder


def save_model(model: SemiSupervisedAAE, path: Path, run_fingerprint: str | None = None) -> None:
    """fp16 weights and the model config: what the book needs to draw and classify; with the fingerprint
    of the run that trained them, so that weights copied into another run's folder are recognised."""
    payload = {"model_config": asdict(model.cfg), "fingerprint": run_fingerprint,
               "state_dict": {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}}
    atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> SemiSupervisedAAE:
    """The model in eval mode, from a run folder (model.pt, else checkpoint.pt) or either file. Weights
    saved with their run's fingerprint must be of the run whose folder holds them."""
    path = Path(path)
    run = RunFolder(path if path.is_dir() else path.parent)
    if path.is_dir():
        path = run.model_path if run.model_path.exists() else run.checkpoint_path
    payload = torch_load(path)
    model_cfg, weights = model_payload(path, payload)
    saved_by = payload.get("fingerprint")
    if saved_by is not None and run.config_path.exists() and saved_by != run.fingerprint():
        raise AAEError(f"{path} holds the weights of another run (fingerprint {saved_by}; {run.config_path.name} "
                       f"beside it is of {run.fingerprint()}); copy back this run's own {path.name}, or retrain it")
    return model_with_weights(model_cfg, weights, path).to(device).eval()


# Test-accuracy points by which a run's model.pt may differ from its summary: the fp16 rounding of the
# shipped weights moved no test image in the runs checked; another run's weights move hundreds.
SUMMARY_TOLERANCE = 0.1


def check_against_summary(path: str | Path, test_accuracy: float) -> None:
    """In a finished run folder, the measured test accuracy must be the summary's (within SUMMARY_TOLERANCE):
    what catches another run's model.pt saved before weights carried a fingerprint."""
    run = RunFolder(path)
    if not (Path(path).is_dir() and run.finished):
        return
    promised = run.summary().test_accuracy
    if abs(test_accuracy - promised) > SUMMARY_TOLERANCE:
        raise AAEError(f"the weights in {path} give {test_accuracy:.2f}% but its summary.json says {promised:.2f}%: "
                       "they are not this run's (another run's model.pt?); copy back its own, or retrain it")


def model_payload(path: Path, payload) -> tuple[ModelConfig, dict]:
    """The model config and weights of a model.pt or checkpoint.pt payload; an AAEError for anything else
    (the judge classifier's model.pt, a bare tensor, a config out of range)."""
    if isinstance(payload, dict) and "state_dict" in payload:  # model.pt
        if "model_config" not in payload:
            raise AAEError(f"{path} is not an AAE's model.pt (no model_config: the judge classifier's?)")
        config, weights = payload["model_config"], payload["state_dict"]
    elif isinstance(payload, dict) and "model" in payload:  # checkpoint.pt: the model config is in config.json
        run = RunFolder(path.parent)
        config, weights = run.config().get("model", {}) if run.config_path.exists() else {}, payload["model"]
    else:
        raise AAEError(f"{path} holds no model weights")
    if not (isinstance(config, dict) and isinstance(weights, dict) and all(map(torch.is_tensor, weights.values()))):
        raise AAEError(f"{path} holds no model config and weights of an AAE")
    try:
        return model_config_from_dict(config).check(), weights
    except (AAEError, TypeError) as err:
        raise AAEError(f"{path} holds a model config out of range ({err})") from None


def model_with_weights(model_cfg: ModelConfig, weights: dict, path: Path) -> SemiSupervisedAAE:
    """The model of model_cfg with `weights` loaded; the shapes are compared first on the meta device, so
    that a crafted config allocates nothing."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in SemiSupervisedAAE(model_cfg).state_dict().items()}
    given = {k: tuple(v.shape) for k, v in weights.items()}
    wrong = [k for k in {**expected, **given} if expected.get(k) != given.get(k)]
    if wrong:
        raise AAEError(f"weights in {path} do not fit the model of its config ({wrong[0]}: "
                       f"{given.get(wrong[0], 'missing')}, expected {expected.get(wrong[0])})")
    model = SemiSupervisedAAE(model_cfg)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    return model


def mend_model(run: RunFolder, say) -> None:
    """A finished run's model.pt that no longer loads as its own (truncated, another run's) is remade from
    its checkpoint.pt of the last epoch; with none, an AAEError: the run must be trained again. A run
    whose weights were never kept (git-ignored) has no model.pt, and nothing to mend."""
    if not run.model_path.exists():
        return
    try:
        load_checkpoint(run.model_path)
        return
    except AAEError as err:
        broken = str(err)
    summary = run.summary()
    state = run.checkpoint(summary.epochs) if run.started else None
    if state is None or state["epoch"] != summary.epochs:
        raise AAEError(f"{run.path} holds a finished run, but {broken}, and no checkpoint.pt of its last epoch "
                       "can remake it; --force trains the run again")
    model = model_with_weights(run.model_config(), state["model"], run.checkpoint_path)
    save_model(model, run.model_path, summary.fingerprint)
    say(f"{run.model_path}: {broken}; remade from checkpoint.pt (epoch {summary.epochs})")

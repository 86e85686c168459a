"""aae_core: semi-supervised adversarial autoencoders (Makhzani et al. 2015) for the AAE Book.

Importing the package loads no data, probes no device and prints nothing.
"""
from .config import PRESETS, ModelConfig, OptimizerConfig, TrainConfig
from .errors import AAEError
from .models import SemiSupervisedAAE

__all__ = ["AAEError", "ModelConfig", "OptimizerConfig", "PRESETS", "SemiSupervisedAAE", "TrainConfig",
           "load_checkpoint"]


def load_checkpoint(path, device="cpu"):
    """The trained model in eval mode, from a run folder, its checkpoint.pt or a shipped model.pt."""
    from .runs.weights import load_checkpoint as _load

    return _load(path, device)

"""aae_core: semi-supervised adversarial autoencoders (Makhzani et al. 2015) for the AAE Book.

Importing the package loads no data, probes no device and prints nothing.
"""
from .config import PRESETS, ModelConfig, OptimizerConfig, TrainConfig
from .errors import AAEError

__all__ = ["AAEError", "ModelConfig", "OptimizerConfig", "PRESETS", "SemiSupervisedAAE", "TrainConfig",
           "load_checkpoint"]


def __getattr__(name):
    """SemiSupervisedAAE loads torch (seconds): only when it is asked for, so that `python -m aae_core`
    answers --help or a mistyped option at once."""
    if name == "SemiSupervisedAAE":
        from .models import SemiSupervisedAAE

        return SemiSupervisedAAE
    raise AttributeError(f"module 'aae_core' has no attribute {name!r}")


def load_checkpoint(path, device="cpu"):
    """The trained model in eval mode, from a run folder, its checkpoint.pt or a shipped model.pt."""
    from .runs.weights import load_checkpoint as _load

    return _load(path, device)

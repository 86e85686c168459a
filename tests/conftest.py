"""Shared fixtures: MNIST from $AAE_DATA_DIR (../shared/data by default), loaded once per session."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AAE_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("AAE_OFFLINE", "1")  # tests never reach the network; test_download serves its own mirror

from aae_core.config import ModelConfig, TrainConfig  # noqa: E402
from aae_core.data import load_mnist, prepare_data  # noqa: E402

# A narrow model: the same classes and code paths, fast enough for many small trainings.
TINY = ModelConfig(hidden_dim=64, disc_hidden_dim=32)


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture(scope="session")
def small_data(mnist):
    """100 labels, 600 unlabeled images: 6 steps per epoch at batch 100."""
    return prepare_data(TrainConfig(labels=100, unlabeled=600, seed=0), mnist)


@pytest.fixture
def tiny_cfg():
    return TrainConfig(labels=100, unlabeled=600, epochs=2, seed=0, device="cpu")


def weights_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="session")
def browser():
    """One Chromium for every browser test (see tests/browser.py)."""
    from browser import chromium

    with chromium() as launched:
        yield launched

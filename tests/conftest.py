"""Shared fixtures: MNIST found by the package's own rule (aae_core.data.data_dir: $AAE_DATA_DIR, else
../shared/data where it exists, else ./data), loaded once per session. `make test` fetches it first,
as `make book` does; the tests themselves never reach the network."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AAE_OFFLINE", "1")  # tests never reach the network; test_download serves its own mirror

from aae_core.config import ModelConfig, TrainConfig  # noqa: E402
from aae_core.data import data_dir, load_mnist, prepare_data  # noqa: E402

MNIST_RAW = data_dir() / "MNIST" / "raw"  # where the tests, the notebooks under nbval and the package read MNIST

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

"""MNIST in memory: the fixed train/validation split, the labeled subset and batch order.

All of MNIST fits in memory as float tensors (60,000 x 784 x 4 bytes = 188 MB), so batches are
index tensors into it: no DataLoader, no per-sample transforms. The IDX files are fetched once
where they are missing (aae_core.download; AAE_OFFLINE=1 never fetches).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import N_TRAIN, TrainConfig
from .download import FILES, fetch_mnist
from .errors import AAEError
from .repository import REPO_ROOT

SPLIT_SEED = 2015  # fixes the train/validation split for every run, whatever the run's seed
RAW_FILES = tuple(FILES)  # the four IDX files, under the names torchvision reads


def data_dir() -> Path:
    """$AAE_DATA_DIR, else ../shared/data beside the repository when it exists, else ./data."""
    if os.environ.get("AAE_DATA_DIR"):
        return Path(os.environ["AAE_DATA_DIR"])
    shared = REPO_ROOT.parent / "shared" / "data"
    return shared if shared.exists() else REPO_ROOT / "data"


@dataclass(frozen=True)
class MNIST:
    train_x: torch.Tensor  # (60000, 784) float32 in [0, 1]
    train_y: torch.Tensor  # (60000,) int64
    test_x: torch.Tensor  # (10000, 784)
    test_y: torch.Tensor  # (10000,)


def ensure_mnist(root: str | Path | None = None) -> Path:
    """root/MNIST/raw (root: data_dir()), the four IDX files fetched first where any is missing."""
    root = Path(root) if root is not None else data_dir()
    raw = root / "MNIST" / "raw"
    missing = [name for name in RAW_FILES if not (raw / name).is_file()]
    if missing:
        fetch_mnist(raw, missing)
    return raw


def check_mnist_files(raw: Path) -> None:
    """Each IDX file is MNIST's own: its size and md5 (a swapped, truncated or foreign file would load,
    or fail only after an epoch)."""
    for name, (size, md5) in FILES.items():
        path = raw / name
        try:
            actual = path.stat().st_size
            digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() if actual == size else None
        except OSError as err:
            raise AAEError(f"cannot read {path} ({err.strerror})") from None
        if actual != size:
            swapped = next((other for other, (n, _) in FILES.items() if n == actual), None)
            raise AAEError(f"{path} holds {actual:,} bytes, not the {size:,} of MNIST's {name}"
                           f"{f' (it is the size of {swapped}: swapped files?)' if swapped else ''}; "
                           "replace it with the original IDX file")
        if digest != md5:
            raise AAEError(f"{path} is not MNIST's {name} (md5 {digest}, not {md5}); "
                           "replace it with the original IDX file")


def load_mnist(root: str | Path | None = None) -> MNIST:
    """Read the four IDX files under root/MNIST/raw through torchvision (fetched first where missing,
    checked against MNIST's sizes and md5 sums before they are read)."""
    root = Path(root) if root is not None else data_dir()
    raw = ensure_mnist(root)
    check_mnist_files(raw)
    from torchvision.datasets import MNIST as TorchvisionMNIST  # imported late: import aae_core stays light

    def as_tensors(train: bool):
        ds = TorchvisionMNIST(root=str(root), train=train, download=False)
        return ds.data.reshape(len(ds.data), -1).float().div_(255), ds.targets.long()

    try:
        train_x, train_y = as_tensors(True)
        test_x, test_y = as_tensors(False)
    except (RuntimeError, ValueError, OSError) as err:
        raise AAEError(f"MNIST files under {raw} could not be read ({err}); replace them with the original IDX files") from None
    return MNIST(train_x, train_y, test_x, test_y)


def train_val_split(n: int = 60_000, n_train: int = N_TRAIN) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the fixed 50,000 / 10,000 split of the official training set."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return perm[:n_train], perm[n_train:]


def random_labeled_subset(n_train: int, n_labeled: int, seed: int) -> torch.Tensor:
    """Sorted indices of n_labeled images drawn at random, whatever their digits (some may be rare)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n_train, generator=gen)[:n_labeled].sort().values


def balanced_labeled_subset(labels: torch.Tensor, n_labeled: int, seed: int, n_classes: int = 10) -> torch.Tensor:
    """Sorted indices of n_labeled images, n_labeled / n_classes per class, chosen by `seed`."""
    if n_labeled >= len(labels):
        return torch.arange(len(labels))
    per_class = n_labeled // n_classes
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(n_classes):
        members = torch.nonzero(labels == c).flatten()
        if len(members) < per_class:
            raise AAEError(f"class {c} has only {len(members)} images, fewer than the {per_class} asked for")
        chosen.append(members[torch.randperm(len(members), generator=gen)[:per_class]])
    return torch.cat(chosen).sort().values


@dataclass(frozen=True)
class SemiSupervisedData:
    """The tensors one run trains and reports on."""

    unlabeled_x: torch.Tensor  # (U, 784): the unlabeled pool (all training images, labels unused)
    labeled_x: torch.Tensor  # (L, 784)
    labeled_y: torch.Tensor  # (L,)
    val_x: torch.Tensor  # (10000, 784): model choices only
    val_y: torch.Tensor
    test_x: torch.Tensor  # (10000, 784): reported, never used for choices
    test_y: torch.Tensor

    def to(self, device) -> "SemiSupervisedData":
        return SemiSupervisedData(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def labeled_indices(cfg: TrainConfig, train_y: torch.Tensor) -> torch.Tensor:
    """Indices into the training split of the labeled images `cfg` draws (by cfg.label_seed, default cfg.seed)."""
    label_seed = cfg.labeled_images_seed
    return (random_labeled_subset(len(train_y), cfg.n_labeled, label_seed) if cfg.label_subset == "random"
            else balanced_labeled_subset(train_y, cfg.n_labeled, label_seed))


def labeled_images_hash(cfg: TrainConfig, mnist: MNIST) -> str:
    """A short hash of the labeled images' indices in the full training set: a run folder records it, so
    that a resume which would draw other images (other MNIST files, other drawing code) is refused."""
    train_idx, _ = train_val_split(len(mnist.train_x))
    chosen = train_idx[labeled_indices(cfg, mnist.train_y[train_idx])]
    return hashlib.sha256(chosen.to(torch.int64).numpy().tobytes()).hexdigest()[:16]


def prepare_data(cfg: TrainConfig, mnist: MNIST | None = None) -> SemiSupervisedData:
    """Split MNIST as `cfg` asks: labeled subset by cfg.label_seed (default cfg.seed), unlabeled pool
    optionally subsampled."""
    mnist = mnist if mnist is not None else load_mnist()
    train_idx, val_idx = train_val_split(len(mnist.train_x))
    x, y = mnist.train_x[train_idx], mnist.train_y[train_idx]
    labeled = labeled_indices(cfg, y)
    unlabeled_x = x
    if cfg.unlabeled is not None and cfg.unlabeled < len(x):
        gen = torch.Generator().manual_seed(cfg.seed)
        unlabeled_x = x[torch.randperm(len(x), generator=gen)[: cfg.unlabeled]]
    return SemiSupervisedData(
        unlabeled_x=unlabeled_x, labeled_x=x[labeled], labeled_y=y[labeled],
        val_x=mnist.train_x[val_idx], val_y=mnist.train_y[val_idx],
        test_x=mnist.test_x, test_y=mnist.test_y,
    )


def batches_per_pass(n: int, batch_size: int) -> int:
    """Whole batches in one pass over n items (at least one: a set smaller than a batch is one batch)."""
    return max(1, n // batch_size)


class BatchCycler:
    """Endless shuffled mini-batches of indices into a set of n items.

    Each pass is a fresh permutation; a pass yields n // batch_size batches (at least one, of
    min(n, batch_size) items). Its state (permutation, position, generator) goes into checkpoints
    so that a resumed run draws exactly the batches an uninterrupted run would.
    """

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, min(batch_size, n)
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.generator)
        self.position = 0
        self.perm_on_device = (None, None, None)  # (perm, device asked for, its copy there): one copy per pass

    @property
    def batches_per_pass(self) -> int:
        return batches_per_pass(self.n, self.batch_size)

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.generator)
            self.position = 0
        batch = self.perm[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def next_on(self, device: torch.device) -> torch.Tensor:
        """next(), on `device`: the pass's permutation is copied there once, so that a step on a GPU
        does not wait for a copy from the host."""
        batch = self.next()
        if device.type == "cpu":
            return batch
        perm, copied_for, _ = self.perm_on_device
        if perm is not self.perm or copied_for != device:  # the device as asked: "cuda", not the copy's "cuda:0"
            self.perm_on_device = (self.perm, device, self.perm.to(device))
        return self.perm_on_device[2][self.position - len(batch) : self.position]

    def state_dict(self) -> dict:
        return {"perm": self.perm, "position": self.position, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.perm, self.position = state["perm"], int(state["position"])
        self.generator.set_state(state["generator"])

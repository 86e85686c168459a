from pathlib import Path

import pytest
import torch

from aae_core.config import TrainConfig
from aae_core.data import (RAW_FILES, balanced_labeled_subset, BatchCycler, data_dir, load_mnist, prepare_data,
                           train_val_split)
from aae_core.errors import AAEError


def test_mnist_shapes_and_range(mnist):
    assert mnist.train_x.shape == (60000, 784) and mnist.test_x.shape == (10000, 784)
    assert mnist.train_x.dtype == torch.float32
    assert mnist.train_x.min() == 0 and mnist.train_x.max() == 1
    assert torch.bincount(mnist.test_y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_split_is_fixed_and_disjoint():
    train, val = train_val_split()
    assert len(train) == 50000 and len(val) == 10000
    assert len(set(train.tolist()) | set(val.tolist())) == 60000
    assert torch.equal(train, train_val_split()[0])


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_labeled_subset_is_balanced_and_seeded(mnist, n):
    y = mnist.train_y[:50000]
    chosen = balanced_labeled_subset(y, n, seed=0)
    assert len(chosen) == len(set(chosen.tolist())) == n
    assert torch.bincount(y[chosen], minlength=10).tolist() == [n // 10] * 10
    assert torch.equal(chosen, balanced_labeled_subset(y, n, seed=0))
    assert not torch.equal(chosen, balanced_labeled_subset(y, n, seed=1))


def test_prepare_data_splits(mnist):
    data = prepare_data(TrainConfig(labels=1000, seed=3), mnist)
    assert data.unlabeled_x.shape == (50000, 784) and data.labeled_x.shape == (1000, 784)
    assert data.val_x.shape == (10000, 784) and data.test_x.shape == (10000, 784)
    every = prepare_data(TrainConfig(labels="all", unlabeled=500), mnist)
    assert len(every.labeled_y) == 50000 and len(every.unlabeled_x) == 500


def test_the_tests_and_the_package_find_mnist_by_one_rule(monkeypatch, tmp_path):
    """$AAE_DATA_DIR, else ../shared/data beside the repository where it exists, else ./data: one function
    (data.data_dir), which conftest uses too, so that a fresh clone with no ../shared tests what it fetched."""
    import conftest
    from aae_core import data

    assert conftest.MNIST_RAW == data_dir() / "MNIST" / "raw"
    repo = tmp_path / "aae"
    repo.mkdir()
    monkeypatch.setattr(data, "REPO_ROOT", repo)
    monkeypatch.delenv("AAE_DATA_DIR", raising=False)
    assert data_dir() == repo / "data"  # a reader's clone
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert data_dir() == tmp_path / "shared" / "data"  # a developer's checkout
    monkeypatch.setenv("AAE_DATA_DIR", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"


def test_missing_data_folder_names_it(tmp_path):
    with pytest.raises(AAEError, match=str(tmp_path)):
        load_mnist(tmp_path)


def mnist_copy(tmp_path, change) -> Path:
    """A data folder whose MNIST/raw links to the real files, with `change(raw)` applied."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_FILES:
        (raw / name).symlink_to(data_dir() / "MNIST" / "raw" / name)
    change(raw)
    return tmp_path


def swap_train_and_test(raw):
    for kind in ("images-idx3", "labels-idx1"):
        train, test = raw / f"train-{kind}-ubyte", raw / f"t10k-{kind}-ubyte"
        target = train.readlink()
        train.unlink()
        train.symlink_to(test.readlink())
        test.unlink()
        test.symlink_to(target)


def truncate_labels(raw):
    labels = raw / "train-labels-idx1-ubyte"
    data = labels.read_bytes()
    labels.unlink()
    labels.write_bytes(data[:-100])


def change_one_label(raw):
    labels = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    labels.unlink()
    data[-1] = (data[-1] + 1) % 10
    labels.write_bytes(bytes(data))


@pytest.mark.parametrize("change,words", [(swap_train_and_test, ["train-images", "swapped"]),
                                          (truncate_labels, ["train-labels", "60,008"]),
                                          (change_one_label, ["t10k-labels", "md5"])])
def test_wrong_mnist_files_are_refused_before_any_use(tmp_path, change, words):
    with pytest.raises(AAEError) as refused:
        load_mnist(mnist_copy(tmp_path, change))
    for word in words:
        assert word in str(refused.value)


def test_batch_cycler_covers_each_pass_and_resumes():
    cycler = BatchCycler(10, 3, seed=0)
    assert cycler.batches_per_pass == 3
    first_pass = torch.cat([cycler.next() for _ in range(3)])
    assert len(set(first_pass.tolist())) == 9
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in cycler.state_dict().items()}
    expected = [cycler.next() for _ in range(5)]
    copy = BatchCycler(10, 3, seed=99)
    copy.load_state_dict(state)
    assert all(torch.equal(a, copy.next()) for a in expected)


def test_batch_cycler_smaller_set_than_batch():
    cycler = BatchCycler(40, 100, seed=0)
    assert cycler.batches_per_pass == 1 and len(cycler.next()) == 40


def test_random_labeled_subset_is_seeded_and_need_not_be_balanced(mnist):
    cfg = TrainConfig(labels=100, seed=0, label_subset="random")
    data = prepare_data(cfg, mnist)
    counts = torch.bincount(data.labeled_y, minlength=10).tolist()
    assert sum(counts) == 100 and counts != [10] * 10
    assert torch.equal(data.labeled_y, prepare_data(cfg, mnist).labeled_y)


def test_label_seed_picks_the_labeled_images_and_nothing_else(mnist):
    own, other = TrainConfig(labels=100, seed=2), TrainConfig(labels=100, seed=0)
    borrowed = TrainConfig(labels=100, seed=0, label_seed=2)  # seed 0's run, seed 2's labeled images
    assert torch.equal(prepare_data(borrowed, mnist).labeled_x, prepare_data(own, mnist).labeled_x)
    assert not torch.equal(prepare_data(borrowed, mnist).labeled_x, prepare_data(other, mnist).labeled_x)
    assert borrowed.labeled_images_seed == 2 and other.labeled_images_seed == 0

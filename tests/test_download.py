"""MNIST fetched on first use, from a mirror on 127.0.0.1 that serves gzip files made from the
shared data: fetched, checked, loaded; a wrong or broken file fails with one line and leaves
nothing behind; AAE_OFFLINE=1 fetches nothing."""
from __future__ import annotations

import gzip

import pytest
import torch

from aae_core.data import RAW_FILES, ensure_mnist, load_mnist
from aae_core.errors import AAEError
from browser import free_port, serve
from conftest import MNIST_RAW as SOURCE
from test_cli import assert_one_line_error, cli

LABELS = "t10k-labels-idx1-ubyte"  # small: the file the broken mirrors break
BROKEN = {  # how a mirror's copy of LABELS is broken -> a word the error must contain
    "wrong-bytes": "md5",
    "too-long": "more than",
    "truncated": "ended",
    "not-gzip": "gzip",
    "missing": "404",
}


def gzipped(data: bytes, members: int = 1) -> bytes:
    """A faithful gzip of data, in `members` gzip members (unlike the official files' own compression)."""
    cut = len(data) // members
    parts = [data[i * cut: (i + 1) * cut if i < members - 1 else len(data)] for i in range(members)]
    return b"".join(gzip.compress(part, compresslevel=1, mtime=0) for part in parts)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """Base URL of a local mirror: the four .gz files at its root, broken copies of LABELS under broken/KIND/."""
    root = tmp_path_factory.mktemp("mirror")
    for name in RAW_FILES:
        (root / f"{name}.gz").write_bytes(gzipped((SOURCE / name).read_bytes(), members=2 if name == LABELS else 1))
    labels = (SOURCE / LABELS).read_bytes()
    broken = {
        "wrong-bytes": gzipped(labels[:-1] + bytes([labels[-1] ^ 1])),
        "too-long": gzipped(labels + b"\0" * 100),
        "truncated": gzipped(labels)[: len(gzipped(labels)) // 2],
        "not-gzip": b"<html><body>Not here</body></html>",
    }
    for kind in BROKEN:
        (root / "broken" / kind).mkdir(parents=True)
        if kind in broken:
            (root / "broken" / kind / f"{LABELS}.gz").write_bytes(broken[kind])
    with serve(root) as base:
        yield base


@pytest.fixture
def online(monkeypatch, tmp_path):
    """An empty AAE_DATA_DIR, fetching allowed (conftest sets AAE_OFFLINE for every other test)."""
    monkeypatch.delenv("AAE_OFFLINE", raising=False)
    monkeypatch.setenv("AAE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data" / "MNIST" / "raw"


def test_load_mnist_fetches_checks_and_loads(mirror, online, monkeypatch, capfd, mnist):
    monkeypatch.setenv("AAE_MNIST_MIRROR", mirror)
    fetched = load_mnist()
    progress = capfd.readouterr().err.splitlines()
    assert sorted(p.name for p in online.iterdir()) == sorted(RAW_FILES)  # no temporary file left
    for name in RAW_FILES:
        assert (online / name).read_bytes() == (SOURCE / name).read_bytes()
    assert [line.split(" from ")[0] for line in progress] == [f"MNIST: fetched {name}.gz" for name in RAW_FILES]
    assert all(mirror in line and "md5 checked" in line for line in progress), progress
    for field in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(fetched, field), getattr(mnist, field)), field
    ensure_mnist()
    assert capfd.readouterr().err == "", "files already there are fetched again"


@pytest.mark.parametrize("kind", BROKEN)
def test_a_broken_download_fails_in_one_line_and_leaves_nothing(mirror, online, monkeypatch, kind):
    online.mkdir(parents=True)
    for name in RAW_FILES:
        if name != LABELS:
            (online / name).symlink_to(SOURCE / name)
    monkeypatch.setenv("AAE_MNIST_MIRROR", f"{mirror}broken/{kind}/")
    with pytest.raises(AAEError) as caught:
        load_mnist()
    message = str(caught.value)
    assert "\n" not in message
    assert f"{mirror}broken/{kind}/{LABELS}.gz" in message and BROKEN[kind] in message, message
    assert "by hand" in message
    assert sorted(p.name for p in online.iterdir()) == sorted(set(RAW_FILES) - {LABELS})


def test_no_network_says_what_was_tried_in_one_line(tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}/mnist/"  # nothing listens there
    data = tmp_path / "data"
    result = cli("train", "--labels", "100", "--epochs", "1", "--out", tmp_path / "run",
                 env={"AAE_DATA_DIR": str(data), "AAE_OFFLINE": "", "AAE_MNIST_MIRROR": nowhere})
    assert_one_line_error(result, f"{nowhere}train-images-idx3-ubyte.gz", "by hand", str(data / "MNIST" / "raw"))
    assert list((data / "MNIST" / "raw").iterdir()) == []
    assert not (tmp_path / "run").exists()


def test_offline_fetches_nothing_and_exits_2(mirror, tmp_path):
    data = tmp_path / "data"
    result = cli("train", "--labels", "100", "--epochs", "1", "--out", tmp_path / "run",
                 env={"AAE_DATA_DIR": str(data), "AAE_OFFLINE": "1", "AAE_MNIST_MIRROR": mirror})
    assert_one_line_error(result, "AAE_OFFLINE", str(data / "MNIST" / "raw"), "by hand")
    assert not data.exists(), "AAE_OFFLINE=1 fetched from a mirror that was there"
    assert not (tmp_path / "run").exists()

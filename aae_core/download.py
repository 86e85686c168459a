"""MNIST fetched once, where its IDX files are missing.

Each file comes gzipped from the mirrors torchvision uses (or from $AAE_MNIST_MIRROR, a base URL),
is decompressed under a temporary name beside its final one, checked against the md5 of the
original *uncompressed* file, and only then renamed into place: a wrong or interrupted download
never leaves a file that looks like MNIST. The md5 is of the uncompressed bytes because gzip is
not unique: any faithful gzip of the right bytes passes, a wrong file never does.
AAE_OFFLINE=1 never touches the network.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from .errors import AAEError

MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")  # torchvision's
# The original files, uncompressed: bytes and md5.
FILES = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}
TIMEOUT = 30  # seconds to connect, and at most between two reads, before a mirror counts as unreachable
CHUNK = 1 << 16


class WrongFile(Exception):
    """The download completed but is not the file MNIST has under that name."""


def offline() -> bool:
    return os.environ.get("AAE_OFFLINE", "") not in ("", "0")


def mirrors() -> list[str]:
    base = os.environ.get("AAE_MNIST_MIRROR")
    return [base.rstrip("/") + "/"] if base else list(MIRRORS)


def by_hand(raw: Path) -> str:
    return (f"put the four uncompressed IDX files (gunzip the .gz files of an MNIST mirror such as {MIRRORS[0]}) "
            f"in {raw} by hand, or set AAE_DATA_DIR to a folder that holds MNIST/raw")


def fetch_mnist(raw: Path, names) -> None:
    """Fetch each of `names` into the folder `raw`; AAEError with what was tried if one cannot be had."""
    names = list(names)
    if offline():
        raise AAEError(f"MNIST not found: {raw} lacks {', '.join(names)}, and AAE_OFFLINE is set, so nothing was "
                       f"downloaded; {by_hand(raw)}")
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AAEError(f"MNIST not found, and {raw} cannot be created to fetch it into ({err.strerror}); "
                       "set AAE_DATA_DIR to a writable folder") from None
    if not os.access(raw, os.W_OK):
        raise AAEError(f"MNIST not found: {raw} lacks {', '.join(names)} and is not writable; {by_hand(raw)}")
    for name in names:
        tried = []
        for base in mirrors():
            url = f"{base}{name}.gz"
            try:
                fetch_one(url, raw / name)
                break
            except (WrongFile, OSError, EOFError, zlib.error, http.client.HTTPException, ValueError) as err:
                tried.append(f"{url}: {describe(err)}")
        else:
            raise AAEError(f"MNIST not found: {raw} lacks {name}, and fetching it failed ({'; '.join(tried)}); "
                           f"{by_hand(raw)}")


def describe(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__


def fetch_one(url: str, target: Path) -> None:
    """Download url (gzip), decompress it to a temporary file beside target, check it, rename it to target."""
    size, md5 = FILES[target.name]
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    progress = None
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            progress = Progress(f"{target.name}.gz from {url.rsplit('/', 1)[0]}/",
                                int(response.headers.get("Content-Length") or 0))
            digest = gunzip(Counted(response, progress), out, size, target.name)
        if digest != md5:
            raise WrongFile(f"decompressed, its md5 is {digest}, not MNIST's {md5}")
        os.replace(partial, target)
        progress.done(f"{size:,} bytes, md5 checked")
    except BaseException:
        if progress is not None:
            progress.clear()  # the error that follows stands on a line of its own
        raise
    finally:
        Path(partial).unlink(missing_ok=True)


def gunzip(source, out, size: int, name: str) -> str:
    """Decompress source into out; the md5 of what was written. More than `size` bytes is a wrong file."""
    digest, written = hashlib.md5(usedforsecurity=False), 0
    with gzip.GzipFile(fileobj=source) as unzipped:
        while chunk := unzipped.read(CHUNK):
            written += len(chunk)
            if written > size:
                raise WrongFile(f"decompresses to more than the {size:,} bytes of MNIST's {name}")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


class Counted:
    """A response read through a counter, so that the progress line can say how far it is."""

    def __init__(self, response, progress: "Progress"):
        self.response, self.progress = response, progress

    def read(self, n: int = -1) -> bytes:
        data = self.response.read(n)
        self.progress.advance(len(data))
        return data


class Progress:
    """One line on stderr per file: redrawn in place on a terminal, written once when done elsewhere."""

    def __init__(self, what: str, total: int):
        self.what, self.total, self.received, self.drawn = what, total, 0, 0.0
        self.live = sys.stderr.isatty()

    def advance(self, n: int) -> None:
        self.received += n
        if self.live and time.monotonic() - self.drawn > 0.1:
            self.drawn = time.monotonic()
            of = f" of {self.total / 1e6:.1f}" if self.total else ""
            sys.stderr.write(f"\rMNIST: fetching {self.what}: {self.received / 1e6:.1f}{of} MB")
            sys.stderr.flush()

    def done(self, result: str) -> None:
        line = f"MNIST: fetched {self.what}: {result}"
        sys.stderr.write(f"\r{line}\033[K\n" if self.live else f"{line}\n")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.live:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

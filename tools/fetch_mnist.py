"""MNIST where the package reads it (aae_core.data.data_dir), fetched once where it is missing.

    python tools/fetch_mnist.py

Prints where MNIST is; a fetch prints one line per file; a failure is one line on stderr, exit 1.
"""
from __future__ import annotations

import sys

from aae_core.data import ensure_mnist
from aae_core.errors import AAEError


def main() -> int:
    try:
        raw = ensure_mnist()
    except AAEError as err:
        print(f"fetch_mnist: {err}", file=sys.stderr)
        return 1
    print(f"MNIST: {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

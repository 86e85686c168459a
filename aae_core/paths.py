"""A path a user gave, checked before any work (the command line checks --out while it parses, before
torch loads): can it name a file at all."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import AAEError


def check_path(path: str | Path) -> Path:
    """A path a user gave, refused up front when it cannot name a file: empty, or a part too long."""
    if str(path) == "":
        raise AAEError("an empty path names the current folder; give a folder name")
    for part in Path(path).parts:
        if len(os.fsencode(part)) > 255:
            raise AAEError(f"a part of {str(path)[:60]}... is {len(os.fsencode(part))} bytes long; "
                           "file systems allow 255")
    return Path(path)

"""A path a user gave, checked before any work (the command line checks --out while it parses, before
torch loads): can it name a file at all."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import AAEError


def check_path(path: str | Path) -> Path:
    """A path a user gave, refused up front when it cannot name a file (empty, or a part too long), or
    holds a line break or other control character, which no one-line message or log could name."""
    if str(path) == "":
        raise AAEError("an empty path names the current folder; give a folder name")
    if any(ord(c) < 32 or ord(c) == 127 for c in str(path)):
        raise AAEError(f"the path {str(path)!r} holds a line break or other control character; give a plain name")
    for part in Path(path).parts:
        if len(os.fsencode(part)) > 255:
            raise AAEError(f"a part of {str(path)[:60]}... is {len(os.fsencode(part))} bytes long; "
                           "file systems allow 255")
    return Path(path)

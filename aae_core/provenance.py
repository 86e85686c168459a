"""Where, with what and when a result was computed: the fields every stored result carries, so
that a number in the book can be traced to the code, machine and library that made it."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import torch

from .devices import describe_device
from .speed.malloc import active_malloc

REPO_ROOT = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    """HEAD of the repository the package runs from, '+dirty' if tracked code changed; 'unknown' outside
    git. $AAE_GIT_COMMIT, where set, says it instead: a copy of the tree run on another machine (a
    GPU server) may carry no git, or a stale one."""
    if os.environ.get("AAE_GIT_COMMIT"):
        return os.environ["AAE_GIT_COMMIT"]

    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return "unknown"
        # Only code counts: run folders under results/ change while runs write them.
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results").stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(device: torch.device, wall_seconds: float) -> dict:
    """The fields every stored result carries: device, commit, torch, malloc, wall time, finish time."""
    return {"device": describe_device(device), "git_commit": git_commit(), "torch_version": torch.__version__,
            "malloc": active_malloc(), "wall_seconds": round(wall_seconds, 2),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

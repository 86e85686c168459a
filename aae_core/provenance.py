"""Where, with what and when a result was computed: the fields every stored result carries, so
that a number in the book can be traced to the code, machine and library that made it.

One of them is the malloc the process runs with: the C library's own, or a faster one preloaded.
Every tensor PyTorch makes on a CPU, and every oneDNN call behind a bf16 matrix product, is an
aligned allocation (posix_memalign). glibc serves those on a slow path; tcmalloc and jemalloc from
a cache, so the allocator moves the step's time (appendix C measures by how much). It is chosen
when a process starts (`LD_PRELOAD=...libtcmalloc_minimal.so.4`, as `make bench` does where one is
installed), so the bench and every stored run record which one they ran with.
"""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import torch

from .devices import cpu_capability, describe_device
from .repository import REPO_ROOT

# the allocators a process may have preloaded, by the file name their library starts with
PRELOADABLE = {"libtcmalloc": "tcmalloc", "libjemalloc": "jemalloc", "libmimalloc": "mimalloc"}


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
    """The fields every stored result carries: device (and on a CPU its kernels' instruction set), commit,
    torch, malloc, wall time, finish time."""
    return {"device": describe_device(device),
            "cpu_capability": cpu_capability() if device.type == "cpu" else None,
            "git_commit": git_commit(), "torch_version": torch.__version__,
            "malloc": active_malloc(), "wall_seconds": round(wall_seconds, 2),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def malloc_in_maps(maps: str) -> str | None:
    """The preloaded allocator among the files mapped in `maps` (the text of /proc/PID/maps), if any."""
    for fields in map(str.split, maps.splitlines()):
        name = Path(fields[-1]).name if fields else ""
        for prefix, allocator in PRELOADABLE.items():
            if name.startswith(prefix):
                return allocator
    return None


def active_malloc() -> str:
    """'tcmalloc', 'jemalloc' or 'mimalloc' when one is loaded, else the C library's: 'glibc' or 'system'."""
    try:
        preloaded = malloc_in_maps(Path("/proc/self/maps").read_text())
    except OSError:  # no /proc: not Linux
        preloaded = None
    return preloaded or ("glibc" if platform.libc_ver()[0] == "glibc" else "system")

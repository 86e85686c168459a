"""Which malloc this process runs with: the C library's own, or a faster one preloaded.

Every tensor PyTorch makes on a CPU, and every oneDNN call behind a bf16 matrix product (its
primitive attributes, copied per call), is an aligned allocation (posix_memalign). glibc serves
those on a slow path; tcmalloc and jemalloc from a cache. A step makes hundreds of them, so the
allocator moves the step's time (appendix B measures by how much). It is chosen when a process
starts (`LD_PRELOAD=/path/to/libtcmalloc_minimal.so.4`, as `make bench` does where one is
installed), so the bench and every stored run record which one they ran with.
"""
from __future__ import annotations

import platform
from pathlib import Path

# the allocators a process may have preloaded, by the file name their library starts with
PRELOADABLE = {"libtcmalloc": "tcmalloc", "libjemalloc": "jemalloc", "libmimalloc": "mimalloc"}


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

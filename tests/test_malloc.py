"""Every stored result says which malloc its process ran with: a preloaded allocator moves the step's time."""
import glob
import json

import pytest

from aae_core.malloc import malloc_in_maps
from test_cli import cli

LIBC_MAPS = """7f1b2000-7f1b3000 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1b4000-7f1b5000 rw-p 00000000 00:00 0
7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]"""


def test_a_preloaded_allocator_is_named_from_the_mapped_files():
    tcmalloc = "7f1a0000-7f1a1000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.10"
    assert malloc_in_maps(tcmalloc + "\n" + LIBC_MAPS) == "tcmalloc"
    assert malloc_in_maps(LIBC_MAPS.replace("libc.so.6", "libjemalloc.so.2")) == "jemalloc"
    assert malloc_in_maps(LIBC_MAPS) is None and malloc_in_maps("") is None


PRELOADABLE = sorted(glob.glob("/usr/lib/*/libtcmalloc_minimal.so.4") + glob.glob("/usr/lib/*/libjemalloc.so.2"))


@pytest.mark.parametrize("preload", ["", *PRELOADABLE])
def test_the_bench_records_the_malloc_it_ran_with(preload):
    """Without a preload the C library's (Debian's glibc); with one, the preloaded allocator."""
    result = cli("bench", "--device", "cpu", "--steps", "1", "--batch-size", "10", "--no-reference", "--json",
                 env={"LD_PRELOAD": preload}, check=True)
    expected = next((name for name in ("tcmalloc", "jemalloc") if name in preload), "glibc")
    assert json.loads(result.stdout)["malloc"] == expected

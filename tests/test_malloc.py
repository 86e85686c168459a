"""Every stored result says which malloc its process ran with: a preloaded allocator moves the step's time."""
import glob
import json

import pytest

from aae_core.provenance import malloc_in_maps
from test_cli import QUICK, cli

LIBC_MAPS = """7f1b2000-7f1b3000 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1b4000-7f1b5000 rw-p 00000000 00:00 0
7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]"""


def test_a_preloaded_allocator_is_named_from_the_mapped_files():
    tcmalloc = "7f1a0000-7f1a1000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.10"
    assert malloc_in_maps(tcmalloc + "\n" + LIBC_MAPS) == "tcmalloc"
    assert malloc_in_maps(LIBC_MAPS.replace("libc.so.6", "libjemalloc.so.2")) == "jemalloc"
    assert malloc_in_maps(LIBC_MAPS) is None and malloc_in_maps("") is None


PRELOADABLE = sorted(glob.glob("/usr/lib/*/libtcmalloc_minimal.so.4") + glob.glob("/usr/lib/*/libjemalloc.so.2"))


def recorded_malloc(preload: str) -> str:
    """What a process started with LD_PRELOAD=preload should record (Debian's C library is glibc)."""
    return next((name for name in ("tcmalloc", "jemalloc") if name in preload), "glibc")


@pytest.mark.parametrize("preload", ["", *PRELOADABLE])
def test_the_bench_records_the_malloc_it_ran_with(preload):
    """Without a preload the C library's (Debian's glibc); with one, the preloaded allocator."""
    result = cli("bench", "--device", "cpu", "--steps", "1", "--batch-size", "10", "--no-reference", "--json",
                 env={"LD_PRELOAD": preload}, check=True)
    assert json.loads(result.stdout)["malloc"] == recorded_malloc(preload)


@pytest.mark.skipif(not PRELOADABLE, reason="no tcmalloc or jemalloc installed here (make malloc)")
def test_the_allocator_changes_no_arithmetic(tmp_path):
    """The same bf16 run with the C library's malloc and with a preloaded one: the same losses and
    validation accuracy, to the last bit; only the recorded malloc differs."""
    runs = {}
    for name, preload in (("default", ""), ("preloaded", PRELOADABLE[0])):
        out = tmp_path / name
        cli("train", *QUICK, "--precision", "bf16", "--epochs", "1", "--out", out, env={"LD_PRELOAD": preload},
            check=True)
        history = [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                   for line in (out / "history.jsonl").read_text().splitlines()]
        runs[name] = history, json.loads((out / "summary.json").read_text())
    assert runs["default"][0] == runs["preloaded"][0]
    assert runs["default"][1]["test_accuracy"] == runs["preloaded"][1]["test_accuracy"]
    assert [summary["malloc"] for _, summary in runs.values()] == ["glibc", recorded_malloc(PRELOADABLE[0])]

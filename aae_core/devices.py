"""Which device computes, and how a result names it: runs are bit-identical only on one kind of
machine, so every stored result says which CPU model (and how many threads) or GPU made it."""
from __future__ import annotations

import platform
from pathlib import Path

import torch

from .errors import AAEError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; a named device that is not there is an AAEError."""
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if available[d]))
    if not available.get(name, False):
        raise AAEError(f"device {name!r} is not available on this machine; use --device auto or cpu")
    return torch.device(name)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_capability() -> str:
    """The instruction set torch's CPU kernels run with here ('AVX2', 'AVX512', ...): two CPUs of one
    name can differ in it, and so in their results and their speed."""
    return torch.backends.cpu.get_cpu_capability()


def native_bf16(device: torch.device) -> bool:
    """Whether oneDNN has bf16 support on `device` (on a CPU: AVX-512 or newer instructions); without it,
    as on an AVX2-only CPU, it emulates bf16 products, many times slower than fp32 (appendix C)."""
    if device.type != "cpu":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without the check: assume the hardware has them
        return True


def describe_machine(device: torch.device) -> str:
    """describe_device and, on a CPU, its kernels' instruction set: 'cpu: AMD EPYC, 1 thread, AVX2'.
    A run folder records it for every part of a run (started, then each resume)."""
    words = describe_device(device)
    return f"{words}, {cpu_capability()}" if device.type == "cpu" else words


def describe_device(device: torch.device) -> str:
    """A line that says what ran the computation, for summaries and benches."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu: {cpu_name()}, {threads} thread{'s' if threads != 1 else ''}"
    return device.type

"""Stored benches (`bench --out`), read and tabulated, and the speed targets they are held to."""
from __future__ import annotations

import statistics

from .tables import markdown_table


def read_benches(folder, device: str = "cpu") -> list[dict]:
    """The stored outputs of `bench --out` for one device, ordered by precision, batch size and step
    ('step' names what the step computes with: fp32, bf16 weight copies or bf16 autocast)."""
    from pathlib import Path

    from ..runs.files import read_json

    results = [read_json(path) for path in Path(folder).glob(f"{device}-*.json")]
    for r in results:  # benches stored before bf16 weight copies existed timed autocast
        r.setdefault("step", "bf16, autocast" if r["precision"] == "bf16" else "fp32")
    return sorted(results, key=lambda r: (r["precision"], r["batch_size"], r["step"]))


def machine_line(name: str, results: list[dict]) -> str:
    """Who made a folder of benches: 'amd-epyc-avx2: cpu: AMD EPYC, 2 threads (AVX2), torch ..., commit ...,
    malloc ...', the instruction set where the benches recorded it."""
    first = results[0]
    capability = f" ({first['cpu_capability']})" if first.get("cpu_capability") else ""
    return (f"{name}: {first['device_name']}{capability}, torch {first['torch_version']}, "
            f"commit {first['git_commit'][:7]}, malloc {first.get('malloc', 'not recorded')}")


def bench_table(results: list[dict]) -> str:
    """One row per stored bench: the trainer's step beside the GEMM bound and the plain loop."""
    rows = [[r["step"], r["batch_size"], f"{r['ms_per_step']:.1f}", f"{r['s_per_epoch']:.1f}",
             f"{r['gflop_per_step']:.2f}", f"{r['achieved_gflops']:.0f}", f"{r['gemm_gflops']:.0f}",
             f"{100 * r['ratio_to_gemm']:.0f}%",
             f"{r['reference_ms_per_step']:.1f}" if "reference_ms_per_step" in r else "–",
             f"{r['reference_ms_per_step'] / r['ms_per_step']:.2f}×" if "reference_ms_per_step" in r else "–"]
            for r in results]
    return markdown_table(["step", "batch", "trainer ms/step", "s/epoch", "GFLOP/step", "achieved GFLOP/s",
                           "GEMM alone GFLOP/s", "of GEMM rate", "plain loop ms/step", "trainer speed-up"], rows)


def graph_table(results: list[dict]) -> str:
    """GPU benches: the step replayed as one CUDA graph beside the same step launched kernel by kernel
    (eager), the plain loop and the matrix products alone."""
    rows = [[r["step"], r["batch_size"], f"{r['ms_per_step']:.2f}", f"{r['s_per_epoch']:.2f}",
             f"{r['eager_ms_per_step']:.2f}", f"{r['eager_ms_per_step'] / r['ms_per_step']:.1f}×",
             f"{r['reference_ms_per_step']:.2f}" if "reference_ms_per_step" in r else "–",
             f"{r['gemm_ms_per_step']:.2f}"]
            for r in results if "eager_ms_per_step" in r]
    return markdown_table(["step", "batch", "graph ms/step", "s/epoch", "eager ms/step", "graph speed-up",
                           "plain loop ms/step", "matrix products alone ms/step"], rows)


def kernel_table(results: list[dict]) -> str:
    """The same step with each optimizer kernel (bench --compare-kernels), per precision and batch, beside
    the trainer's own step (in bf16 the kernels are timed under autocast, where the kernel is the whole
    update; the trainer's step computes with bf16 weight copies where the bench says so)."""
    rows = [[r["precision"], r["batch_size"], f"{r['ms_per_step']:.1f} ({r['step']})",
             *(f"{ms:.1f}" for ms in r["optimizer_kernels_ms_per_step"].values())]
            for r in results if "optimizer_kernels_ms_per_step" in r]
    kernels = next((list(r["optimizer_kernels_ms_per_step"]) for r in results
                    if "optimizer_kernels_ms_per_step" in r), [])
    return markdown_table(["precision", "batch", "trainer ms/step", *(f"{k} ms/step" for k in kernels)], rows)


def breakdown_table(results: list[dict]) -> str:
    """Where each profiled step's time goes (bench --breakdown), per precision and batch, beside the
    time its matrix products take alone: the gap between the two is what the other kinds cost."""
    profiled = [r for r in results if "ms_per_step_by_kind" in r]
    kinds = list(profiled[0]["ms_per_step_by_kind"]) if profiled else []
    rows = [[r["step"], r["batch_size"], f"{r['gemm_ms_per_step']:.1f}",
             *(f"{r['ms_per_step_by_kind'][kind]:.1f}" for kind in kinds),
             f"{sum(r['ms_per_step_by_kind'].values()):.1f}"] for r in profiled]
    return markdown_table(["step", "batch", "matrix products alone", *kinds, "profiled step"], rows)


# The speed targets for a CPU at batch 100 (set on a 2-core AMD EPYC): ms per step, and the
# least share of the matrix-multiply rate the step should reach
SPEED_TARGETS_MS = {"fp32": 45.0, "bf16": 25.0}


GEMM_RATIO_TARGET = 0.70


TARGET_BATCH = 100


MALLOC_NOT_RECORDED = "not recorded"  # benches stored before results said which malloc they ran with


def group_repeats(results: list[dict]) -> dict[tuple, list[dict]]:
    """{(step, malloc, batch): the runs of that bench}, in that order: what make bench-repeats ran again."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["step"], r.get("malloc", MALLOC_NOT_RECORDED), r["batch_size"]), []).append(r)
    return dict(sorted(groups.items()))


def repeat_table(results: list[dict], targets: dict = SPEED_TARGETS_MS, ratio_target: float = GEMM_RATIO_TARGET) -> str:
    """Benches of the same step run again and again (make bench-repeats): per step, malloc and batch, how
    far one run's number (its best round) moves between runs, and in how many runs the step met the
    targets (at TARGET_BATCH only). One run's number is a draw from this spread, not the machine's speed."""
    rows = []
    for (step, malloc, batch), runs in group_repeats(results).items():
        ms = sorted(r["ms_per_step"] for r in runs)
        ratios = [r["ratio_to_gemm"] for r in runs]
        at_target_batch = batch == TARGET_BATCH
        target = targets.get(runs[0]["precision"]) if at_target_batch else None
        rows.append([step, malloc, batch, len(runs), f"{ms[0]:.1f}", f"{statistics.median(ms):.1f}", f"{ms[-1]:.1f}",
                     f"{sum(m <= target for m in ms)} of {len(ms)} (≤ {target:g} ms)" if target else "–",
                     f"{100 * statistics.median(ratios):.0f}%",
                     f"{sum(x >= ratio_target for x in ratios)} of {len(ratios)} (≥ {100 * ratio_target:.0f}%)"
                     if at_target_batch else "–"])
    return markdown_table(["step", "malloc", "batch", "runs", "fastest run ms/step", "median run", "slowest run",
                           "runs within the time target", "median of GEMM rate", "runs within the rate target"], rows)


def updates_inside_backward(result: dict) -> bool:
    """Whether a bench's step updated the weights inside the backward pass (benches stored before the
    field existed say so only in their `update` words)."""
    return result.get("update_in_backward", "inside the backward pass" in result.get("update", ""))

"""`python -m aae_core bench`: how fast the trainer's real step runs, against what this machine can do.

Three timings in one process, on the same device and precision:
  step       Trainer.train_step, the code `train` runs (not a copy), after a warm-up; timed in
             rounds that alternate with the reference's, so that a busy neighbour on a shared
             machine slows both alike; the best round is the number, the median is kept beside it;
  gemm       every matrix product of that step (shapes enumerated from the layers), alone:
             the machine's matrix-multiply rate for exactly this work, and so a bound on the step;
  reference  a plain PyTorch step as most tutorials write it (separate forward passes per loss,
             fresh label tensors, one optimizer per network and loss), for comparison;
  eager      (CUDA) the trainer's step launched kernel by kernel, beside its replay as one CUDA graph.
  breakdown  (CPU, optional) the step under torch.profiler, its operators' own time summed by
             kind: matrix products, dtype casts and copies, optimizer updates, everything else;
             what is left of the step beside its matrix products, and where.
FLOPs are counted from the layer shapes: 2 * m * k * n per matrix product.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..config import N_TRAIN, OPTIMIZER_KERNELS, PRESETS, ModelConfig, TrainConfig
from ..data import SemiSupervisedData
from ..errors import AAEError
from ..models import SemiSupervisedAAE
from ..provenance import provenance
from ..train import Trainer
from .updaters import SpeedOptions, fastest_updater, updater_with


@dataclass(frozen=True)
class Linear:
    n_in: int
    n_out: int


def layers(sizes: list[int]) -> list[Linear]:
    return [Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]


def linear_gemms(stack: list[Linear], batch: int, forward=True, weight_grads=True, input_grads=True) -> list[tuple]:
    """(m, k, n) of the matrix products that `stack` does for `batch` rows.

    forward: x W^T (B, in)(in, out); weight grad: dY^T x (out, B)(B, in); input grad: dY W (B, out)(out, in).
    The first layer's input grad is skipped unless its input needs one (input_grads == 'all').
    """
    shapes = []
    for i, layer in enumerate(stack):
        if forward:
            shapes.append((batch, layer.n_in, layer.n_out))
        if weight_grads:
            shapes.append((layer.n_out, batch, layer.n_in))
        if input_grads == "all" or (input_grads and i > 0):
            shapes.append((batch, layer.n_out, layer.n_in))
    return shapes


def step_gemms(cfg: ModelConfig, batch: int, labeled_batch: int) -> list[tuple]:
    """Every matrix product of one Trainer.train_step, phase by phase (see train.py)."""
    h = cfg.hidden_dim
    trunk = layers([cfg.input_dim, h, h])
    heads = [Linear(h, cfg.n_classes), Linear(h, cfg.style_dim)]
    encoder = trunk + heads
    decoder = layers([cfg.n_classes + cfg.style_dim, h, h, cfg.input_dim])
    disc = layers([cfg.n_classes, cfg.disc_hidden_dim, cfg.disc_hidden_dim, 1])  # D_y; D_z has the same shapes
    g = []
    # (1) reconstruction: encoder + decoder forward and backward
    g += linear_gemms(encoder, batch) + linear_gemms(decoder, batch, input_grads="all")
    # (2a) discriminators: one encoder forward; each D on prior samples and on detached codes
    g += linear_gemms(encoder, batch, weight_grads=False, input_grads=False)
    g += 2 * linear_gemms(disc, 2 * batch)
    # (2b) generator: each D forward on the codes, backward to its input only; encoder backward
    g += 2 * linear_gemms(disc, batch, weight_grads=False, input_grads="all")
    g += linear_gemms(encoder, batch, forward=False)
    # (3) semi-supervised: encoder forward, backward through the trunk and the y head
    g += linear_gemms(encoder, labeled_batch, weight_grads=False, input_grads=False)
    g += linear_gemms(trunk + heads[:1], labeled_batch, forward=False)
    return g


def flops(gemms: list[tuple]) -> float:
    return float(sum(2 * m * k * n for m, k, n in gemms))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_per_call(fn, device: torch.device, steps: int, warmup: int) -> float:
    """Seconds per call of fn(), after `warmup` calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def time_alternating(fns: dict, device: torch.device, steps: int, warmup: int, rounds: int = 5) -> dict:
    """{name: (best, median) seconds per call}: each fn warmed up, then `rounds` rounds of about
    steps / rounds calls, the fns taking turns round by round."""
    rounds = min(rounds, steps)
    per_round = [steps // rounds + (i < steps % rounds) for i in range(rounds)]
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for calls in per_round:
        for name, fn in fns.items():
            times[name].append(time_per_call(fn, device, calls, warmup=0))
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


def time_gemms(gemms: list[tuple], device: torch.device, dtype: torch.dtype, repeats: int) -> float:
    """Seconds for all of `gemms` once, each product timed alone (the best of `repeats` rounds)."""
    distinct = Counter(gemms)
    total = 0.0
    for (m, k, n), count in distinct.items():
        a = torch.randn(m, k, device=device, dtype=dtype)
        b = torch.randn(k, n, device=device, dtype=dtype)
        best = min(time_per_call(lambda: torch.mm(a, b), device, steps=20, warmup=3) for _ in range(repeats))
        total += best * count
    return total


# Operator names by kind, for the breakdown (aten names as torch.profiler reports them on a CPU):
# whole names, or name prefixes (every fused or foreach kernel, the optimizers' own records).
OPERATOR_KINDS = {
    "matrix products": {"names": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::_addmm_activation")},
    "casts and copies": {"names": ("aten::copy_", "aten::_to_copy", "aten::to", "aten::clone", "aten::contiguous")},
    # the optimizer: torch's kernels, and the compiled update of the bf16 weight copies (the only
    # compiled code in a step) with the calls that enter it
    "optimizer": {"prefixes": ("aten::_fused_", "aten::_foreach_", "Optimizer.", "## Call CompiledFxGraph",
                               "Torch-Compiled Region", "TorchDynamo Cache Lookup", "AOTDispatcher")},
}


def operator_kind(name: str) -> str:
    for kind, match in OPERATOR_KINDS.items():
        if name in match.get("names", ()) or name.startswith(match.get("prefixes", ())):
            return kind
    return "other operators"


@contextlib.contextmanager
def stderr_silenced():
    """File descriptor 2 to /dev/null inside: the profiler's C++ side (kineto) logs its start and stop
    there, which Python's sys.stderr cannot catch."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def time_by_kind(step_fn, steps: int) -> dict:
    """{kind: ms per step} of `steps` calls of step_fn on the CPU under torch.profiler: each operator's
    own time (its children's not counted twice), summed by `operator_kind`; "outside operators" is
    the rest of the profiled wall time (Python, autograd bookkeeping, the profiler itself)."""
    from torch.profiler import ProfilerActivity, profile

    with stderr_silenced():
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                step_fn()
        wall_ms = 1e3 * (time.perf_counter() - start) / steps
    by_kind = dict.fromkeys([*OPERATOR_KINDS, "other operators"], 0.0)
    for event in prof.key_averages():
        by_kind[operator_kind(event.key)] += event.self_cpu_time_total / 1e3 / steps
    by_kind["outside operators"] = max(wall_ms - sum(by_kind.values()), 0.0)
    return by_kind


def random_data(cfg: ModelConfig, n_unlabeled: int, n_labeled: int, device) -> SemiSupervisedData:
    """MNIST-shaped tensors: the step's speed does not depend on the pixel values."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n_unlabeled, cfg.input_dim, generator=gen)
    y = torch.randint(cfg.n_classes, (n_unlabeled,), generator=gen)
    return SemiSupervisedData(x, x[:n_labeled], y[:n_labeled], x[:1000], y[:1000], x[:1000], y[:1000]).to(device)


def bench_data(cfg: ModelConfig, batch_size: int, device) -> SemiSupervisedData:
    """The benches' data: a pool of 50 batches (at least 5,000 images) and one labeled batch."""
    return random_data(cfg, n_unlabeled=max(50 * batch_size, 5000), n_labeled=batch_size, device=device)


def bench_trainer(cfg: TrainConfig, data: SemiSupervisedData, device, updater=fastest_updater) -> Trainer:
    """A trainer on the bench data with weights drawn from `cfg.seed`, so that every bench times the
    same networks; `updater` as Trainer takes it (by default the one `train` uses)."""
    torch.manual_seed(cfg.seed)
    return Trainer(SemiSupervisedAAE(ModelConfig()), cfg, data, device=device, progress=False, updater=updater)


def step_kind(precision: str, bf16_weights: str) -> str:
    """What the timed step computes with, for tables: 'fp32', 'bf16, weight copies' or 'bf16, autocast'."""
    return "fp32" if precision == "fp32" else f"bf16, {'weight copies' if bf16_weights == 'copies' else 'autocast'}"


def reference_step_fn(model: SemiSupervisedAAE, data: SemiSupervisedData, batch: int, precision: str, device):
    """A plain step: every loss recomputes its own forward pass, one SGD optimizer per update,
    label tensors made on the fly. Same networks, same learning rates (the paper-sgd preset)."""
    preset = PRESETS["paper-sgd"]

    def sgd(params, phase):
        return torch.optim.SGD(params, lr=preset.lr[phase], momentum=preset.momentum[phase])

    opts = {
        "recon": sgd([*model.encoder.parameters(), *model.decoder.parameters()], "reconstruction"),
        "d_y": sgd(model.disc_y.parameters(), "discriminator"),
        "d_z": sgd(model.disc_z.parameters(), "discriminator"),
        "g_y": sgd(model.encoder.parameters(), "generator"),
        "g_z": sgd(model.encoder.parameters(), "generator"),
        "class": sgd(model.encoder.parameters(), "semi_supervised"),
    }
    bce = torch.nn.BCEWithLogitsLoss()

    def update(name, loss):
        opts[name].zero_grad()
        loss.backward()
        opts[name].step()

    def step():
        idx = torch.randint(len(data.unlabeled_x), (batch,), device=device)
        x = data.unlabeled_x[idx]
        x_noisy = x + 0.3 * torch.randn_like(x)
        ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            update("recon", ((model(x_noisy) - x) ** 2).sum(dim=1).mean())
            y_real = F.one_hot(torch.randint(10, (batch,), device=device), 10).float()
            update("d_y", bce(model.disc_y(y_real), ones) + bce(model.disc_y(model.encode(x_noisy)[0].detach()), zeros))
            z_real = torch.randn(batch, 10, device=device)
            update("d_z", bce(model.disc_z(z_real), ones) + bce(model.disc_z(model.encode(x_noisy)[1].detach()), zeros))
            update("g_y", bce(model.disc_y(model.encode(x_noisy)[0]), ones))
            update("g_z", bce(model.disc_z(model.encode(x_noisy)[1]), ones))
            x_l, y_l = data.labeled_x, data.labeled_y
            update("class", F.cross_entropy(model.encoder(x_l + 0.3 * torch.randn_like(x_l))[0], y_l))

    return step


def run_bench(device: torch.device, precision: str = "fp32", batch_size: int = 100, steps: int = 50,
              warmup: int = 10, reference: bool = True, gemm_repeats: int = 3,
              compare_kernels: bool = False, breakdown: bool = False, bf16_weights: str = "copies",
              cuda_graphs: bool | None = None) -> dict:
    """Time the trainer's step, the GEMM bound and (optionally) the reference loop; return the numbers.
    compare_kernels: also time the step with torch's optimizer steps after the backward pass, with
    each kernel (what the trainer's own updates gain; in bf16 under autocast's casts);
    breakdown: also profile the step and sum its time by kind of operator (CPU only);
    bf16_weights: with bf16, the step computes with bf16 weight copies or casts under autocast;
    cuda_graphs: replay the step as a CUDA graph (None: on a CUDA device), timed beside the eager step."""
    if breakdown and device.type != "cpu":
        raise AAEError("--breakdown sums CPU operator times; on a GPU use torch.profiler with CUDA activity")
    start = time.perf_counter()
    model_cfg = ModelConfig()
    cfg = TrainConfig(labels=batch_size, batch_size=batch_size, precision=precision, device=device.type)
    data = bench_data(model_cfg, batch_size, device)

    def trainer_with(kernel=None, weights=bf16_weights, in_backward=True, graphs=cuda_graphs):
        options = SpeedOptions(optimizer_kernel=kernel, bf16_weights=weights, update_in_backward=in_backward,
                               cuda_graphs=graphs)
        return bench_trainer(cfg, data, device, updater_with(options))

    trainer = trainer_with()  # the updater `train` uses on this device
    timed = {"step": trainer.train_step}
    if trainer.updater.graphed:  # what the graph gains: the same step launched op by op
        timed["eager"] = trainer_with(graphs=False).train_step
    if compare_kernels:
        timed.update({kernel: trainer_with(kernel, "autocast", in_backward=False).train_step
                      for kernel in OPTIMIZER_KERNELS})
    if reference:
        torch.manual_seed(0)
        timed["reference"] = reference_step_fn(SemiSupervisedAAE(model_cfg).to(device), data, batch_size,
                                               precision, device)
    timings = time_alternating(timed, device, steps, warmup)
    seconds = timings["step"][0]

    gemms = step_gemms(model_cfg, batch_size, batch_size)
    gflop = flops(gemms) / 1e9
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    gemm_seconds = time_gemms(gemms, device, dtype, gemm_repeats)
    result = {
        "ms_per_step": 1e3 * seconds,
        "ms_per_step_median": 1e3 * timings["step"][1],
        "s_per_epoch": seconds * (N_TRAIN // batch_size),
        "gflop_per_step": gflop,
        "achieved_gflops": gflop / seconds,
        "gemm_gflops": gflop / gemm_seconds,
        "gemm_ms_per_step": 1e3 * gemm_seconds,
        "ratio_to_gemm": gemm_seconds / seconds,
        "precision": precision,
        "step": step_kind(precision, bf16_weights),
        "optimizer_kernel": trainer.updater.kernel,
        "update": trainer.updater.description,
        "update_in_backward": trainer.updater.in_backward,
        "batch_size": batch_size,
        "steps_timed": steps,
    }
    if "eager" in timings:
        result["eager_ms_per_step"] = 1e3 * timings["eager"][0]
    if compare_kernels:
        result["optimizer_kernels_ms_per_step"] = {kernel: 1e3 * timings[kernel][0] for kernel in OPTIMIZER_KERNELS}
    if breakdown:
        result["ms_per_step_by_kind"] = time_by_kind(trainer.train_step, min(steps, 20))
    if reference:
        result["reference_ms_per_step"] = 1e3 * timings["reference"][0]
        result["reference_ms_per_step_median"] = 1e3 * timings["reference"][1]
    stored = provenance(device, time.perf_counter() - start)
    return {**result, **stored, "device": str(device), "device_name": stored["device"]}


def format_bench(r: dict) -> str:
    lines = [
        f"device {r['device_name']}, {r['precision']}, batch {r['batch_size']} (+{r['batch_size']} labeled), "
        f"{r.get('update', r['optimizer_kernel'] + ' optimizer steps')}, {r['steps_timed']} steps timed"
        + (f", malloc {r['malloc']}" if "malloc" in r else ""),
        f"  trainer step     {r['ms_per_step']:8.1f} ms   {r['s_per_epoch']:6.1f} s per epoch of {N_TRAIN // r['batch_size']} steps"
        f"   (best round; median {r['ms_per_step_median']:.1f} ms)",
        f"  step FLOPs       {r['gflop_per_step']:8.2f} GFLOP (from the layer shapes)",
        f"  achieved         {r['achieved_gflops']:8.1f} GFLOP/s",
        f"  matrix products  {r['gemm_gflops']:8.1f} GFLOP/s alone ({r['gemm_ms_per_step']:.1f} ms per step's worth)",
        f"  ratio            {100 * r['ratio_to_gemm']:8.1f} % of the matrix-multiply rate",
    ]
    if "eager_ms_per_step" in r:
        lines.append(f"  without graph    {r['eager_ms_per_step']:8.1f} ms per step (each kernel launched from Python)")
    after = "after backward" + (", autocast" if r["precision"] == "bf16" else "")
    for kernel, ms in r.get("optimizer_kernels_ms_per_step", {}).items():
        lines.append(f"  {kernel + ' optimizer':16s} {ms:8.1f} ms per step ({after})")
    for kind, ms in r.get("ms_per_step_by_kind", {}).items():
        lines.append(f"  {kind:16s} {ms:8.1f} ms per step (profiled)")
    if "reference_ms_per_step" in r:
        lines.append(f"  plain reference  {r['reference_ms_per_step']:8.1f} ms per step "
                     f"({r['reference_ms_per_step'] / r['ms_per_step']:.2f}x the trainer)")
    return "\n".join(lines)


def single_run_rate(batch_size: int, steps: int, warmup: int, threads: int, start=None) -> float:
    """Steps per second of one run on random data with `threads` threads; the timing starts once every
    process of a side-by-side measurement is warm (`start`, a barrier), so that they run together."""
    torch.set_num_threads(threads)
    cfg = TrainConfig(labels=batch_size, batch_size=batch_size, seed=0, device="cpu")
    trainer = bench_trainer(cfg, bench_data(ModelConfig(), batch_size, "cpu"), torch.device("cpu"))
    for _ in range(warmup):
        trainer.train_step()
    if start is not None:
        start.wait()
    return 1.0 / time_per_call(trainer.train_step, torch.device("cpu"), steps, warmup=0)


def side_by_side_rate(processes: int, batch_size: int, steps: int, warmup: int) -> float:
    """Runs x steps per second of `processes` separate runs at once, one thread each: a CPU's other
    way of running many runs, one per core."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(processes) as pool:
        start = manager.Barrier(processes)
        rates = pool.starmap(single_run_rate, [(batch_size, steps, warmup, 1, start)] * processes)
    return sum(rates)


def run_stacked_bench(device: torch.device, runs: int, batch_size: int = 100, steps: int = 20, warmup: int = 3) -> dict:
    """R runs stacked (speed/stacked.py) against the same R runs stepped one after another with the
    trainer's own step, in the same process, turn by turn; on a CPU also against separate runs side by
    side, one per core with one thread each. Runs x steps per second of each, and the ratios."""
    from .stacked import StackedRun, StackedTrainer

    start = time.perf_counter()
    model_cfg = ModelConfig()
    cfgs = [TrainConfig(labels=batch_size, batch_size=batch_size, seed=seed, device=device.type) for seed in range(runs)]
    data = bench_data(model_cfg, batch_size, device)
    stacked = StackedTrainer([StackedRun.fresh(cfg, data, model_cfg, device) for cfg in cfgs], device)
    stacked.set_learning_rates()
    singles = [bench_trainer(cfg, data, device) for cfg in cfgs]
    timings = time_alternating({"stacked": stacked.step, "single": lambda: [t.train_step() for t in singles]},
                               device, steps, warmup)
    stacked_rate, single_rate = runs / timings["stacked"][0], runs / timings["single"][0]
    result = {"runs": runs, "batch_size": batch_size, "steps_timed": steps,
              "stacked_run_steps_per_s": stacked_rate, "single_run_steps_per_s": single_rate,
              "stacked_over_single": stacked_rate / single_rate, "stacked_ms_per_step": 1e3 * timings["stacked"][0],
              "single_ms_per_run_step": 1e3 * timings["single"][0] / runs,
              "single": "one run after another, each with the trainer's own step and every thread"}
    if device.type == "cpu":
        # a stack makes the same products as its runs: their time alone is its ceiling
        products = time_gemms(step_gemms(model_cfg, batch_size, batch_size), device, torch.float32, repeats=3)
        processes = min(runs, torch.get_num_threads())
        rate = side_by_side_rate(processes, batch_size, steps, warmup)
        result.update({"products_only_run_steps_per_s": 1.0 / products, "side_by_side_processes": processes,
                       "side_by_side_run_steps_per_s": rate, "stacked_over_best_single": stacked_rate / max(single_rate, rate),
                       "best_single": "side by side" if rate > single_rate else "one at a time"})
    stored = provenance(device, time.perf_counter() - start)
    return {**result, **stored, "device": str(device), "device_name": stored["device"]}


def format_stacked_bench(r: dict) -> str:
    lines = [
        f"device {r['device_name']}, {r['runs']} runs, batch {r['batch_size']}, {r['steps_timed']} steps timed",
        f"  stacked          {r['stacked_run_steps_per_s']:8.1f} run-steps/s   ({r['stacked_ms_per_step']:.1f} ms per stacked step)",
        f"  one at a time    {r['single_run_steps_per_s']:8.1f} run-steps/s   ({r['single_ms_per_run_step']:.1f} ms per run's step)"]
    if "products_only_run_steps_per_s" in r:
        lines.append(f"  products alone   {r['products_only_run_steps_per_s']:8.1f} run-steps/s   "
                     "(a step's matrix products and nothing else: the most a stack can reach)")
    if "side_by_side_run_steps_per_s" in r:
        lines.append(f"  side by side     {r['side_by_side_run_steps_per_s']:8.1f} run-steps/s   "
                     f"({r['side_by_side_processes']} {'process' if r['side_by_side_processes'] == 1 else 'processes'}, one thread each)")
    lines.append(f"  stacked / one at a time {r['stacked_over_single']:5.2f}x")
    if "stacked_over_best_single" in r:
        lines.append(f"  stacked / best single   {r['stacked_over_best_single']:5.2f}x   (best: {r['best_single']})")
    return "\n".join(lines)

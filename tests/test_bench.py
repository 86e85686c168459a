"""The bench measures the real step; its FLOP count must match what PyTorch counts for that step."""
import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from aae_core.speed.bench import flops, random_data, step_gemms
from aae_core.config import ModelConfig, TrainConfig
from aae_core.models import SemiSupervisedAAE
from aae_core.train import Trainer
from conftest import TINY
from test_cli import cli


@pytest.mark.parametrize("model_cfg", [ModelConfig(), TINY], ids=["paper", "tiny"])
@pytest.mark.parametrize("batch,labeled", [(100, 100), (64, 30)])
def test_flops_from_layer_shapes_match_pytorch_count(model_cfg, batch, labeled):
    data = random_data(model_cfg, n_unlabeled=batch * 2, n_labeled=labeled, device="cpu")
    trainer = Trainer(SemiSupervisedAAE(model_cfg), TrainConfig(batch_size=batch, device="cpu"), data,
                      device="cpu", progress=False)
    with FlopCounterMode(display=False) as counter:
        trainer.train_step()
    assert counter.get_total_flops() == flops(step_gemms(model_cfg, batch, labeled))


def test_bench_json_has_the_documented_keys():
    result = cli("bench", "--device", "cpu", "--steps", "2", "--batch-size", "20", "--json", check=True)
    numbers = json.loads(result.stdout)
    for key in ("ms_per_step", "s_per_epoch", "gflop_per_step", "achieved_gflops", "gemm_gflops",
                "device", "precision", "reference_ms_per_step"):
        assert key in numbers, key
    assert numbers["device"] == "cpu" and numbers["precision"] == "fp32"
    assert numbers["optimizer_kernel"] == "fused"  # what `train` uses on a CPU
    assert numbers["s_per_epoch"] == pytest.approx(numbers["ms_per_step"] * 2500 / 1000)
    assert numbers["achieved_gflops"] == pytest.approx(numbers["gflop_per_step"] / numbers["ms_per_step"] * 1000)


@pytest.mark.parametrize("args,words", [(["--steps", "0"], ["steps", "0"]), (["--steps", "1000000"], ["100,000"]),
                                       (["--batch-size", "2001"], ["batch size", "2,000"]),
                                       (["--stack", "0"], ["--stack", "64"])])
def test_bench_bad_input_is_one_line(args, words):
    result = cli("bench", *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and all(word in lines[0] for word in words), result.stderr


def test_bench_compares_optimizer_kernels_and_keeps_its_output(tmp_path):
    out = tmp_path / "bench" / "kernels.json"
    args = ("bench", "--device", "cpu", "--steps", "2", "--batch-size", "10", "--no-reference",
            "--compare-kernels", "--json", "--out", str(out))
    result = cli(*args, check=True)
    stored = json.loads(out.read_text())
    assert json.loads(result.stdout) == stored
    assert set(stored["optimizer_kernels_ms_per_step"]) == {"fused", "foreach", "loop"}
    assert {"git_commit", "torch_version", "wall_seconds", "finished_at", "device_name"} <= stored.keys()
    again = cli(*args)  # a kept result is not overwritten by accident
    assert again.returncode == 2 and "--force" in again.stderr and json.loads(out.read_text()) == stored


def test_breakdown_sums_the_step_by_kind_of_operator():
    from aae_core.speed.bench import operator_kind

    assert operator_kind("aten::addmm") == "matrix products" and operator_kind("aten::copy_") == "casts and copies"
    assert operator_kind("## Call CompiledFxGraph fxp2i2tji4hm") == "optimizer"  # the weight copies' update
    assert operator_kind("aten::_fused_sgd_") == "optimizer" and operator_kind("Optimizer.step#SGD.step") == "optimizer"
    assert operator_kind("aten::relu") == "other operators"
    result = cli("bench", "--device", "cpu", "--steps", "3", "--batch-size", "20", "--no-reference", "--breakdown",
                 "--json", check=True)
    by_kind = json.loads(result.stdout)["ms_per_step_by_kind"]
    assert set(by_kind) == {"matrix products", "casts and copies", "optimizer", "other operators", "outside operators"}
    assert all(ms >= 0 for ms in by_kind.values()) and by_kind["matrix products"] > 0 and by_kind["optimizer"] > 0


def test_bf16_bench_says_what_the_step_computes_with():
    """bf16 benches time the bf16 weight copies unless asked for autocast, and say which in the JSON."""
    from aae_core.speed.bench import format_bench, run_bench

    quick = dict(precision="bf16", batch_size=10, steps=2, warmup=1, reference=False, gemm_repeats=1)
    copies = run_bench(torch.device("cpu"), **quick)
    autocast = run_bench(torch.device("cpu"), **quick, bf16_weights="autocast")
    assert copies["step"] == "bf16, weight copies" and copies["update"].startswith("bf16 weight copies")
    assert autocast["step"] == "bf16, autocast" and autocast["update"] == "autocast, fused optimizer steps inside the backward pass"
    assert "bf16 weight copies" in format_bench(copies).splitlines()[0]

"""R runs stacked in one process: the same losses and weights as R single runs, ordinary run folders,
exact resume, and one line for runs that cannot stack."""
from __future__ import annotations

import pytest
import torch

from aae_core import load_checkpoint
from aae_core.config import ModelConfig, TrainConfig
from aae_core.data import prepare_data
from aae_core.errors import AAEError
from aae_core.evaluate import accuracy
from aae_core.runs.folder import RunFolder
from aae_core.speed.stacked import StackedRun, StackedTrainer, check_stackable, train_stacked_runs
from aae_core.speed.updaters import fastest_updater
from aae_core.train import make_trainer
from conftest import TINY
from test_cli import assert_one_line_error, cli

LOSSES = ["recon", "disc_y", "disc_z", "gen_y", "gen_z", "class"]
MIXED = [TrainConfig(labels=100, unlabeled=600, epochs=1, seed=0, device="cpu"),
         TrainConfig(labels=1000, unlabeled=600, epochs=1, seed=1, device="cpu", preset="sgd-labeled-noise"),
         TrainConfig(labels=50, unlabeled=600, epochs=1, seed=2, device="cpu", preset="sgd-early-drop", noise_std=0.2)]


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


@pytest.mark.parametrize("count", [2, 3])
def test_stacked_runs_take_the_steps_of_single_runs(mnist, count):
    """Ten steps, fp32, against the trainer `train` uses: every loss and weight within 1e-4 relative.
    A stack makes each run's products with the single run's kernel, so the runs can agree bit for bit
    (each run's largest difference is printed), except a run with fewer labels than a batch, whose
    labeled batch is padded to the others' (a taller product sums in another order)."""
    cfgs = MIXED[:count]
    data = [prepare_data(cfg, mnist) for cfg in cfgs]
    stacked = StackedTrainer([StackedRun.fresh(cfg, d, TINY, torch.device("cpu")) for cfg, d in zip(cfgs, data)],
                             torch.device("cpu"))
    stacked.set_learning_rates()
    singles = [make_trainer(cfg, d, TINY, device="cpu", progress=False, updater=fastest_updater)
               for cfg, d in zip(cfgs, data)]
    worst = [0.0] * count
    for _ in range(10):
        together = stacked.step()
        for r, single in enumerate(singles):
            alone = single.train_step()
            worst[r] = max(worst[r], relative(together[r], torch.stack([alone[name] for name in LOSSES])))
    stacked.unstack()
    for r, (run, single) in enumerate(zip(stacked.runs, singles)):
        for a, b in zip(run.model.parameters(), single.model.parameters()):
            worst[r] = max(worst[r], relative(a, b))
    print(f"{count} stacked runs against single runs, 10 steps: largest relative difference per run "
          + ", ".join(f"{w:.1e}" for w in worst))
    assert max(worst) <= 1e-4


def test_a_stacked_run_folder_is_an_ordinary_run_folder(tmp_path, mnist):
    cfgs = [cfg.with_(unlabeled=200) for cfg in MIXED[:2]]
    outs = [tmp_path / "a", tmp_path / "b"]
    summaries = train_stacked_runs(outs, cfgs, TINY, mnist=mnist)
    for out, summary, other in zip(outs, summaries, reversed(outs)):
        run = RunFolder(out)
        assert run.finished and run.summary() == summary and summary.stacked_with == [str(other)]
        assert len(run.history()) == 1 and summary.steps == 2
        model = load_checkpoint(out)
        assert accuracy(model, mnist.test_x, mnist.test_y) == pytest.approx(summary.test_accuracy, abs=0.05)
        single = make_trainer(run.train_config(), prepare_data(run.train_config(), mnist), TINY, device="cpu",
                              progress=False, updater=fastest_updater)
        single.load_state_dict(torch.load(run.checkpoint_path, weights_only=True))  # a single run resumes it
        assert single.epoch == 1


def test_an_interrupted_stack_resumes_exactly(tmp_path, mnist, monkeypatch):
    cfgs = [cfg.with_(unlabeled=200, epochs=2) for cfg in MIXED[:2]]
    whole = train_stacked_runs([tmp_path / "whole-a", tmp_path / "whole-b"], cfgs, TINY, mnist=mnist)
    original = StackedTrainer.train_epoch

    def stop_after_one(self):
        if self.epoch == 1:
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(StackedTrainer, "train_epoch", stop_after_one)
    outs = [tmp_path / "cut-a", tmp_path / "cut-b"]
    with pytest.raises(KeyboardInterrupt):
        train_stacked_runs(outs, cfgs, TINY, mnist=mnist)
    assert all(RunFolder(out).started and not RunFolder(out).finished for out in outs)
    monkeypatch.setattr(StackedTrainer, "train_epoch", original)
    resumed = train_stacked_runs(outs, cfgs, TINY, mnist=mnist, resume=True)
    for out, a, b in zip(outs, whole, resumed):
        assert a.test_accuracy == b.test_accuracy and a.val_accuracy == b.val_accuracy
        uninterrupted = torch.load(RunFolder(str(out).replace("cut", "whole")).checkpoint_path, weights_only=True)
        again = torch.load(RunFolder(out).checkpoint_path, weights_only=True)
        assert all(torch.equal(uninterrupted["model"][k], again["model"][k]) for k in again["model"])


def test_runs_that_cannot_stack_say_why(mnist):
    cfg, data = MIXED[0], prepare_data(MIXED[0], mnist)
    with pytest.raises(AAEError, match="different architectures"):
        check_stackable([cfg, cfg], [TINY, ModelConfig()], [data, data])
    with pytest.raises(AAEError, match="different batch sizes"):
        check_stackable([cfg, cfg.with_(batch_size=50)], [TINY, TINY], [data, data])
    with pytest.raises(AAEError, match="adamw"):
        check_stackable([cfg, cfg.with_(preset="adamw")], [TINY, TINY], [data, data])


def test_reproduce_stacks_runs_and_bad_counts_are_one_line(tmp_path):
    out = tmp_path / "table"
    cli("reproduce", "--labels", "10", "20", "--epochs", "1", "--seeds", "0", "--unlabeled", "200", "--out", out,
        "--stack", "2", "--device", "cpu", check=True)
    for labels, other in (("10", "20"), ("20", "10")):
        summary = RunFolder(out / f"labels-{labels}" / "seed-0").summary()
        assert summary.stacked_with == [str(out / f"labels-{other}" / "seed-0")]
    assert_one_line_error(cli("reproduce", "--stack", "0", "--out", tmp_path / "x"), "--stack")
    assert_one_line_error(cli("reproduce", "--stack", "some", "--out", tmp_path / "x"), "--stack")
    assert_one_line_error(cli("bench", "--stack", "0"), "--stack")
    assert_one_line_error(cli("bench", "--runs", "0"), "--stack")  # the older spelling still works


def test_bench_runs_sets_a_stack_beside_one_at_a_time_side_by_side_and_its_ceiling():
    """The stacked bench on a CPU reports every way of running the runs, and its ratio to the best
    single way is that arithmetic (the numbers themselves are the machine's)."""
    import json

    # two threads, so that two processes run side by side (make test gives each test process one)
    done = cli("bench", "--stack", "2", "--steps", "2", "--device", "cpu", "--json", env={"OMP_NUM_THREADS": "2"},
               check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r["runs"] == 2 and r["side_by_side_processes"] == 2
    rates = [r[k] for k in ("stacked_run_steps_per_s", "single_run_steps_per_s", "side_by_side_run_steps_per_s",
                            "products_only_run_steps_per_s")]
    assert all(rate > 0 for rate in rates)
    best = max(r["single_run_steps_per_s"], r["side_by_side_run_steps_per_s"])
    assert r["stacked_over_best_single"] == pytest.approx(r["stacked_run_steps_per_s"] / best)
    assert r["best_single"] == ("side by side" if best == r["side_by_side_run_steps_per_s"] else "one at a time")


def test_a_stacked_run_that_diverges_writes_its_record_and_the_others_finish(tmp_path, mnist, monkeypatch):
    """From epoch 2 the middle run's inputs are NaN: it keeps its checkpoint of epoch 1 and gets its
    diverged.json, as a single run does; the others finish, bit for bit as in a stack where none diverged."""
    cfgs = [cfg.with_(unlabeled=200, epochs=2) for cfg in MIXED]
    calm = train_stacked_runs([tmp_path / f"calm-{i}" for i in range(3)], cfgs, TINY, mnist=mnist)
    original_epoch, original_noise = StackedTrainer.train_epoch, StackedRun.noise

    def epoch(self):
        self.runs[1].poisoned = self.epoch >= 1
        original_epoch(self)

    def noise(self, x, std):
        return original_noise(self, x, std) * (float("nan") if getattr(self, "poisoned", False) else 1.0)

    monkeypatch.setattr(StackedTrainer, "train_epoch", epoch)
    monkeypatch.setattr(StackedRun, "noise", noise)
    outs = [tmp_path / f"stormy-{i}" for i in range(3)]
    lines = []
    summaries = train_stacked_runs(outs, cfgs, TINY, mnist=mnist, report=lines.append)
    diverged = RunFolder(outs[1])
    assert summaries[1] is None and not diverged.finished and diverged.diverged
    assert diverged.divergence()["epoch"] == 2 and len(diverged.history()) == 1  # the last good checkpoint kept
    assert torch.load(diverged.checkpoint_path, weights_only=True)["epoch"] == 1
    assert any("run 2 of the stack" in line and str(outs[1]) in line for line in lines)
    for r in (0, 2):
        assert RunFolder(outs[r]).finished and summaries[r].test_accuracy == calm[r].test_accuracy
        assert summaries[r].val_accuracy == calm[r].val_accuracy

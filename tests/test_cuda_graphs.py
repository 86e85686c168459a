"""The step replayed as a CUDA graph trains exactly as the eager step; the device-side batches.

The graph tests need a GPU and are skipped without one (CI has none; they run on a lent GPU)."""
import pytest
import torch

from aae_core.data import BatchCycler
from aae_core.errors import AAEError
from aae_core.train import make_trainer
from aae_core.models import SemiSupervisedAAE
from aae_core.speed.updaters import SpeedOptions, updater_with
from conftest import TINY

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def trainer(cfg, data, device="cpu", **kwargs):
    return make_trainer(cfg, data, TINY, device=device, progress=False, updater=updater_with(SpeedOptions(**kwargs)))


def test_batches_on_a_device_are_the_batches_of_the_host():
    host, device = BatchCycler(250, 100, seed=3), BatchCycler(250, 100, seed=3)
    target = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for _ in range(7):  # three passes and a bit: the permutation changes every two batches
        assert torch.equal(host.next(), device.next_on(target).cpu())


@cuda
def test_a_pass_is_copied_to_the_gpu_once():
    """torch.device("cuda") is not the copy's device ("cuda:0"): the copy is kept all the same."""
    cycler = BatchCycler(1000, 100, seed=0)
    cycler.next_on(torch.device("cuda"))
    copy = cycler.perm_on_device[2]
    for _ in range(9):  # the rest of the pass
        cycler.next_on(torch.device("cuda"))
        assert cycler.perm_on_device[2] is copy
    cycler.next_on(torch.device("cuda"))  # a new pass, a new permutation
    assert cycler.perm_on_device[2] is not copy


def test_a_cpu_trainer_launches_its_steps_and_refuses_graphs(small_data, tiny_cfg):
    assert trainer(tiny_cfg, small_data).updater.graphed is False
    with pytest.raises(AAEError, match="CUDA graphs need a CUDA device"):
        trainer(tiny_cfg, small_data, cuda_graphs=True)


def test_only_adamw_is_built_capturable_for_a_graph(small_data, tiny_cfg):
    """torch refuses to record a non-capturable AdamW step; SGD has no such flag."""
    from aae_core.speed.updaters import FastUpdater

    def groups(preset, graphed):
        updater = FastUpdater(SemiSupervisedAAE(TINY), tiny_cfg.with_(preset=preset), torch.device("cpu"), "fused",
                              graphed)  # a CUDA graph is recorded only when it runs a step
        return [g for opt in updater.optimizers.values() for g in opt.param_groups]

    assert all(g["capturable"] and g["fused"] for g in groups("adamw", graphed=True))
    assert not any(g["capturable"] for g in groups("adamw", graphed=False))
    assert not any("capturable" in g for g in groups("paper-sgd", graphed=True))


def fit_both(cfg, data, epochs=2, **kwargs):
    """A graphed and an eager trainer on the GPU, same seed, after `epochs` epochs."""
    graphed = trainer(cfg, data, "cuda", **kwargs)
    eager = trainer(cfg, data, "cuda", cuda_graphs=False, **kwargs)
    assert graphed.updater.graphed and eager.updater.graphed is False
    graphed.fit(epochs)
    eager.fit(epochs)
    return graphed, eager


def assert_same_training(graphed, eager):
    for name, weight in eager.model.state_dict().items():
        torch.testing.assert_close(graphed.model.state_dict()[name], weight, msg=name)
    for old, new in zip(eager.history, graphed.history):
        for key in old:
            if key.startswith("loss_") or key == "val_accuracy":
                assert new[key] == pytest.approx(old[key], rel=1e-4), key
    # the graph advanced the trainer's random stream exactly as the eager steps did
    assert torch.equal(graphed.sampler.get_state(), eager.sampler.get_state())


@cuda
@pytest.mark.parametrize("precision, preset", [("fp32", "paper-sgd"), ("bf16", "paper-sgd"), ("fp32", "adamw")])
def test_a_graphed_step_trains_as_the_eager_step(small_data, tiny_cfg, precision, preset):
    graphed, eager = fit_both(tiny_cfg.with_(precision=precision, preset=preset, device="cuda"), small_data)
    assert graphed.run_step.graph is not None  # 12 steps: 3 eager, then replays
    assert "CUDA graph" in graphed.updater.description
    assert_same_training(graphed, eager)


@cuda
def test_a_new_learning_rate_is_recorded_again(small_data, tiny_cfg):
    cfg = tiny_cfg.with_(device="cuda", lr_milestones=(1,))  # every rate drops tenfold after epoch 1
    graphed, eager = fit_both(cfg, small_data)
    assert graphed.run_step.recorded_with == graphed.run_step.learning_rates()
    assert graphed.run_step.recorded_with[0] == pytest.approx(0.1 * cfg.optimizer.lr["reconstruction"])
    assert_same_training(graphed, eager)


@cuda
def test_a_graphed_run_resumes_as_if_never_stopped(small_data, tiny_cfg):
    cfg = tiny_cfg.with_(device="cuda")
    whole = trainer(cfg, small_data, "cuda")
    whole.fit(3)
    first = trainer(cfg, small_data, "cuda")
    first.fit(1)
    resumed = trainer(cfg, small_data, "cuda")
    resumed.load_state_dict(first.state_dict())
    resumed.fit(3)
    assert_same_training(resumed, whole)


def stacked(cfgs, data, device, cuda_graphs=None):
    from aae_core.speed.stacked import StackedRun, StackedTrainer

    runs = [StackedRun.fresh(cfg, d, TINY, torch.device(device)) for cfg, d in zip(cfgs, data)]
    trainer = StackedTrainer(runs, torch.device(device), cuda_graphs=cuda_graphs)
    trainer.set_learning_rates()
    return trainer


def test_a_stack_on_the_cpu_launches_its_steps(small_data, tiny_cfg):
    assert stacked([tiny_cfg], [small_data], "cpu").run_step.__name__ == "step_on"


@cuda
def test_a_graphed_stack_takes_the_steps_of_the_eager_stack_and_of_single_runs(mnist, tiny_cfg):
    """Ten steps of three stacked runs as one CUDA graph against the same stack launched eagerly (the same
    kernels: within 1e-5 relative, the graph only replays them) and against three single graphed runs
    (within 1e-4, as on the CPU: on a GPU a stack's batched product sums in another order than one
    run's, so last bits differ, and ten steps keep that within 1e-4)."""
    from aae_core.data import prepare_data

    cfgs = [tiny_cfg.with_(seed=seed, device="cuda") for seed in range(3)]
    data = [prepare_data(cfg, mnist) for cfg in cfgs]
    graphed, eager = stacked(cfgs, data, "cuda"), stacked(cfgs, data, "cuda", cuda_graphs=False)
    singles = [trainer(cfg, d, "cuda") for cfg, d in zip(cfgs, data)]
    for _ in range(10):
        together, launched = graphed.step(), eager.step()
        torch.testing.assert_close(together, launched, rtol=1e-5, atol=1e-6)
        for r, single in enumerate(singles):
            alone = single.train_step()
            names = ["recon", "disc_y", "disc_z", "gen_y", "gen_z", "class"]
            torch.testing.assert_close(together[r], torch.stack([alone[n] for n in names]), rtol=1e-4, atol=1e-5)
    assert graphed.run_step.graph is not None
    graphed.unstack()
    for run, single in zip(graphed.runs, singles):
        for a, b in zip(run.model.parameters(), single.model.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)

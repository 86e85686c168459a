"""bf16 weight copies: the same arithmetic as autocast's casts, torch's SGD update, checkpoints that resume."""
import copy

import pytest
import torch

from aae_core.errors import AAEError
from aae_core.train import make_trainer
from aae_core.speed.weight_copies import CompiledUpdate, CopyOptimizer, sgd_momentum_update
from aae_core.speed.updaters import SpeedOptions, fastest_updater, updater_with
from conftest import TINY


def bf16_trainer(cfg, data, **kwargs):
    return make_trainer(cfg.with_(precision="bf16"), data, TINY, device="cpu", progress=False, updater=updater_with(SpeedOptions(**kwargs)))


def test_one_pass_update_is_torch_sgd():
    """Three steps of sgd_momentum_update from bf16 gradients move the weights as torch.optim.SGD does
    from the same gradients in fp32, and leave the new weights, rounded, in the copies."""
    torch.manual_seed(0)
    weight = torch.randn(50, 30)
    reference = weight.clone().requires_grad_()
    sgd = torch.optim.SGD([reference], lr=0.1, momentum=0.9)
    buffer, weight_copy = torch.zeros_like(weight), weight.bfloat16()
    for _ in range(3):
        grad = torch.randn(50, 30).bfloat16()
        reference.grad = grad.float()
        sgd.step()
        sgd_momentum_update([weight], [buffer], [grad], [weight_copy], torch.tensor(0.1), torch.tensor(0.9))
    torch.testing.assert_close(weight, reference.detach(), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(buffer, sgd.state[reference]["momentum_buffer"], rtol=1e-6, atol=1e-7)
    assert torch.equal(weight_copy, weight.bfloat16())


@pytest.mark.parametrize("preset", ["paper-sgd", "adamw"])
def test_copies_compute_what_autocast_computes(small_data, tiny_cfg, preset):
    """One step with bf16 copies and one with autocast's casts give the same fp32 weights (up to the
    last bit of the fp32 update), and the copies hold those weights rounded to bf16."""
    cfg = tiny_cfg.with_(preset=preset)
    trained = {}
    for weights in ("copies", "autocast"):
        trainer = bf16_trainer(cfg, small_data, bf16_weights=weights)
        trainer.train_step()
        trained[weights] = trainer
    copies, autocast = trained["copies"], trained["autocast"]
    assert copies.updater.network("reconstruction") is not copies.model and autocast.updater.network("reconstruction") is autocast.model
    for name, weight in autocast.model.state_dict().items():
        torch.testing.assert_close(copies.model.state_dict()[name], weight, rtol=1e-5, atol=1e-7, msg=name)
    assert all(torch.equal(c, w.bfloat16()) for c, w in zip(copies.updater.network("reconstruction").parameters(), copies.model.parameters()))
    assert all(p.dtype == torch.float32 for p in copies.model.parameters())


def test_copies_train_and_resume_from_a_checkpoint(small_data, tiny_cfg):
    """Checkpoints hold the fp32 weights and torch's own optimizer state: a bf16 run resumes from them
    with its copies refreshed, as an fp32 trainer would."""
    cfg = tiny_cfg.with_(epochs=2)
    first = bf16_trainer(cfg, small_data)
    first.fit(1)
    state = copy.deepcopy(first.state_dict())  # as saved: no tensor shared with `first`
    assert all(p.dtype == torch.float32 for p in state["model"].values())
    assert "momentum_buffer" in state["optimizers"]["reconstruction"]["state"][0]

    resumed = bf16_trainer(cfg, small_data)
    resumed.load_state_dict(state)
    assert all(torch.equal(c, w.bfloat16()) for c, w in zip(resumed.updater.network("reconstruction").parameters(), resumed.model.parameters()))
    first.fit(2)
    resumed.fit(2)
    for name, weight in first.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], weight), name
    assert "bf16 weight copies" in resumed.updater.description


def test_fp32_and_unknown_modes(small_data, tiny_cfg):
    fp32 = make_trainer(tiny_cfg, small_data, TINY, device="cpu", progress=False, updater=fastest_updater)
    assert fp32.updater.network("reconstruction") is fp32.model and fp32.updater.description == "fused optimizer steps inside the backward pass"
    with pytest.raises(AAEError, match="bf16_weights must be one of copies, autocast"):
        bf16_trainer(tiny_cfg, small_data, bf16_weights="halves")


def test_a_failed_compile_falls_back_to_the_eager_update(capsys):
    """Where torch.compile cannot build (no C++ compiler), the update still runs, after one line."""
    def broken(*args):
        raise RuntimeError("no compiler")

    update = CompiledUpdate(compile=lambda: broken)
    weight, weight_copy = torch.ones(4), torch.ones(4).bfloat16()
    for _ in range(2):
        update([weight], [torch.zeros(4)], [torch.ones(4).bfloat16()], [weight_copy], torch.tensor(0.5), torch.tensor(0.0))
    assert update.kernel == "eager" and torch.equal(weight, torch.zeros(4)) and torch.equal(weight_copy, torch.zeros(4).bfloat16())
    assert capsys.readouterr().err.count("torch.compile failed") == 1


def test_copy_optimizer_keeps_torchs_state_format():
    """Its state_dict loads into a plain torch.optim.SGD: an fp32 run can resume a bf16 checkpoint."""
    weight = torch.nn.Parameter(torch.ones(3))
    weight_copy = torch.nn.Parameter(torch.ones(3).bfloat16())
    optimizer = CopyOptimizer(torch.optim.SGD([weight], lr=0.1, momentum=0.9), {weight: weight_copy})
    weight_copy.grad = torch.ones(3).bfloat16()
    optimizer.step()
    plain = torch.optim.SGD([torch.nn.Parameter(torch.ones(3))], lr=0.1, momentum=0.9)
    plain.load_state_dict(optimizer.state_dict())
    assert torch.equal(next(iter(plain.state.values()))["momentum_buffer"], torch.ones(3))
    optimizer.zero_grad()
    assert weight_copy.grad is None


def test_the_labeled_phase_in_fp32_beside_bf16_copies(small_data, tiny_cfg):
    """bf16-fp32-labeled: phase (3) computes with the fp32 weights exactly as an fp32 trainer does,
    and the copies follow; the other phases compute with the bf16 copies."""
    mixed = make_trainer(tiny_cfg.with_(precision="bf16-fp32-labeled"), small_data, TINY, device="cpu", progress=False,
                         updater=fastest_updater)
    fp32 = make_trainer(tiny_cfg, small_data, TINY, device="cpu", progress=False, updater=fastest_updater)
    assert mixed.updater.network("semi_supervised") is mixed.model and mixed.updater.network("reconstruction") is mixed.updater.network("reconstruction")
    x, y = small_data.labeled_x[:20], small_data.labeled_y[:20]
    for trainer in (mixed, fp32):
        trainer.semi_supervised_phase(x, y)
    for name, weight in fp32.model.encoder.state_dict().items():
        assert torch.equal(mixed.model.encoder.state_dict()[name], weight), name
    assert all(torch.equal(c, w.bfloat16()) for c, w in zip(mixed.updater.network("reconstruction").parameters(), mixed.model.parameters()))
    record = mixed.fit(1)[0]
    assert 0 <= record["val_accuracy"] <= 100 and "fp32 (then copied)" in mixed.updater.description

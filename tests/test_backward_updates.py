"""Optimizer steps inside the backward pass: the same weights as torch's step after it, bit for bit."""
import torch

from aae_core.train import make_trainer
from aae_core.speed.updaters import SpeedOptions, updater_with
from conftest import TINY


def trainer(cfg, data, **kwargs):
    return make_trainer(cfg, data, TINY, device="cpu", progress=False, updater=updater_with(SpeedOptions(**kwargs)))


def test_updates_in_backward_give_the_weights_of_a_step_after_it(small_data, tiny_cfg):
    inside, after = trainer(tiny_cfg, small_data), trainer(tiny_cfg, small_data, update_in_backward=False)
    assert inside.updater.in_backward and after.updater.in_backward is False
    assert inside.updater.description == "fused optimizer steps inside the backward pass"
    inside.fit(1)
    after.fit(1)
    for name, weight in after.model.state_dict().items():
        assert torch.equal(inside.model.state_dict()[name], weight), name
    for phase, optimizer in after.optimizers.items():  # the same momenta, in torch's own state format
        resumed = inside.optimizers[phase].state_dict()["state"]
        for index, state in optimizer.state_dict()["state"].items():
            assert torch.equal(resumed[index]["momentum_buffer"], state["momentum_buffer"]), (phase, index)
    assert all(p.grad is None for p in inside.model.parameters())


def test_a_backward_pass_outside_a_phase_keeps_its_gradients(small_data, tiny_cfg):
    """Analysis code that asks for gradients (a saliency map, say) gets them, and no weight moves."""
    model = trainer(tiny_cfg, small_data).model
    before = [p.detach().clone() for p in model.parameters()]
    model(small_data.val_x[:8]).sum().backward()
    assert all(p.grad is not None for p in model.decoder.parameters())
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_only_plain_sgd_with_fused_kernels_updates_in_backward(small_data, tiny_cfg):
    assert trainer(tiny_cfg.with_(preset="adamw"), small_data).updater.in_backward is False
    assert trainer(tiny_cfg, small_data, optimizer_kernel="foreach").updater.in_backward is False
    assert trainer(tiny_cfg.with_(precision="bf16"), small_data).updater.in_backward is False  # bf16 copies update per phase
    assert trainer(tiny_cfg.with_(precision="bf16"), small_data, bf16_weights="autocast").updater.in_backward


def test_the_generator_phase_moves_no_discriminator_weight(small_data, tiny_cfg):
    """The discriminators are frozen in (2b): no hook of theirs fires while the encoder learns."""
    inside = trainer(tiny_cfg, small_data)
    discs = [*inside.model.disc_y.parameters(), *inside.model.disc_z.parameters()]
    after_phase = {}
    update = inside.updater.update

    def recording_update(phase, loss):
        update(phase, loss)
        after_phase[phase] = [p.detach().clone() for p in discs]

    inside.updater.update = recording_update
    inside.regularization_phase(small_data.unlabeled_x[:50])
    assert all(torch.equal(a, b) for a, b in zip(after_phase["discriminator"], after_phase["generator"]))

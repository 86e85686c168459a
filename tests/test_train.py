import pytest
import torch

from aae_core.config import TrainConfig
from aae_core.data import prepare_data
from aae_core.errors import NonFiniteLossError
from aae_core.train import make_trainer
from aae_core.speed.updaters import SpeedOptions, updater_with
from conftest import TINY, weights_equal


def tiny_trainer(cfg, data, **kwargs):
    return make_trainer(cfg, data, TINY, device="cpu", progress=False, updater=updater_with(SpeedOptions(**kwargs)))


def params_of(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


@pytest.mark.parametrize("labels,epoch_def,steps", [(100, "unlabeled", 500), (1000, "unlabeled", 500),
                                                     (100, "labeled", 1), (1000, "labeled", 10), ("all", "labeled", 500)])
def test_steps_per_epoch(mnist, labels, epoch_def, steps):
    cfg = TrainConfig(labels=labels, epoch_def=epoch_def)
    assert tiny_trainer(cfg, prepare_data(cfg, mnist)).steps_per_epoch == steps


def test_seed_repository_epoch_is_one_step_at_100_labels(small_data, tiny_cfg):
    trainer = tiny_trainer(tiny_cfg.with_(epoch_def="labeled", epochs=3), small_data)
    history = trainer.fit()
    assert [r["steps"] for r in history] == [1, 1, 1]


def test_each_phase_moves_only_its_networks(small_data, tiny_cfg):
    trainer = tiny_trainer(tiny_cfg, small_data)
    m = trainer.model
    x = small_data.unlabeled_x[:100]

    before = {name: params_of(getattr(m, name)) for name in ("encoder", "decoder", "disc_y", "disc_z")}
    trainer.reconstruction_phase(trainer.add_noise(x), x)
    assert [changed(before[n], getattr(m, n)) for n in before] == [True, True, False, False]

    before = {name: params_of(getattr(m, name)) for name in before}
    trainer.regularization_phase(trainer.add_noise(x))
    assert [changed(before[n], getattr(m, n)) for n in before] == [True, False, True, True]

    before = {name: params_of(getattr(m, name)) for name in before}
    head_z = params_of(m.encoder.head_z)
    trainer.semi_supervised_phase(small_data.labeled_x, small_data.labeled_y)
    assert [changed(before[n], getattr(m, n)) for n in before] == [True, False, False, False]
    assert not changed(head_z, m.encoder.head_z)


def test_generator_step_leaves_no_gradient_on_discriminators(small_data, tiny_cfg):
    trainer = tiny_trainer(tiny_cfg, small_data, update_in_backward=False)  # gradients kept to be read
    discs = [*trainer.model.disc_y.parameters(), *trainer.model.disc_z.parameters()]
    grads_after = {}
    update = trainer.updater.update

    def recording_update(phase, loss):
        update(phase, loss)
        grads_after[phase] = [p.grad.clone() for p in discs]

    trainer.updater.update = recording_update
    trainer.regularization_phase(small_data.unlabeled_x[:50])
    assert all(torch.equal(a, b) for a, b in zip(grads_after["discriminator"], grads_after["generator"]))
    assert all(p.requires_grad for p in trainer.model.parameters())  # unfrozen again


def test_same_seed_same_history_and_weights(small_data, tiny_cfg):
    runs = [tiny_trainer(tiny_cfg, small_data) for _ in range(2)]
    histories = [[{k: v for k, v in r.items() if k != "seconds"} for r in t.fit()] for t in runs]
    assert histories[0] == histories[1]
    assert weights_equal(runs[0].model.state_dict(), runs[1].model.state_dict())
    other = tiny_trainer(tiny_cfg.with_(seed=1), small_data)
    other.fit()
    assert not weights_equal(runs[0].model.state_dict(), other.model.state_dict())


def test_resume_from_state_matches_uninterrupted(small_data, tiny_cfg):
    cfg = tiny_cfg.with_(epochs=4)
    straight = tiny_trainer(cfg, small_data)
    straight.fit()
    first = tiny_trainer(cfg, small_data)
    first.fit(2)
    state = first.state_dict()
    resumed = tiny_trainer(cfg, small_data)
    resumed.load_state_dict(state)
    resumed.fit()
    assert resumed.epoch == 4 and len(resumed.history) == 4
    assert weights_equal(straight.model.state_dict(), resumed.model.state_dict())


def test_learning_rates_follow_the_preset_schedule(small_data, tiny_cfg):
    trainer = tiny_trainer(tiny_cfg, small_data)
    trainer.epoch = 50
    trainer.set_learning_rates()
    assert trainer.optimizers["reconstruction"].param_groups[0]["lr"] == pytest.approx(0.001)
    assert trainer.optimizers["discriminator"].param_groups[0]["momentum"] == 0.1
    assert trainer.optimizers["semi_supervised"].param_groups[0]["momentum"] == 0.9


def test_nan_loss_stops_with_clear_error(small_data, tiny_cfg):
    broken = small_data.__class__(**{**small_data.__dict__, "unlabeled_x": small_data.unlabeled_x * float("nan")})
    trainer = tiny_trainer(tiny_cfg, broken)
    with pytest.raises(NonFiniteLossError, match="NaN"):
        trainer.fit()
    assert trainer.epoch == 0 and trainer.history == []


@pytest.mark.parametrize("preset", ["paper-sgd", "adamw"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_presets_and_precisions_train(small_data, tiny_cfg, preset, precision):
    trainer = tiny_trainer(tiny_cfg.with_(preset=preset, precision=precision, epochs=1), small_data)
    record = trainer.fit()[0]
    assert record["steps"] == 6 and 0 <= record["val_accuracy"] <= 100
    assert all(torch.isfinite(torch.tensor(v)) for k, v in record.items() if k.startswith("loss_"))


def test_learns_something_quickly(mnist):
    """Two short epochs of the narrow model beat chance by far: the phases fit together."""
    cfg = TrainConfig(labels=1000, unlabeled=5000, epochs=2, device="cpu")
    trainer = tiny_trainer(cfg, prepare_data(cfg, mnist))
    history = trainer.fit()
    assert history[-1]["val_accuracy"] > 40  # chance is 10%
    assert history[-1]["loss_recon"] < history[0]["loss_recon"]


def test_unsupervised_aae_and_plain_autoencoder_share_the_trainer(mnist):
    """Chapter 1's demo: a 2-D code, no y, no labels; with and without the adversarial phase."""
    model_cfg = TINY.__class__(**{**TINY.__dict__, "n_classes": 0, "style_dim": 2})
    cfg = TrainConfig(labels=0, unlabeled=600, epochs=1, z_prior="mixture", device="cpu").check(unsupervised=True)
    data = prepare_data(cfg, mnist)
    aae = make_trainer(cfg, data, model_cfg, device="cpu", progress=False)
    assert aae.loss_names == ["recon", "disc_z", "gen_z"]
    record = aae.fit()[0]
    assert {"loss_recon", "loss_disc_z", "loss_gen_z"} <= record.keys() and "loss_class" not in record
    y, z = aae.model.encode(data.val_x[:5])
    assert y.shape == (5, 0) and z.shape == (5, 2)

    plain = make_trainer(cfg.with_(regularize=False), data, model_cfg, device="cpu", progress=False)
    disc_before = params_of(plain.model.disc_z)
    assert plain.loss_names == ["recon"]
    plain.fit()
    assert not changed(disc_before, plain.model.disc_z)


def test_labels_zero_only_for_the_api():
    from aae_core.errors import AAEError

    with pytest.raises(AAEError, match="labels"):
        TrainConfig(labels=0).check()
    with pytest.raises(AAEError, match="labeled"):
        TrainConfig(labels=0, epoch_def="labeled").check(unsupervised=True)


def test_run_milestones_replace_the_presets(small_data, tiny_cfg):
    cfg = tiny_cfg.with_(preset="adamw", lr_milestones=(2, 40))
    trainer = tiny_trainer(cfg, small_data)
    rates = []
    for epoch in (0, 1, 2, 39, 40):
        trainer.epoch = epoch
        trainer.set_learning_rates()
        rates.append(trainer.optimizers["generator"].param_groups[0]["lr"])
    assert rates == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5])
    assert TrainConfig.from_dict(cfg.to_dict() | {"lr_milestones": [2, 40]}) == cfg


def test_phase_overrides_change_only_their_phase(small_data, tiny_cfg):
    cfg = tiny_cfg.with_(phase_lr={"generator": 0.3}, phase_momentum={"semi_supervised": 0.5})
    trainer = tiny_trainer(cfg, small_data)
    trainer.epoch = 60  # after the first drop: the override is the initial rate, the schedule still applies
    trainer.set_learning_rates()
    groups = {phase: opt.param_groups[0] for phase, opt in trainer.optimizers.items()}
    assert groups["generator"]["lr"] == pytest.approx(0.03) and groups["discriminator"]["lr"] == pytest.approx(0.01)
    assert groups["semi_supervised"]["momentum"] == 0.5 and groups["reconstruction"]["momentum"] == 0.9
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("preset,labeled_noise_std,expected", [
    ("paper-sgd", None, 0.3), ("paper-sgd", 0.7, 0.7), ("paper-sgd", 0.0, 0.0),
    ("sgd-labeled-noise", None, 0.6), ("sgd-labeled-noise", 0.1, 0.1),  # the recipe's noise; a flag overrides it
])
def test_labeled_images_get_their_own_noise_when_asked(small_data, tiny_cfg, preset, labeled_noise_std, expected):
    cfg = tiny_cfg.with_(preset=preset, noise_std=0.3, labeled_noise_std=labeled_noise_std)
    trainer = tiny_trainer(cfg, small_data)
    stds, add_noise = [], trainer.add_noise

    def recording(x, std=None):
        noisy = add_noise(x, std)
        stds.append((noisy - x).std().item())
        return noisy

    trainer.add_noise = recording
    trainer.train_step()  # unlabeled batch first, then the labeled one
    assert stds[0] == pytest.approx(0.3, rel=0.05) and stds[1] == pytest.approx(expected, rel=0.05, abs=1e-7)


def test_supervised_only_trains_the_encoder_alone(small_data, tiny_cfg):
    trainer = tiny_trainer(tiny_cfg.with_(supervised_only=True), small_data)
    decoder, discs = params_of(trainer.model.decoder), params_of(trainer.model.disc_z)
    losses = trainer.train_step()
    assert list(losses) == trainer.loss_names == ["class"]
    assert not changed(decoder, trainer.model.decoder) and not changed(discs, trainer.model.disc_z)
    untouched = tiny_trainer(tiny_cfg, small_data).unlabeled_batches.state_dict()
    assert all(torch.equal(torch.as_tensor(v), torch.as_tensor(untouched[k]))
               for k, v in trainer.unlabeled_batches.state_dict().items())  # no unlabeled batch drawn


@pytest.mark.parametrize("preset", ["paper-sgd", "adamw"])
def test_optimizer_kernels_compute_the_same_update(small_data, tiny_cfg, preset):
    """fused and loop optimizer steps are speed choices: the weights match the foreach trainer's."""
    cfg = tiny_cfg.with_(preset=preset, epochs=1)
    trained = {}
    for kernel in ("foreach", "fused", "loop"):
        trainer = tiny_trainer(cfg, small_data, optimizer_kernel=kernel)
        trainer.fit()
        trained[kernel] = trainer.model.state_dict()
    for kernel in ("fused", "loop"):
        for name, weight in trained["foreach"].items():
            torch.testing.assert_close(trained[kernel][name], weight, rtol=1e-4, atol=1e-6, msg=f"{kernel}: {name}")


def test_resume_uses_this_trainers_optimizer_kernel(small_data, tiny_cfg):
    """A checkpoint saved with fused steps resumes where fused kernels are absent (and back)."""
    fused = tiny_trainer(tiny_cfg, small_data, optimizer_kernel="fused")
    fused.fit(1)
    loop = tiny_trainer(tiny_cfg, small_data, optimizer_kernel="loop")
    loop.load_state_dict(fused.state_dict())
    assert all(not g["fused"] and not g["foreach"] for opt in loop.optimizers.values() for g in opt.param_groups)
    loop.fit(2)
    assert loop.epoch == 2

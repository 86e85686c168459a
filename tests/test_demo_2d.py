"""Chapter 1's demo: the VAE's loss, the `demo-2d` command and its run folders, and the shipped runs.

The command is run for real (a subprocess, tiny settings, into a temporary folder); bad input must
end in one line on stderr and exit status 2. The shipped runs in results/demo-2d must be what the
command writes, from a clean commit, with the adversarial autoencoder's codes on the prior (at
least 75% of the validation codes within 2 standard deviations of a component), and the latent
map's scripts in book/_static must be exported from them.
"""
from __future__ import annotations

import math

import pytest
import torch

from aae_core.chapters import demo
from aae_core.chapters.demo_runs import DemoRun
from aae_core.chapters.demo_training import KINDS, DemoSettings
from aae_core.chapters.latent_map import CODES_SCRIPT, MANIFEST, decoder_script, read_latent_map
from aae_core.cli import build_parser
from aae_core.errors import AAEError
from aae_core.losses import sample_gaussian_mixture, share_near_mixture
from conftest import ROOT
from test_cli import assert_one_line_error, cli

SHIPPED = ROOT / "results" / "demo-2d"
EXPORTED = ROOT / "book" / "_static" / "models" / "demo-2d"
TINY = ["--epochs", "2", "--unlabeled", "200", "--hidden", "16", "--snapshots", "1"]


# ----------------------------------------------------------------------------- the VAE
def test_mixture_log_density_is_the_mixtures():
    std, z = 0.3, torch.randn(50, 2) * 3
    angle = 2 * math.pi * torch.arange(10) / 10
    means = 4.0 * torch.stack([angle.cos(), angle.sin()], dim=1)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.full((10,), 0.1)),
        torch.distributions.Independent(torch.distributions.Normal(means, std), 1))
    assert torch.allclose(demo.mixture_log_density(z, std), mixture.log_prob(z), atol=1e-4)


def test_vae_kl_estimate_is_unbiased_for_a_known_case():
    """With q(z|x) = one prior component, E[log q - log p] is that component's KL to the mixture,
    which is close to log 10 (the other components are far): the estimate must average to it."""
    torch.manual_seed(0)
    model = demo.VAE(DemoSettings(hidden=8).model_config())
    last = model.encoder[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([4.0, 0.0, 2 * math.log(0.3), 2 * math.log(0.3)]))
    x = torch.rand(20000, 784)
    _, kl = demo.vae_loss(model, x, x, 0.3, torch.Generator().manual_seed(1))
    assert kl.item() == pytest.approx(math.log(10), abs=0.02)


def test_vae_trains_and_its_codes_are_draws_of_q(small_data):
    settings = DemoSettings(epochs=1, unlabeled=600, hidden=16)
    runner = demo.make_runner("vae", settings, small_data)
    runner.fit(1)
    assert [r["epoch"] for r in runner.history] == [1] and runner.history[0]["steps"] == 6
    x = small_data.val_x[:100]
    first, again = demo.codes_of(runner.model, x, 0), demo.codes_of(runner.model, x, 0)
    assert torch.equal(first, again) and not torch.equal(first, demo.codes_of(runner.model, x, 1))
    assert runner.model.training  # codes_of leaves the mode as it found it


def test_components_filled_counts_the_components_the_codes_use():
    gen = torch.Generator().manual_seed(0)
    everywhere = sample_gaussian_mixture(5000, 2, 0.3, gen)
    one = sample_gaussian_mixture(5000, 2, 0.3, gen, components=torch.zeros(5000, dtype=torch.long))
    assert demo.components_filled(everywhere, 0.3) > 9.8
    assert demo.components_filled(one, 0.3) == pytest.approx(1.0)
    assert demo.components_filled(torch.zeros(10, 2), 0.3) == 0.0
    assert "samples" in demo.share_table({"samples": everywhere}, 0.3)


@pytest.mark.parametrize("changes,word", [({"epochs": 0}, "epochs"), ({"hidden": 0}, "hidden_dim"),
                                          ({"snapshots": (0,)}, "snapshots"), ({"n_map": 0}, "n_map"),
                                          ({"unlabeled": 5}, "unlabeled"), ({"seed": -1}, "seed")])
def test_settings_out_of_range_are_refused(changes, word):
    with pytest.raises(AAEError, match=word):
        DemoSettings(**changes).check()


def test_the_commands_defaults_are_the_shipped_settings():
    args = build_parser().parse_args(["demo-2d", "--out", "x"])
    settings = DemoSettings()
    assert (args.epochs, args.unlabeled, args.hidden, args.seed, tuple(args.snapshots), args.device) == \
        (settings.epochs, settings.unlabeled, settings.hidden, settings.seed, settings.snapshots,
         settings.device)


# ----------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    out, export = folder / "demo-2d", folder / "map"
    result = cli("demo-2d", "--out", out, *TINY, "--export", export, check=True)
    return out, export, result


def test_the_command_writes_a_run_folder_per_model(tiny_demo):
    out, _, result = tiny_demo
    assert sorted(p.name for p in out.iterdir()) == sorted(KINDS)
    for kind in KINDS:
        run = DemoRun(out / kind)
        assert sorted(p.name for p in run.path.iterdir()) == sorted(demo.RUN_FILES)
        summary, config = run.summary(), run.config()
        assert summary["kind"] == kind and summary["epochs"] == 2 and summary["steps"] == 4
        assert 0 <= summary["share_within_2sd"] <= 100 and summary["git_commit"] == config["git_commits"][0]
        assert {"device", "torch_version", "wall_seconds", "finished_at"} <= summary.keys()
        assert run.settings() == DemoSettings(epochs=2, unlabeled=200, hidden=16, snapshots=(1,))
        assert [r["epoch"] for r in run.history()] == [1, 2]
        snapshots = run.snapshots()
        assert snapshots["epochs"] == [1, 2] and snapshots["codes"][2].shape == (2000, 2)
        model = run.model()
        codes = demo.codes_of(model, torch.rand(3, 784))
        assert codes.shape == (3, 2) and not model.training
        # the last snapshot's decoder is the shipped model's
        z = torch.randn(5, 2)
        assert torch.allclose(run.snapshot_decoder(2)(z), demo.decode(model, z), atol=1e-6)
    assert "within 2 std of a prior component" in result.stdout


def test_the_command_exports_the_latent_map(tiny_demo):
    out, export, result = tiny_demo
    names = {p.name for p in export.iterdir()}
    assert names == {CODES_SCRIPT, MANIFEST} | {decoder_script(k, e) for k in KINDS for e in (1, 2)}
    exported = read_latent_map(export)
    for kind in KINDS:
        assert torch.equal(torch.from_numpy(exported["codes"][kind][1]), DemoRun(out / kind).snapshots()["codes"][2])
    assert exported["epochs"] == [1, 2] and exported["labels"].max() <= 9
    assert "latent map: 7 scripts" in result.stdout


def test_a_finished_demo_is_kept_and_other_settings_are_refused(tiny_demo):
    out, _, _ = tiny_demo
    written = (out / "aae" / "summary.json").stat().st_mtime_ns
    again = cli("demo-2d", "--out", out, *TINY, check=True)
    assert again.stdout.count("already finished") == 3
    assert (out / "aae" / "summary.json").stat().st_mtime_ns == written
    assert_one_line_error(cli("demo-2d", "--out", out, *TINY[:-1], "2"), "other settings", "--force")


@pytest.mark.parametrize("args,words", [
    (["--epochs", "0"], ["epochs"]),
    (["--hidden", "-3"], ["hidden_dim"]),
    (["--snapshots", "0"], ["snapshots"]),
    (["--unlabeled", "5"], ["unlabeled"]),
    (["--seed", "-1"], ["seed"]),
    (["--epochs", "many"], ["epochs", "many"]),
    (["--device", "tpu"], ["device", "tpu"]),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, words):
    assert_one_line_error(cli("demo-2d", "--out", tmp_path / "demo", *args), *words)
    assert not (tmp_path / "demo").exists()


def test_foreign_folders_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert_one_line_error(cli("demo-2d", "--out", tmp_path, *TINY), "notes.txt")
    assert_one_line_error(cli("demo-2d", "--out", tmp_path / "notes.txt", *TINY), "not a folder")


def test_missing_runs_are_named():
    with pytest.raises(AAEError, match="demo-2d --out"):
        demo.load_demo(ROOT / "no-such-folder")


def test_a_damaged_history_is_named_not_read_in_part(tmp_path):
    (tmp_path / "history.jsonl").write_text('{"epoch": 1}\nnot json\n{"epoch": 3}\n')
    with pytest.raises(AAEError, match="line 2 is not a JSON object"):
        DemoRun(tmp_path).history()


# ----------------------------------------------------------------------------- the shipped runs
def test_the_shipped_runs_match_the_prior_and_come_from_clean_code():
    runs = demo.load_demo(SHIPPED)
    for kind, run in runs.items():
        summary = run.summary()
        assert run.settings() == DemoSettings(), f"{kind}: not the command's default settings"
        assert not summary["git_commit"].endswith("+dirty") and summary["git_commit"] != "unknown"
        assert (run.path / "model.pt").stat().st_size < 2**20, "model weights stay small"
    assert runs["aae"].summary()["share_within_2sd"] >= 75, "the demo's AAE must match the prior"
    prior = demo.prior_samples(10_000, DemoSettings())
    assert runs["aae"].summary()["share_within_2sd"] <= share_near_mixture(prior, 0.3) + 5


def test_the_exported_map_is_the_shipped_runs():
    exported = read_latent_map(EXPORTED)
    runs = demo.load_demo(SHIPPED)
    assert exported["epochs"] == runs["aae"].snapshots()["epochs"]
    for kind, run in runs.items():
        snapshots = run.snapshots()
        for i, epoch in enumerate(exported["epochs"]):
            assert torch.equal(torch.from_numpy(exported["codes"][kind][i]), snapshots["codes"][epoch])
        assert torch.equal(torch.from_numpy(exported["labels"]).long(), snapshots["labels"].long())

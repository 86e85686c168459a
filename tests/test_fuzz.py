"""`train` under random options, valid and invalid: every outcome is a finished run (exit 0), one line
on stderr (exit 2) or a diverged run (exit 3), never a traceback.

The cases are drawn from a fixed seed, so a failure is repeated by its test id. A few dozen run with
the unit tests; `make fuzz` runs a few hundred (AAE_FUZZ_CASES, AAE_FUZZ_SEED). Each trains a small
unlabeled pool for at most two epochs, so a case ends in seconds, or at validation."""
from __future__ import annotations

import os
import random
from collections import Counter

import pytest

from aae_core.cli import main
from aae_core.runs.folder import RunFolder

CASES = int(os.environ.get("AAE_FUZZ_CASES", "36"))
SEED = int(os.environ.get("AAE_FUZZ_SEED", "25"))

# option -> (valid values, invalid values); None is a flag, a list several words
VALUES = {
    "--labels": (["100", "10", "20", "all"], ["15", "0", "-10", "many", "50010", "1e2"]),
    "--seed": (["0", "7", str(2**63 - 1)], [str(2**63), "-1", "nan"]),
    "--preset": (["paper-sgd", "sgd-labeled-noise", "sgd-early-drop", "adamw"], ["nope"]),
    "--batch-size": (["50", "100"], ["0", "-5", "100000", "1.5"]),
    "--epoch-def": (["unlabeled", "labeled"], ["x"]),
    "--recon-loss": (["sum", "mean"], ["l1"]),
    "--prior-std": (["1", "5", "1e308"], ["0", "-1", "nan", "inf"]),
    "--noise-std": (["0", "0.3"], ["-0.1", "nan", "inf"]),
    "--labeled-noise-std": (["0.6"], ["nan", "-1"]),
    "--label-subset": (["balanced", "random"], ["x"]),
    "--label-seed": (["3"], ["-1", str(2**63), "x"]),
    "--lr-milestones": ([["1"], ["1", "2"]], [["0"], ["x"]]),
    "--supervised-only": ([None], []),
    "--phase-lr": ([["generator=0.1"], ["generator=1e30"]], [["generator=nan"], ["discriminator=inf"], ["gen=0.1"],
                                                             ["generator=-1"]]),
    "--phase-momentum": ([["generator=0.5"]], [["generator=1"], ["generator=nan"]]),
    "--init-std": (["0", "0.01", "1e30"], ["nan", "inf", "-1"]),
    "--precision": (["fp32", "bf16", "bf16-fp32-labeled"], ["fp8"]),
    "--device": (["cpu", "auto"], ["cuda", "tpu"]),  # cuda: one line on a machine without, a run on one with
    "--no-cuda-graphs": ([None], []),
    "--resume": ([None], []),
    "--force": ([None], []),
}
EPOCHS = (["1", "1", "2"], ["0", "-1", "x", "1.5"])  # always given: the default, 50, would take minutes
UNLABELED = (["100", "200", "600"], ["0", "99", "60000", "x"])
OUTS = (["new"], ["empty name", "a file", "a foreign folder", "an empty folder", "too long"])
INVALID = 0.15  # the chance that an option's value is drawn from its invalid ones


def draw(rng: random.Random, values: tuple[list, list]) -> list[str]:
    """One value of an option as words (none for a flag), invalid with the chance INVALID."""
    valid, invalid = values
    value = rng.choice(invalid if invalid and rng.random() < INVALID else valid)
    return [] if value is None else value if isinstance(value, list) else [value]


def draw_case(index: int, tmp_path, source) -> list[str]:
    """The argv of case `index`: a pool size, epochs, a few options, an --out of some kind, perhaps
    --continue-from."""
    rng = random.Random(SEED * 1_000_003 + index)
    argv = ["train", "--quiet", "--unlabeled", *draw(rng, UNLABELED), "--epochs", *draw(rng, EPOCHS)]
    for option in rng.sample(sorted(VALUES), rng.randint(0, 5)):
        argv += [option, *draw(rng, VALUES[option])]
    if "labeled" in argv and "all" in argv:  # Latała's epoch over 50,000 labels: minutes, not seconds
        argv.remove("labeled")
        argv.remove("--epoch-def")
    if rng.random() < 0.1:
        argv += ["--continue-from", str(rng.choice([source, tmp_path / "no-such-run"]))]
    return argv + ["--out", out_folder(draw(rng, OUTS)[0], tmp_path)]


def out_folder(kind: str, tmp_path) -> str:
    if kind == "empty name":
        return ""
    if kind == "too long":
        return str(tmp_path / ("x" * 300))
    out = tmp_path / "run"
    if kind == "a file":
        out.write_text("not a folder")
    elif kind == "a foreign folder":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    elif kind == "an empty folder":
        out.mkdir()
    return str(out)


@pytest.fixture(scope="module")
def outcomes():
    """Exit statuses of the module's cases, printed at its end (pytest -s, or make fuzz)."""
    seen = Counter()
    yield seen
    print(f"\nfuzz: {sum(seen.values())} cases, outcomes {dict(sorted(seen.items()))}")


@pytest.fixture(scope="module")
def source(tmp_path_factory, mnist):
    """A finished run for --continue-from to draw on (never written by the cases)."""
    out = tmp_path_factory.mktemp("fuzz") / "source"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("aae_core.data.load_mnist", lambda root=None: mnist)
        assert main(["train", "--quiet", "--labels", "100", "--unlabeled", "200", "--epochs", "1",
                     "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("index", range(CASES))
def test_train_ends_in_a_run_or_one_line(index, tmp_path, source, mnist, monkeypatch, capsys, outcomes):
    monkeypatch.setattr("aae_core.data.load_mnist", lambda root=None: mnist)
    argv = draw_case(index, tmp_path, source)
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's usage errors
        code = exit.code
    err = capsys.readouterr().err
    outcomes[code] += 1
    assert code in (0, 2, 3), (argv, err)
    if code == 0:
        assert RunFolder(argv[-1]).finished, argv
    else:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)

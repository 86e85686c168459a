"""Chapter 3's long runs on a lent GPU, sized to a time budget (aae_core/speed/budget.py says how).

    python tools/gpu_long.py run --plan a [b ...] --budget MINUTES --runs DIR --out OUT [--dry-run]
    python tools/gpu_long.py unpack FILES DIR

`run` times the stacked step in its first seconds (a stack of one and of the whole plan), says in
one line what fits and trains exactly that: the largest stack of the plan's first runs that finishes,
or one run alone until the budget ends (stopped after a whole epoch, resumable: run the same command
again, its checkpoint carried back in), or nothing, refused. The run folders are DIR/<preset>/labels-L/
seed-S (results/long in the repository); a run whose folder holds a checkpoint goes on from it. OUT
gets at most 8 files of at most 15 MiB, 60 MiB in all: manifest.json (what was measured, sized,
trained and packed), the runs' small files (config, history with its milestones, summary) in
runs.tar.gz, and in parts, as far as they fit, the unfinished run's checkpoint.pt first, then the
fp16 model.pt files in plan order (the manifest lists any left out). `--dry-run` takes the same path
on the CPU with a tiny model, 200 images and one epoch. `unpack` puts the parts back together
into DIR (results/long).
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import torch

from aae_core.config import ModelConfig
from aae_core.data import load_mnist, prepare_data
from aae_core.errors import AAEError
from aae_core.options import as_options
from aae_core.runs.files import make_folder, refuse_foreign_files
from aae_core.runs.folder import RunFolder
from aae_core.speed.budget import PLANS, measure, plan_steps, size_plan, time_stack
from aae_core.speed.stacked import train_stacked_runs

PART = 15 << 20  # bytes: a returned file holds at most 16 MiB
TOTAL = 60 << 20  # bytes: 64 MiB come back in all
MAX_FILES = 8
SMALL = ("config.json", "history.jsonl", "summary.json", "diverged.json")
TINY = ModelConfig(hidden_dim=64, disc_hidden_dim=32)  # the dry run's model: the same code, seconds on a CPU
STACK_SIZES = (1, 5, 10, 15, 30)  # the stacks timed for appendix C, where the device has the time
ALONE_SETTINGS = ("labels", "seed", "epochs", "milestones", "preset", "precision", "device")  # named even at defaults


def the_plan(names: list[str], dry_run: bool) -> list:
    plan = [run for name in names for run in PLANS[name]]
    if dry_run:  # one epoch, one milestone: the whole path in seconds
        plan = [dataclasses.replace(run, epochs=1, milestones=(1,)) for run in plan]
    return plan


def folder_of(runs_dir: Path, run) -> Path:
    return runs_dir / run.name


def epochs_done(folder: Path) -> int:
    run = RunFolder(folder)
    return len(run.history()) if run.started else 0


def hear_sigint() -> None:
    """In a child before it runs: SIGINT as Python's default (KeyboardInterrupt). A shell that starts a
    command in the background ignores SIGINT for it, and children inherit that; a `train` that ignores
    SIGINT would run past its deadline instead of stopping at an epoch's end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train_alone(folder: Path, cfg, model_cfg: ModelConfig, deadline: float, dry_run: bool) -> str:
    """The run in `folder`, resumed, in a `train` process that is stopped by SIGINT at the deadline. Its
    command line is rendered from the settings (a dry run's tiny model has no `train` option: refused)."""
    argv = [sys.executable, "-m", "aae_core", "train", *as_options(cfg, model_cfg, only=ALONE_SETTINGS),
            "--out", str(folder), "--resume", "--quiet", *as_options(cfg, model_cfg, skip=ALONE_SETTINGS),
            *(["--allow-dirty"] if dry_run else [])]
    proc = subprocess.Popen(argv, preexec_fn=hear_sigint)
    try:
        proc.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        proc.wait()
    return "finished" if RunFolder(folder).finished else f"stopped after epoch {epochs_done(folder)}"


def pack(runs_dir: Path, folders: list[Path], out: Path, keep_checkpoint: Path | None) -> dict:
    """runs.tar.gz with every folder's small files; then the checkpoint to continue and the models, split
    into parts of at most PART bytes, while the files and bytes allowed remain."""
    small = io.BytesIO()
    with tarfile.open(fileobj=small, mode="w:gz") as tar:
        for folder in folders:
            for name in SMALL:
                if (folder / name).exists():
                    tar.add(folder / name, arcname=str((folder / name).relative_to(runs_dir)))
    (out / "runs.tar.gz").write_bytes(small.getvalue())
    budget, files = TOTAL - len(small.getvalue()) - (1 << 20), MAX_FILES - 2  # manifest and small runs
    big = ([keep_checkpoint] if keep_checkpoint else []) + [f / "model.pt" for f in folders if (f / "model.pt").exists()]
    shipped, left = [], []
    for path in big:
        size = path.stat().st_size
        parts = -(-size // PART)
        if size > budget or parts > files:
            left.append(str(path.relative_to(runs_dir)))
            continue
        budget, files = budget - size, files - parts
        shipped.append(str(path.relative_to(runs_dir)))
    if shipped:
        with tarfile.open(out / "weights.tar", "w") as tar:
            for name in shipped:
                tar.add(runs_dir / name, arcname=name)
        data = (out / "weights.tar").read_bytes()
        (out / "weights.tar").unlink()
        for i in range(0, len(data), PART):
            (out / f"weights.tar.part{i // PART}").write_bytes(data[i:i + PART])
    return {"shipped": shipped, "left_out": left}


def stack_rates(plan, mnist, device, model_cfg: ModelConfig, unlabeled) -> dict[int, float]:
    """Run-steps per second of stacks of STACK_SIZES runs of the plan's first setting (seeds 0, 1, ...)."""
    cfg = plan[0].config(device.type).with_(unlabeled=unlabeled)
    cfgs = [cfg.with_(seed=seed) for seed in range(max(STACK_SIZES))]
    data = [prepare_data(c, mnist) for c in cfgs]
    rates = {r: r / time_stack(cfgs[:r], data[:r], model_cfg, device) for r in STACK_SIZES}
    print("gpu_long: run-steps per second, stacks of " + ", ".join(f"{r}: {v:.0f}" for r, v in rates.items()), flush=True)
    return rates


def minutes(text: str) -> float:
    """--budget: a number of minutes above zero (argparse says so in one line otherwise)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"a budget is a number of minutes above 0, not {text!r}")
    return value


def run(args) -> int:
    start = time.time()
    deadline = start + 60 * args.budget
    device = torch.device("cpu" if args.dry_run else "cuda")
    model_cfg = TINY if args.dry_run else ModelConfig()
    unlabeled = 200 if args.dry_run else None
    runs_dir, out = Path(args.runs), Path(args.out)
    refuse_foreign_files(out, (), "this command's")  # OUT is what comes back: nothing else may be in it
    make_folder(out)
    plan = [r for r in the_plan(args.plan, args.dry_run) if not RunFolder(folder_of(runs_dir, r)).finished]
    if not plan:
        print("gpu_long: every run of the plan is finished")
        return 0
    mnist = load_mnist()
    times = measure(plan, mnist, device, model_cfg, unlabeled=unlabeled)
    print(f"gpu_long: a stacked step takes {1e3 * times.one:.2f} ms for 1 run, {1e3 * times.many:.2f} ms for "
          f"{times.runs}; a validation {1e3 * times.validation:.1f} ms ({time.time() - start:.0f} s in)", flush=True)
    rates = stack_rates(plan, mnist, device, model_cfg, unlabeled) if args.rates else {}
    done = epochs_done(folder_of(runs_dir, plan[0]))
    sizing = size_plan(plan, times, plan_steps(plan, unlabeled), deadline - time.time(), first_done=done)
    print(f"gpu_long: {sizing.said}", flush=True)
    folders = [folder_of(runs_dir, r) for r in sizing.runs]
    cfgs = [r.config(device.type).with_(unlabeled=unlabeled) for r in sizing.runs]
    allow_dirty = args.dry_run
    if len(sizing.runs) == 1 and (done or sizing.continue_epochs):
        outcome = [train_alone(folders[0], cfgs[0], model_cfg, start + 60 * args.budget * 0.9, args.dry_run)]
    else:
        train_stacked_runs(folders, cfgs, model_cfg, resume=True, allow_dirty=allow_dirty,
                           checkpoint_every=max(c.epochs for c in cfgs), report=lambda line: None)
        outcome = ["finished"] * len(folders)
    trained_s = time.time() - start
    unfinished = [f for f in folders if not RunFolder(f).finished]
    packed = pack(runs_dir, folders, out, unfinished[0] / "checkpoint.pt" if unfinished else None)
    manifest = {"plan": args.plan, "budget_minutes": args.budget, "device": torch.cuda.get_device_name(device)
                if device.type == "cuda" else "cpu", "dry_run": args.dry_run,
                "step_seconds": dataclasses.asdict(times), "stack_run_steps_per_s": rates, "sizing": sizing.said,
                "runs": {str(f.relative_to(runs_dir)): o for f, o in zip(folders, outcome)},
                "left_for_later": [r.name for r in sizing.left], "seconds": trained_s, **packed}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"gpu_long: {', '.join(f'{k}: {v}' for k, v in manifest['runs'].items())}; {trained_s:.0f} s; "
          f"packed into {out}", flush=True)
    return 0


def packed_runs(tar: tarfile.TarFile) -> dict[str, dict[str, bytes]]:
    """{run folder: {file name: bytes}} of runs.tar.gz."""
    runs: dict[str, dict[str, bytes]] = {}
    for member in tar.getmembers():
        if member.isfile():
            folder, name = member.name.rsplit("/", 1)
            runs.setdefault(folder, {})[name] = tar.extractfile(member).read()
    return runs


def refuse_other_runs(dest: Path, runs: dict[str, dict[str, bytes]]) -> None:
    """Unpacking replaces a folder's files only with a later state of the same run: never another run's
    (other settings), nor an earlier state of its own (an older FILES_AT)."""
    for name, files in runs.items():
        here = RunFolder(dest / name)
        if not here.config_path.exists():
            continue
        incoming = json.loads(files.get("config.json", b"{}")).get("fingerprint")
        if incoming != here.config().get("fingerprint"):
            raise AAEError(f"{here.path} holds another run than the one unpacked there (other settings); "
                           "unpack into another folder")
        done = len(here.history())
        if files.get("history.jsonl", b"").count(b"\n") < done:
            raise AAEError(f"{here.path} is further on ({done} epochs) than what is unpacked there; an older "
                           "FILES_AT?")


def unpack(args) -> int:
    files, dest = Path(args.files), Path(args.dest)
    if not (files / "runs.tar.gz").is_file():
        raise AAEError(f"{files} holds no runs.tar.gz: give the folder that `run` wrote (FILES_AT)")
    if dest.exists() and not dest.is_dir():
        raise AAEError(f"{dest} is not a folder")
    with tarfile.open(files / "runs.tar.gz") as tar:
        refuse_other_runs(dest, packed_runs(tar))
        tar.extractall(dest, filter="data")
    parts = sorted(files.glob("weights.tar.part*"), key=lambda p: int(p.name.rsplit("part", 1)[1]))
    if parts:
        data = b"".join(p.read_bytes() for p in parts)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
    print(f"gpu_long: unpacked {files} into {dest}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run")
    go.add_argument("--plan", nargs="+", choices=sorted(PLANS), required=True)
    go.add_argument("--budget", type=minutes, required=True, help="minutes this command may take, all told")
    go.add_argument("--runs", default="results/long", help="the run folders' root")
    go.add_argument("--out", required=True, help="the folder whose files come back")
    go.add_argument("--dry-run", action="store_true", help="the same path on the CPU: tiny model, 1 epoch")
    go.add_argument("--rates", action="store_true", help=f"first time stacks of {STACK_SIZES} runs (appendix C)")
    back = commands.add_parser("unpack")
    back.add_argument("files")
    back.add_argument("dest")
    args = parser.parse_args()
    try:
        return run(args) if args.command == "run" else unpack(args)
    except (AAEError, OSError, tarfile.TarError) as err:
        print(f"gpu_long: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

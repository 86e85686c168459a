"""Command line: `python -m aae_core {train,evaluate,bench} ...`. Parsing and reporting only.

Every user mistake ends as one line on stderr and exit status 2 (no traceback); a loss that
turns NaN ends with exit status 3, keeping the last good checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from .config import DEVICES, EPOCH_DEFS, LABEL_SUBSETS, PRECISIONS, PRESETS, RECON_LOSSES, ModelConfig, TrainConfig
from .errors import AAEError


PROG = "python -m aae_core"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (the usage text is for --help)."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def labels_arg(text: str) -> int | str:
    if text == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'all' or a number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Semi-supervised adversarial autoencoders on MNIST.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train one model into a run folder")
    train.add_argument("--labels", type=labels_arg, default=100, help="labeled images: 'all' or a multiple of 10 (default 100)")
    train.add_argument("--epochs", type=int, default=50)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--preset", choices=sorted(PRESETS), default="paper-sgd")
    train.add_argument("--out", required=True, help="run folder to create (or to resume)")
    train.add_argument("--unlabeled", type=int, default=None, help="subsample the unlabeled pool (quick runs)")
    train.add_argument("--batch-size", type=int, default=100)
    train.add_argument("--device", choices=DEVICES, default="auto")
    train.add_argument("--precision", choices=PRECISIONS, default="fp32")
    train.add_argument("--epoch-def", choices=EPOCH_DEFS, default="unlabeled",
                       help="'labeled' = the seed repository's epoch (one pass over the labeled set)")
    train.add_argument("--recon-loss", choices=RECON_LOSSES, default="sum")
    train.add_argument("--prior-std", type=float, default=1.0)
    train.add_argument("--label-subset", choices=LABEL_SUBSETS, default="balanced",
                       help="'balanced' = labels/10 per digit; 'random' = any images")
    train.add_argument("--lr-milestones", type=int, nargs="+", metavar="EPOCH", default=None,
                       help="epochs at which the learning rates drop tenfold (default: the preset's 50 1000)")
    train.add_argument("--supervised-only", action="store_true",
                       help="the NN baseline: train the encoder's y head on the labeled images only")
    train.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    train.add_argument("--force", action="store_true", help="overwrite a finished or unfinished run in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = commands.add_parser("evaluate", help="test accuracy of a trained run")
    evaluate.add_argument("run", help="run folder, checkpoint.pt or model.pt")
    evaluate.add_argument("--device", choices=DEVICES, default="auto")
    evaluate.add_argument("--json", action="store_true", help="print one JSON line")
    bench = commands.add_parser("bench", help="time the trainer's step against this machine's matrix-multiply rate")
    bench.add_argument("--device", choices=DEVICES, default="auto")
    bench.add_argument("--precision", choices=PRECISIONS, default="fp32")
    bench.add_argument("--batch-size", type=int, default=100)
    bench.add_argument("--steps", type=int, default=50, help="timed steps, after a warm-up of 10")
    bench.add_argument("--no-reference", action="store_true", help="skip timing the plain reference loop")
    bench.add_argument("--json", action="store_true", help="print one JSON line")
    return parser


def bench_command(args) -> int:
    from .bench import format_bench, run_bench
    from .train import resolve_device

    if args.batch_size < 1 or args.steps < 1:
        raise AAEError("--batch-size and --steps must be positive integers")
    result = run_bench(resolve_device(args.device), args.precision, args.batch_size, args.steps,
                       reference=not args.no_reference)
    print(json.dumps(result) if args.json else format_bench(result))
    return 0


def train_command(args) -> int:
    import torch

    from .data import prepare_data
    from .evaluate import accuracy
    from .runs import RunFolder, describe_device
    from .train import make_trainer, resolve_device

    cfg = TrainConfig(labels=args.labels, epochs=args.epochs, seed=args.seed, preset=args.preset,
                      batch_size=args.batch_size, unlabeled=args.unlabeled, epoch_def=args.epoch_def,
                      recon_loss=args.recon_loss, prior_std=args.prior_std, device=args.device,
                      precision=args.precision, label_subset=args.label_subset,
                      lr_milestones=tuple(args.lr_milestones) if args.lr_milestones else None,
                      supervised_only=args.supervised_only).check()
    device = resolve_device(cfg.device)
    run = RunFolder(args.out)
    if args.resume and not args.force and run.finished_with(cfg):
        print(f"{run.path}: already finished (test accuracy {run.summary()['test_accuracy']:.2f}%)")
        return 0
    data = prepare_data(cfg)  # before the run folder is touched: a data error leaves no trace
    model_cfg = ModelConfig()
    state = run.start(cfg, model_cfg, resume=args.resume, force=args.force)

    def report(trainer, record):
        run.save_epoch(trainer.state_dict())
        losses = "  ".join(f"{name} {record[f'loss_{name}']:.4g}" for name in ("recon", "class")
                           if f"loss_{name}" in record)
        print(f"epoch {record['epoch']:>4}/{cfg.epochs}  {losses}  val {record['val_accuracy']:.2f}%  "
              f"{record['seconds']:.1f} s", flush=True)

    trainer = make_trainer(cfg, data, model_cfg, device=device, callbacks=[report], progress=not args.quiet)
    if state is not None:
        trainer.load_state_dict(state)
        print(f"{run.path}: resuming after epoch {trainer.epoch}", flush=True)
    trainer.fit(cfg.epochs)

    test_accuracy = accuracy(trainer.model, trainer.data.test_x, trainer.data.test_y)
    last = trainer.history[-1]
    run.finish(trainer.model, {
        "test_accuracy": test_accuracy, "val_accuracy": last["val_accuracy"], "epochs": cfg.epochs,
        "labels": cfg.labels, "seed": cfg.seed, "preset": cfg.preset, "epoch_def": cfg.epoch_def,
        "recon_loss": cfg.recon_loss, "prior_std": cfg.prior_std, "unlabeled": len(data.unlabeled_x),
        "label_subset": cfg.label_subset, "supervised_only": cfg.supervised_only,
        "lr_milestones": list(trainer.cfg.optimizer.milestones),
        "batch_size": cfg.batch_size, "steps": sum(r["steps"] for r in trainer.history),
        "device": describe_device(device), "precision": cfg.precision,
        "wall_seconds": round(sum(r["seconds"] for r in trainer.history), 2),
        "git_commit": run.git_commits()[0], "resumed_at_commits": run.git_commits()[1:],
        "torch_version": torch.__version__,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    print(f"test accuracy {test_accuracy:.2f}%  ({run.path})")
    return 0


def evaluate_command(args) -> int:
    from .data import load_mnist
    from .evaluate import accuracy
    from .runs import load_checkpoint
    from .train import resolve_device

    device = resolve_device(args.device)
    model = load_checkpoint(args.run, device)
    mnist = load_mnist()
    test_accuracy = accuracy(model, mnist.test_x.to(device), mnist.test_y.to(device))
    if args.json:
        print(json.dumps({"run": args.run, "test_accuracy": test_accuracy, "n_test": len(mnist.test_y)}))
    else:
        print(f"test accuracy {test_accuracy:.2f}%  ({len(mnist.test_y)} test images, {args.run})")
    return 0


COMMANDS = {"train": train_command, "evaluate": evaluate_command, "bench": bench_command}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .train import NonFiniteLossError

    try:
        return COMMANDS[args.command](args)
    except NonFiniteLossError as err:
        sys.stderr.write(f"{PROG} {args.command}: error: {err}\n")
        return 3
    except AAEError as err:
        sys.stderr.write(f"{PROG} {args.command}: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted; the last finished epoch is kept (--resume continues)\n")
        return 130

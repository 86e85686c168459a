"""Command line: `python -m aae_core {train,evaluate,reproduce,bench,classifier,agreement,export-decoder}`.
Parsing and reporting; the work happens in the modules each command imports.

Every user mistake ends as one line on stderr and exit status 2 (no traceback); a loss that
turns NaN ends with exit status 3, keeping the last good checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import (BENCH_PRECISIONS, BF16_WEIGHTS, DEVICES, EPOCH_DEFS, LABEL_SUBSETS, PRECISIONS, PRESETS,
                     RECON_LOSSES, ModelConfig, TrainConfig)
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


def phase_value(text: str) -> tuple[str, float]:
    """'generator=0.3' -> ('generator', 0.3); the phase name is checked with the rest of the config."""
    phase, _, value = text.partition("=")
    try:
        return phase, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be PHASE=NUMBER, got {text!r}") from None


NO_CUDA_GRAPHS_HELP = "on a GPU, launch each step's kernels from Python instead of replaying one CUDA graph"


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
    train.add_argument("--label-seed", type=int, default=None,
                       help="pick the labeled images with this seed instead of --seed (which still sets the "
                            "initial weights and the batch order)")
    train.add_argument("--noise-std", type=float, default=0.3,
                       help="std of the Gaussian noise on every training input (default 0.3, the paper's)")
    train.add_argument("--labeled-noise-std", type=float, default=None,
                       help="std of the noise on the labeled images of the semi-supervised phase (default: the preset's, else --noise-std)")
    train.add_argument("--init-std", type=float, default=0.01,
                       help="std of the N(0, std^2) initial weights (default 0.01, the seed's); 0 = PyTorch's default")
    train.add_argument("--phase-lr", type=phase_value, nargs="+", metavar="PHASE=LR", default=None,
                       help="override the preset's initial learning rate of a phase (reconstruction, discriminator, "
                            "generator, semi_supervised)")
    train.add_argument("--phase-momentum", type=phase_value, nargs="+", metavar="PHASE=M", default=None,
                       help="override the preset's SGD momentum of a phase")
    train.add_argument("--lr-milestones", type=int, nargs="+", metavar="EPOCH", default=None,
                       help="epochs at which the learning rates drop tenfold (default: the preset's 50 1000)")
    train.add_argument("--supervised-only", action="store_true",
                       help="the NN baseline: train the encoder's y head on the labeled images only")
    train.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    train.add_argument("--continue-from", metavar="RUN", default=None,
                       help="start from the checkpoint of run folder RUN (same settings, more --epochs), "
                            "leaving RUN as it is")
    train.add_argument("--force", action="store_true", help="overwrite a finished or unfinished run in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--no-cuda-graphs", action="store_true", help=NO_CUDA_GRAPHS_HELP)

    evaluate = commands.add_parser("evaluate", help="test accuracy of a trained run")
    evaluate.add_argument("run", help="run folder, checkpoint.pt or model.pt")
    evaluate.add_argument("--device", choices=DEVICES, default="auto")
    evaluate.add_argument("--json", action="store_true", help="print one JSON line")
    bench = commands.add_parser("bench", help="time the trainer's step against this machine's matrix-multiply rate")
    bench.add_argument("--device", choices=DEVICES, default="auto")
    bench.add_argument("--precision", choices=BENCH_PRECISIONS, default="fp32")
    bench.add_argument("--batch-size", type=int, default=100)
    bench.add_argument("--steps", type=int, default=50, help="timed steps, after a warm-up of 10")
    bench.add_argument("--compare-kernels", action="store_true",
                       help="also time the step with torch's optimizer step after the backward pass, "
                            "with each kernel (fused, foreach, loop)")
    bench.add_argument("--bf16-weights", choices=BF16_WEIGHTS, default="copies",
                       help="with bf16: compute with bf16 copies of the weights (default) or cast them under autocast")
    bench.add_argument("--no-reference", action="store_true", help="skip timing the plain reference loop")
    bench.add_argument("--no-cuda-graphs", action="store_true", help=NO_CUDA_GRAPHS_HELP)
    bench.add_argument("--breakdown", action="store_true",
                       help="also profile the step and sum its time by kind of operator (CPU)")
    bench.add_argument("--json", action="store_true", help="print one JSON line")
    bench.add_argument("--out", type=Path, help="also keep the JSON in this file (results/bench/...)")
    bench.add_argument("--force", action="store_true", help="overwrite --out if it exists")

    classifier = commands.add_parser("classifier", help="train the independent CNN that judges generated digits")
    classifier.add_argument("--out", required=True, help="folder for model.pt, history.jsonl and summary.json")
    classifier.add_argument("--epochs", type=int, default=3)
    classifier.add_argument("--seed", type=int, default=0)
    classifier.add_argument("--device", choices=DEVICES, default="auto")
    classifier.add_argument("--force", action="store_true", help="overwrite a finished classifier in --out")

    agreement = commands.add_parser("agreement", help="does the decoder draw the digit y asks for? (chapter 4)")
    agreement.add_argument("runs", nargs="+", metavar="RUN", help="run folders to judge")
    agreement.add_argument("--classifier", required=True, help="folder written by the classifier command")
    agreement.add_argument("--out", required=True, help="JSON file to write")
    agreement.add_argument("--samples", type=int, default=200, help="generated images per digit")
    agreement.add_argument("--seed", type=int, default=0)
    agreement.add_argument("--device", choices=DEVICES, default="auto")
    agreement.add_argument("--force", action="store_true", help="overwrite --out")

    reproduce = commands.add_parser("reproduce", help="Table 3: run the missing runs, resume unfinished ones, print the table")
    reproduce.add_argument("--labels", type=labels_arg, nargs="+", default=[100, 1000, "all"])
    reproduce.add_argument("--epochs", type=int, default=50)
    reproduce.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    reproduce.add_argument("--preset", choices=sorted(PRESETS), default="paper-sgd")
    reproduce.add_argument("--supervised-only", action="store_true", help="the NN baseline (see train --help)")
    reproduce.add_argument("--precision", choices=PRECISIONS, default="fp32")
    reproduce.add_argument("--device", choices=DEVICES, default="auto")
    reproduce.add_argument("--unlabeled", type=int, default=None, help="subsample the unlabeled pool (quick runs)")
    reproduce.add_argument("--jobs", type=int, default=1, help="runs at a time (the CPU threads are split between them)")
    reproduce.add_argument("--out", default=None,
                           help="folder of the runs (default results/table3, results/nn-baseline with "
                                "--supervised-only, results/table3-PRESET for another preset)")
    reproduce.add_argument("--print-commands", action="store_true",
                           help="print the train command of every run not yet finished, one per line, and stop")

    export = commands.add_parser("export-decoder", help="decoder weights for the browser (chapter 4's explorer)")
    export.add_argument("run", help="run folder or model.pt")
    export.add_argument("--out", required=True, help="folder for decoder-weights.js and manifest.json")
    return parser


def classifier_command(args) -> int:
    from .classifier import TRAINING, save_classifier, train_classifier
    from .data import load_mnist, train_val_split
    from .evaluate import accuracy
    from .runs import RunFolder, provenance, refuse_to_overwrite, write_json, write_jsonl
    from .train import resolve_device

    out = Path(args.out)
    if args.epochs < 1:
        raise AAEError("--epochs must be a positive integer")
    refuse_to_overwrite(out / "summary.json", args.force)
    device = resolve_device(args.device)
    mnist = load_mnist()
    train_idx, val_idx = train_val_split(len(mnist.train_x))
    RunFolder(out).ensure_writable()
    start = time.perf_counter()
    model, history = train_classifier(mnist.train_x[train_idx].to(device), mnist.train_y[train_idx].to(device),
                                      epochs=args.epochs, seed=args.seed)
    write_json(out / "config.json", {"model": "DigitCNN", "epochs": args.epochs, "seed": args.seed, **TRAINING,
                                     "train_images": len(train_idx)})
    write_jsonl(out / "history.jsonl", history)
    save_classifier(model, out / "model.pt")
    summary = {"test_accuracy": accuracy(model, mnist.test_x.to(device), mnist.test_y.to(device)),
               "val_accuracy": accuracy(model, mnist.train_x[val_idx].to(device), mnist.train_y[val_idx].to(device)),
               "epochs": args.epochs, "seed": args.seed, **provenance(device, time.perf_counter() - start)}
    write_json(out / "summary.json", summary)
    print(f"classifier test accuracy {summary['test_accuracy']:.2f}%  ({out})")
    return 0


def agreement_command(args) -> int:
    from .classifier import load_classifier
    from .evaluate import generated_agreement, style_stability
    from .runs import RunFolder, load_checkpoint, provenance, read_json, refuse_to_overwrite, write_json
    from .train import resolve_device

    out = Path(args.out)
    if args.samples < 1:
        raise AAEError("--samples must be a positive integer")
    refuse_to_overwrite(out, args.force)
    device = resolve_device(args.device)
    judge = load_classifier(args.classifier, device)
    start, models = time.perf_counter(), {}
    for path in args.runs:
        run = RunFolder(path)
        if not run.finished:
            raise AAEError(f"{path} is not a finished run (no summary.json)")
        model, cfg, summary = load_checkpoint(path, device), run.config()["train"], run.summary()
        models[path] = {
            "preset": cfg["preset"], "labels": cfg["labels"], "epochs": cfg["epochs"], "steps": summary.get("steps"),
            "test_accuracy": summary["test_accuracy"],
            "agreement": generated_agreement(model, judge, args.samples, cfg["prior_std"], args.seed),
            "style_stability": style_stability(model, judge, prior_std=cfg["prior_std"], seed=args.seed),
        }
        print(f"{path}: agreement {models[path]['agreement']['overall']:.1f}%  "
              f"style stability {models[path]['style_stability']['overall']:.1f}%")
    write_json(out, {"classifier": {"path": args.classifier,
                                    "test_accuracy": read_json(Path(args.classifier) / "summary.json")["test_accuracy"]},
                     "samples_per_digit": args.samples, "seed": args.seed, "models": models,
                     **provenance(device, time.perf_counter() - start)})
    return 0


def export_decoder_command(args) -> int:
    from .export import WEIGHTS_SCRIPT, export_decoder
    from .runs import RunFolder, git_commit, load_checkpoint

    model = load_checkpoint(args.run, "cpu")
    run = RunFolder(args.run)
    source = {"run": args.run, "exported_at_commit": git_commit()}
    if run.finished:
        summary = run.summary()
        source.update({k: summary.get(k) for k in ("preset", "labels", "epochs", "steps", "test_accuracy", "git_commit")})
        source["prior_std"] = run.config()["train"]["prior_std"]
    manifest = export_decoder(model, args.out, source)
    size = (Path(args.out) / WEIGHTS_SCRIPT).stat().st_size
    print(f"decoder of {args.run}: {manifest['weights_bytes'] / 1e6:.2f} MB of fp16 weights, "
          f"{size / 1e6:.2f} MB as {Path(args.out) / WEIGHTS_SCRIPT}")
    return 0


def reproduce_command(args) -> int:
    from .reproduce import plan, run_all, summarise
    from .report import table3

    for labels in args.labels:  # a bad value fails here, before any run starts
        TrainConfig(labels=labels, epochs=args.epochs, preset=args.preset).check()
    if args.jobs < 1:
        raise AAEError("--jobs must be a positive integer")
    out = Path(args.out or ("results/nn-baseline" if args.supervised_only else
                            "results/table3" if args.preset == "paper-sgd" else f"results/table3-{args.preset}"))
    options = ["--preset", args.preset, "--precision", args.precision, "--device", args.device]
    options += ["--unlabeled", str(args.unlabeled)] if args.unlabeled else []
    runs = plan(args.labels, args.seeds, args.epochs, out, options + (["--supervised-only"] if args.supervised_only else []))
    if args.print_commands:
        for run in runs:
            if run.state != "finished":
                print(run.command())
        return 0
    failed = run_all(runs, args.jobs, out / "logs", report=lambda line: print(line, flush=True))
    print(table3(summarise(runs), ours=f"ours, {args.epochs} epochs"))
    print("* quoted from the seed report's Table 3, not computed here")
    if failed:
        raise AAEError(f"{len(failed)} run(s) failed; their logs are in {out / 'logs'}")
    return 0


def bench_command(args) -> int:
    from .bench import format_bench, run_bench
    from .runs import refuse_to_overwrite, write_json
    from .train import resolve_device

    if args.batch_size < 1 or args.steps < 1:
        raise AAEError("--batch-size and --steps must be positive integers")
    if args.out is not None:  # checked before the minute of timing, not after
        refuse_to_overwrite(args.out, args.force)
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise AAEError(f"cannot create {args.out.parent}: {err.strerror}") from None
    result = run_bench(resolve_device(args.device), args.precision, args.batch_size, args.steps,
                       reference=not args.no_reference, compare_kernels=args.compare_kernels,
                       breakdown=args.breakdown, bf16_weights=args.bf16_weights,
                       cuda_graphs=False if args.no_cuda_graphs else None)
    print(json.dumps(result) if args.json else format_bench(result))
    if args.out is not None:
        write_json(args.out, result)
    return 0


def train_command(args) -> int:
    from .data import prepare_data
    from .evaluate import accuracy
    from .runs import RunFolder, provenance
    from .train import NonFiniteLossError, make_trainer, resolve_device

    cfg = TrainConfig(labels=args.labels, epochs=args.epochs, seed=args.seed, preset=args.preset,
                      batch_size=args.batch_size, unlabeled=args.unlabeled, epoch_def=args.epoch_def,
                      recon_loss=args.recon_loss, prior_std=args.prior_std, device=args.device,
                      precision=args.precision, label_subset=args.label_subset, label_seed=args.label_seed,
                      lr_milestones=tuple(args.lr_milestones) if args.lr_milestones else None,
                      supervised_only=args.supervised_only, noise_std=args.noise_std,
                      labeled_noise_std=args.labeled_noise_std,
                      phase_lr=dict(args.phase_lr) if args.phase_lr else None,
                      phase_momentum=dict(args.phase_momentum) if args.phase_momentum else None).check()
    if args.init_std < 0:
        raise AAEError("--init-std must be 0 (PyTorch's default initialisation) or positive")
    device = resolve_device(cfg.device)
    run = RunFolder(args.out)
    if args.resume and not args.force and run.finished_with(cfg):
        print(f"{run.path}: already finished (test accuracy {run.summary()['test_accuracy']:.2f}%)")
        return 0
    data = prepare_data(cfg)  # before the run folder is touched: a data error leaves no trace
    model_cfg = ModelConfig(init_std=args.init_std)
    if args.continue_from and not (args.resume and run.started):  # a rerun with --resume goes on instead
        if args.force:
            raise AAEError("--continue-from starts a new run folder; it does not go with --force")
        run.continue_from(RunFolder(args.continue_from), cfg, model_cfg)
    state = run.start(cfg, model_cfg, resume=args.resume or bool(args.continue_from), force=args.force)

    def report(trainer, record):
        run.save_epoch(trainer.state_dict())
        losses = "  ".join(f"{name} {record[f'loss_{name}']:.4g}" for name in ("recon", "class")
                           if f"loss_{name}" in record)
        print(f"epoch {record['epoch']:>4}/{cfg.epochs}  {losses}  val {record['val_accuracy']:.2f}%  "
              f"{record['seconds']:.1f} s", flush=True)

    trainer = make_trainer(cfg, data, model_cfg, device=device, callbacks=[report], progress=not args.quiet,
                           cuda_graphs=False if args.no_cuda_graphs else None)
    if state is not None:
        trainer.load_state_dict(state)
        print(f"{run.path}: resuming after epoch {trainer.epoch}", flush=True)
    try:
        trainer.fit(cfg.epochs)
    except NonFiniteLossError as err:  # a diverged run is a result too: say where, keep the folder
        run.record_divergence({"epoch": err.epoch, "step": err.step, "losses": err.losses, "message": str(err),
                               **provenance(device, sum(r["seconds"] for r in trainer.history))})
        raise

    test_accuracy = accuracy(trainer.model, trainer.data.test_x, trainer.data.test_y)
    last = trainer.history[-1]
    run.finish(trainer.model, {
        "test_accuracy": test_accuracy, "val_accuracy": last["val_accuracy"], "epochs": cfg.epochs,
        "labels": cfg.labels, "seed": cfg.seed, "preset": cfg.preset, "epoch_def": cfg.epoch_def,
        "recon_loss": cfg.recon_loss, "prior_std": cfg.prior_std, "unlabeled": len(data.unlabeled_x),
        "label_subset": cfg.label_subset, "label_seed": cfg.labeled_images_seed, "supervised_only": cfg.supervised_only,
        "lr_milestones": list(trainer.cfg.optimizer.milestones),
        "batch_size": cfg.batch_size, "steps": sum(r["steps"] for r in trainer.history),
        "precision": cfg.precision, "update": trainer.update_kernel,
        **provenance(device, sum(r["seconds"] for r in trainer.history)),
        # the code that trained is the code the run started at (provenance() reads HEAD now)
        "git_commit": run.git_commits()[0], "resumed_at_commits": run.git_commits()[1:],
        "continued_from": run.config().get("continued_from"),
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


COMMANDS = {"train": train_command, "evaluate": evaluate_command, "bench": bench_command,
            "classifier": classifier_command, "agreement": agreement_command,
            "export-decoder": export_decoder_command, "reproduce": reproduce_command}


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

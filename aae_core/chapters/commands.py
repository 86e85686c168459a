"""The command line's commands that remake the book's own assets (`python -m aae_core COMMAND`):
classifier and agreement (chapter 4's judge of generated digits), export-decoder (chapter 4's explorer)
and demo-2d (chapter 1's demo and latent map). `aae_core.cli` adds them beside the method's commands."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import DEVICES, check_seed
from ..errors import AAEError
from ..options import path_arg, whole

MAX_SAMPLES = 10_000  # agreement: generated images per digit (100,000 images of 784 floats: 314 MB)


def add_book_parsers(commands) -> None:
    """The book's commands, added to the command line's subparsers (their help says 'book:')."""
    classifier = commands.add_parser("classifier", help="book: train the independent CNN that judges generated digits")
    classifier.add_argument("--out", required=True, type=path_arg,
                            help="folder for model.pt, history.jsonl and summary.json")
    classifier.add_argument("--epochs", type=whole, default=3)
    classifier.add_argument("--seed", type=whole, default=0)
    classifier.add_argument("--device", choices=DEVICES, default="auto")
    classifier.add_argument("--force", action="store_true", help="overwrite a finished classifier in --out")

    agreement = commands.add_parser("agreement", help="book: does the decoder draw the digit y asks for? (chapter 4)")
    agreement.add_argument("runs", nargs="+", metavar="RUN", type=path_arg, help="run folders to judge")
    agreement.add_argument("--classifier", required=True, type=path_arg,
                           help="folder written by the classifier command")
    agreement.add_argument("--out", required=True, type=path_arg, help="JSON file to write")
    agreement.add_argument("--samples", type=whole, default=200,
                           help=f"generated images per digit (at most {MAX_SAMPLES})")
    agreement.add_argument("--seed", type=whole, default=0)
    agreement.add_argument("--device", choices=DEVICES, default="auto")
    agreement.add_argument("--force", action="store_true", help="overwrite --out")

    export = commands.add_parser("export-decoder", help="book: decoder weights for the browser (chapter 4's explorer)")
    export.add_argument("run", type=path_arg, help="run folder or model.pt")
    export.add_argument("--out", required=True, type=path_arg, help="folder for decoder-weights.js and manifest.json")
    export.add_argument("--force", action="store_true", help="overwrite an exported decoder in --out")
    add_demo_parser(commands)


def add_demo_parser(commands) -> None:
    """demo-2d: chapter 1's three models (defaults: aae_core.chapters.demo.DemoSettings, the shipped runs')."""
    demo = commands.add_parser("demo-2d", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                               help="book: train chapter 1's demo, an autoencoder, a VAE and an AAE with 2-D codes")
    demo.add_argument("--out", required=True, type=path_arg,
                      help="folder for the three run folders (autoencoder, vae, aae)")
    demo.add_argument("--epochs", type=whole, default=200, help="passes over the training images")
    demo.add_argument("--unlabeled", type=whole, default=10_000, help="training images")
    demo.add_argument("--hidden", type=whole, default=112, help="width of every hidden layer")
    demo.add_argument("--seed", type=whole, default=0)
    demo.add_argument("--snapshots", type=whole, nargs="+", default=[1, 3, 10, 30], metavar="EPOCH",
                      help="epochs whose codes and decoder the latent map shows (and the last)")
    demo.add_argument("--device", choices=DEVICES, default="cpu")
    demo.add_argument("--export", type=path_arg, metavar="FOLDER",
                      help="then write the latent map's scripts into FOLDER (book/_static/models/demo-2d)")
    demo.add_argument("--force", action="store_true", help="retrain models already finished in --out")
    demo.add_argument("--allow-dirty", action="store_true", help="see train --help")


def classifier_command(args) -> int:
    check_seed("--seed", args.seed)  # before torch loads
    from ..devices import resolve_device
    from .judge import train_judge

    summary = train_judge(args.out, args.epochs, args.seed, resolve_device(args.device), args.force)
    print(f"classifier test accuracy {summary['test_accuracy']:.2f}%  ({args.out})")
    return 0


def agreement_command(args) -> int:
    check_seed("--seed", args.seed)  # before torch loads
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise AAEError(f"--samples must be from 1 to {MAX_SAMPLES:,} generated images per digit, got {args.samples}")
    from ..devices import resolve_device
    from .judge import judge_runs

    judge_runs(args.runs, args.classifier, args.out, args.samples, args.seed, resolve_device(args.device), args.force)
    return 0


def export_decoder_command(args) -> int:
    from .export import SCRIPTS, export_run

    manifest = export_run(args.run, args.out, args.force)
    for part, script in SCRIPTS.items():
        size = (Path(args.out) / script).stat().st_size
        print(f"{part} of {args.run}: {manifest[part]['weights_bytes'] / 1e6:.2f} MB of fp16 weights, "
              f"{size / 1e6:.2f} MB as {Path(args.out) / script}")
    return 0


def demo_command(args) -> int:
    from .demo_runs import train_demo
    from .demo_training import DemoSettings

    settings = DemoSettings(epochs=args.epochs, unlabeled=args.unlabeled, hidden=args.hidden, seed=args.seed,
                            snapshots=tuple(args.snapshots), device=args.device)
    if args.export is not None:
        from ..runs.files import probe_writable

        probe_writable(Path(args.export))  # before the minutes of training, not after
    train_demo(args.out, settings.check(), force=args.force, allow_dirty=args.allow_dirty,
               report=lambda line: print(line, flush=True))
    if args.export is not None:
        from .latent_map import write_latent_map

        manifest = write_latent_map(args.out, args.export)
        print(f"latent map: {len(manifest['files'])} scripts, {sum(manifest['files'].values()) / 1e6:.2f} MB "
              f"in {args.export}")
    return 0


BOOK_COMMANDS = {"classifier": classifier_command, "agreement": agreement_command,
                 "export-decoder": export_decoder_command, "demo-2d": demo_command}

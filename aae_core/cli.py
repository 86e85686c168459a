"""Command line: `python -m aae_core {train,evaluate,reproduce,bench}`, and the commands that remake the
book's own assets `{classifier,agreement,export-decoder,demo-2d}` (declared in `chapters/commands.py`).
Parsing and reporting; the work happens in the modules each command imports.

Every user mistake ends as one line on stderr and exit status 2 (no traceback); a loss that
turns NaN ends with exit status 3, keeping the last good checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .chapters.commands import BOOK_COMMANDS, add_book_parsers
from .config import (BENCH_PRECISIONS, BF16_WEIGHTS, DEVICES, EXECUTORS, OPTION_GROUPS, PAPER_LABELS, PRECISIONS,
                     PRESETS, ModelConfig, TrainConfig, check_bench_options, named_twice)
from .errors import AAEError, NonFiniteLossError
from .options import add_config_options, all_or_int, at_least, config_from_args, labels_arg, path_arg, whole


PROG = "python -m aae_core"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (the usage text is for --help)."""

    def error(self, message: str):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


class DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """--help with each option's default, where it has one worth saying (not None, (), False) and its help
    does not say it already."""

    def _get_help_string(self, action):
        if action.default in (None, (), [], False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def stack_arg(text: str) -> int | str:
    """reproduce --stack: a number of runs, or 'all'."""
    return all_or_int(text, "a number of runs")


NO_CUDA_GRAPHS_HELP = "on a GPU, launch each step's kernels from Python instead of replaying one CUDA graph"
# reproduce's settings of a table; --protocol fixes them all (its seeds, presets, epochs and precision)
TABLE_LABELS = list(PAPER_LABELS)
TABLE_DEFAULTS = {"epochs": 50, "seeds": [0, 1, 2], "preset": "paper-sgd", "supervised_only": False,
                  "precision": "fp32", "unlabeled": None}
# reproduce's settings of a cluster job, and those the local executor has no use for
JOB_DEFAULTS = {"slurm_partition": None, "slurm_time": 24 * 60, "slurm_cpus": 2, "slurm_gpus": 0}
SLURM_ONLY = ("slurm_partition", "slurm_cpus")


def add_train_parser(commands) -> None:
    train = commands.add_parser("train", help="train one model into a run folder",
                                formatter_class=DefaultsShown,
                                description="Train one semi-supervised AAE into a run folder. The options are "
                                            "the fields of aae_core.TrainConfig, in groups.")
    groups = {name: train.add_argument_group(title) for name, title in OPTION_GROUPS.items()}
    add_config_options(groups, TrainConfig)
    add_config_options(groups, ModelConfig)
    groups["speed"].add_argument("--no-cuda-graphs", action="store_true", help=NO_CUDA_GRAPHS_HELP)
    folder = train.add_argument_group("the run folder")
    folder.add_argument("--out", required=True, type=path_arg,
                        help="run folder to create (or to resume): new, empty, or a run folder")
    folder.add_argument("--resume", action="store_true",
                        help="continue the run in --out where it stopped (where --out holds none, a new run starts)")
    folder.add_argument("--continue-from", metavar="RUN", default=None, type=path_arg,
                        help="start from the checkpoint of run folder RUN (same settings, more --epochs), "
                             "leaving RUN as it is")
    folder.add_argument("--force", action="store_true", help="overwrite a finished or unfinished run in --out")
    folder.add_argument("--quiet", action="store_true", help="no progress bar")
    folder.add_argument("--allow-dirty", action="store_true",
                        help="train into results/ although the code has uncommitted changes (recorded as +dirty)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Semi-supervised adversarial autoencoders on MNIST.",
                           epilog="train, evaluate and reproduce run the method; bench times its step; the "
                                  "commands marked 'book:' remake the book's own assets.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train_parser(commands)

    evaluate = commands.add_parser("evaluate", help="test accuracy of a trained run")
    evaluate.add_argument("run", type=path_arg, help="run folder, checkpoint.pt or model.pt")
    evaluate.add_argument("--device", choices=DEVICES, default="auto")
    evaluate.add_argument("--json", action="store_true", help="print one JSON line")
    reproduce = commands.add_parser("reproduce", help="Table 3: run the missing runs, resume unfinished ones, print the table",
                                    formatter_class=DefaultsShown,
                                    description="A table of runs, one per label count and seed, in one folder: train "
                                                "the runs not yet finished (resuming any that stopped), then print "
                                                "their test accuracies beside the paper's and Latała's tables.")
    reproduce.add_argument("--labels", type=labels_arg, nargs="+", default=None,
                           help="label counts (default 100 1000 all)")
    reproduce.add_argument("--epochs", type=whole, default=TABLE_DEFAULTS["epochs"], help="epochs of every run")
    reproduce.add_argument("--seeds", type=whole, nargs="+", default=TABLE_DEFAULTS["seeds"],
                           help="one run per seed and label count")
    reproduce.add_argument("--preset", choices=sorted(PRESETS), default=TABLE_DEFAULTS["preset"],
                           help="the optimizer and schedule of every run (see train --help)")
    reproduce.add_argument("--supervised-only", action="store_true", help="the NN baseline (see train --help)")
    reproduce.add_argument("--precision", choices=PRECISIONS, default=TABLE_DEFAULTS["precision"],
                           help="the arithmetic of every run (see train --help)")
    reproduce.add_argument("--device", choices=DEVICES, default="auto", help="where the runs train")
    reproduce.add_argument("--unlabeled", type=whole, default=TABLE_DEFAULTS["unlabeled"],
                           help="subsample the unlabeled pool (quick runs)")
    reproduce.add_argument("--jobs", type=whole, default=1, help="runs at a time (the CPU threads are split between them)")
    reproduce.add_argument("--out", default=None, type=path_arg,
                           help="folder of the runs (default results/table3, results/nn-baseline with "
                                "--supervised-only, results/table3-PRESET for another preset)")
    reproduce.add_argument("--protocol", action="store_true",
                           help="the final table: both presets of the protocol, its fresh seeds, 50 epochs, fp32, "
                                "into results/protocol unless --out (--labels, --jobs, --device, --stack, --executor, "
                                "--allow-dirty and --print-commands still apply; the options it fixes are refused)")
    reproduce.add_argument("--allow-dirty", action="store_true", help="see train --help")
    reproduce.add_argument("--stack", type=stack_arg, default=None, metavar="R",
                           help="train the unfinished runs R at a time ('all': all at once), stacked in this process "
                                "(batched products; each still writes its own run folder) instead of one train "
                                "process each")
    reproduce.add_argument("--print-commands", action="store_true",
                           help="print the train command of every run not yet finished, one per line, and stop")
    cluster = reproduce.add_argument_group("on a cluster (submitit)")
    cluster.add_argument("--executor", choices=EXECUTORS, default=None,
                         help="submit each unfinished run (or each --stack) as a job: 'slurm', or 'local' (submitit's "
                              "local executor, the same code path on this machine); default: processes here")
    cluster.add_argument("--slurm-partition", default=JOB_DEFAULTS["slurm_partition"], metavar="P",
                         help="the Slurm partition")
    cluster.add_argument("--slurm-time", type=at_least(1), default=JOB_DEFAULTS["slurm_time"], metavar="M",
                         help="a job's time limit in minutes")
    cluster.add_argument("--slurm-cpus", type=at_least(1), default=JOB_DEFAULTS["slurm_cpus"], metavar="N",
                         help="CPU cores per job (Slurm)")
    cluster.add_argument("--slurm-gpus", type=at_least(0), default=JOB_DEFAULTS["slurm_gpus"], metavar="N",
                         help="GPUs per job")
    cluster.add_argument("--no-wait", action="store_true",
                         help="return once the jobs are submitted (the same command later waits and prints the table)")

    bench = commands.add_parser("bench", help="time the trainer's step against this machine's matrix-multiply rate",
                                formatter_class=DefaultsShown)
    bench.add_argument("--device", choices=DEVICES, default="auto", help="where the step runs")
    bench.add_argument("--precision", choices=BENCH_PRECISIONS, default="fp32", help="the step's arithmetic")
    bench.add_argument("--batch-size", type=whole, default=100, help="images per batch (at most 2,000)")
    bench.add_argument("--steps", type=whole, default=50, help="timed steps, after a warm-up of 10")
    bench.add_argument("--compare-kernels", action="store_true",
                       help="also time the step with torch's optimizer step after the backward pass, "
                            "with each kernel (fused, foreach, loop)")
    bench.add_argument("--bf16-weights", choices=BF16_WEIGHTS, default="copies",
                       help="with bf16: compute with bf16 copies of the weights (default) or cast them under autocast")
    bench.add_argument("--no-reference", action="store_true", help="skip timing the plain reference loop")
    bench.add_argument("--no-cuda-graphs", action="store_true", help=NO_CUDA_GRAPHS_HELP)
    bench.add_argument("--breakdown", action="store_true",
                       help="also profile the step and sum its time by kind of operator (CPU)")
    bench.add_argument("--runs", dest="stack", type=whole, help=argparse.SUPPRESS)  # the older spelling, in the book's text
    bench.add_argument("--stack", type=whole, default=None, metavar="R",
                       help="time R runs stacked in one process against the same R runs one after another "
                            "and (on a CPU) against separate runs side by side, one thread each")
    bench.add_argument("--json", action="store_true", help="print one JSON line")
    bench.add_argument("--out", type=path_arg, help="also keep the JSON in this file (results/bench/...)")
    bench.add_argument("--force", action="store_true", help="overwrite --out if it exists")

    add_book_parsers(commands)
    return parser


def execute_plan(runs: list, args, out: Path) -> list | None:
    """Check the plan, so that bad settings and taken folders fail before any run (a folder in use is a
    job's, on a cluster), then print its commands or run it. Returns the runs that failed, or None when
    there is no table to print yet (commands printed, or jobs left running with --no-wait)."""
    from .reproduce import check_plan

    check_plan(runs, out, writing=not args.print_commands and not args.executor)
    if args.print_commands:
        print_commands(runs, out)
        return None
    failed = run_planned(runs, args, out)
    return None if args.no_wait else failed


def run_planned(runs: list, args, out: Path) -> list:
    """The unfinished planned runs: one `train` process each (--jobs at a time), or --stack R at a time
    stacked in this process. Returns the runs that failed."""
    from .reproduce import run_all

    say = lambda line: print(line, flush=True)  # noqa: E731
    if args.executor:
        from .cluster import ClusterOptions, run_on_cluster

        options = ClusterOptions(args.executor, args.slurm_time, args.slurm_partition, args.slurm_cpus, args.slurm_gpus)
        stack = len(runs) if args.stack == "all" else args.stack
        return run_on_cluster(runs, options, out, stack, args.allow_dirty, wait=not args.no_wait, report=say)
    if not args.stack:
        return run_all(runs, args.jobs, out / "logs", report=say)
    from .speed.stacked import train_stacked_runs

    todo = [run for run in runs if run.state != "finished"]
    size = max(1, len(todo)) if args.stack == "all" else args.stack
    failed = []
    for group in (todo[i:i + size] for i in range(0, len(todo), size)):
        summaries = train_stacked_runs([run.folder for run in group], [run.train_cfg.check() for run in group],
                                       group[0].model_cfg, resume=True, report=say, allow_dirty=args.allow_dirty)
        for run, summary in zip(group, summaries):
            if summary is None:  # diverged: the rest of the stack went on
                say(f"failed {run.name}: its loss turned NaN/inf; see {run.folder / 'diverged.json'}")
                failed.append(run)
    return failed


def protocol_command(args) -> int:
    """reproduce --protocol: run what is missing of the final table, then print it with its intervals."""
    from .chapters.reproduction import protocol_differences_table, protocol_table
    from .reproduce import (PROTOCOL_BASELINE, PROTOCOL_CHOSEN, PROTOCOL_LABELS, PROTOCOL_MARGIN, PROTOCOL_OUT,
                            protocol_cell, protocol_plan)
    from .stats import paired_difference

    labels = list(dict.fromkeys(args.labels or PROTOCOL_LABELS))  # its label counts checked already
    out = Path(args.out) if args.out else PROTOCOL_OUT
    cells = protocol_plan(out, labels, device=args.device, allow_dirty=args.allow_dirty)
    runs = [run for cell in cells.values() for run in cell]
    failed = execute_plan(runs, args, out)
    if failed is None:
        return 0
    table = {key: protocol_cell(cell) for key, cell in cells.items()}
    print(protocol_table(table))
    print()
    differences = {n: paired_difference(table[(n, PROTOCOL_CHOSEN[n])], table[(n, PROTOCOL_BASELINE)])
                   for n in labels}
    print(protocol_differences_table(differences, PROTOCOL_MARGIN))
    if failed:
        raise AAEError(f"{len(failed)} run(s) failed; their logs are in {out / 'logs'}")
    return 0


def options_words(names: list[str]) -> str:
    """['slurm_time', 'jobs'] -> '--slurm-time, --jobs'."""
    return ", ".join("--" + name.replace("_", "-") for name in names)


def options_go(names: list[str]) -> str:
    """['slurm_time'] -> '--slurm-time goes'; two or more names 'go'."""
    return f"{options_words(names)} {'go' if len(names) > 1 else 'goes'}"


def table_settings(args) -> TrainConfig:
    """The settings that reproduce's runs share (each run adds its labels, seed and epochs)."""
    return TrainConfig(preset=args.preset, precision=args.precision, device=args.device, unlabeled=args.unlabeled,
                       supervised_only=args.supervised_only)


def print_commands(runs, out: Path) -> int:
    """The `train` commands of the plan's unfinished runs, one a line (for a cluster), and a word on stderr
    when none is left, so that an empty answer is never a puzzle."""
    missing = [run.command() for run in runs if run.state != "finished"]
    print("".join(command + "\n" for command in missing), end="")
    if not missing:
        sys.stderr.write(f"{PROG} reproduce: every run of the plan in {out} is finished; no command to print\n")
    return 0


def check_reproduce_options(args) -> None:
    """reproduce's mistakes in its options alone, said before torch loads (`reproduce.check_plan` checks its
    folders after)."""
    if args.stack is not None and args.stack != "all" and args.stack < 1:
        raise AAEError("--stack must be a positive number of runs, or 'all'")
    if args.no_wait and not args.executor:
        raise AAEError("--no-wait goes with --executor (processes on this machine are waited for)")
    given = [name for name, default in JOB_DEFAULTS.items() if getattr(args, name) != default]
    if given and not args.executor:
        raise AAEError(f"{options_go(given)} with --executor (a job's settings; here no job is submitted)")
    unused = [name for name in given if name in SLURM_ONLY] if args.executor == "local" else []
    if unused:
        raise AAEError(f"{options_go(unused)} with --executor slurm, not local")
    if args.jobs < 1:
        raise AAEError("--jobs must be a positive integer")
    if args.jobs != 1 and (args.stack or args.executor):
        raise AAEError("--jobs runs train processes side by side here; it does not go with "
                       f"{'--stack' if args.stack else '--executor'}")
    for option, values in (("--labels", args.labels or []), ("--seeds", args.seeds or [])):
        twice = named_twice(values)
        if twice:
            raise AAEError(f"{option} names {', '.join(twice)} twice; give each once")
    if args.protocol:
        ignored = [name for name, default in TABLE_DEFAULTS.items() if getattr(args, name) != default]
        if ignored:
            raise AAEError(f"--protocol fixes its seeds, presets, epochs and precision; drop {options_words(ignored)}")
        if any(n not in PAPER_LABELS for n in args.labels or []):
            raise AAEError(f"the protocol's label counts are {', '.join(map(str, PAPER_LABELS))}")
        return
    for n in args.labels or TABLE_LABELS:
        for seed in args.seeds:
            table_settings(args).with_(labels=n, seed=seed, epochs=args.epochs).check()


def reproduce_command(args) -> int:
    check_reproduce_options(args)
    if args.protocol:
        return protocol_command(args)
    from .reproduce import plan, summarise
    from .chapters.reproduction import table3

    args.labels = args.labels or TABLE_LABELS
    out = Path(args.out or ("results/nn-baseline" if args.supervised_only else
                            "results/table3" if args.preset == "paper-sgd" else f"results/table3-{args.preset}"))
    settings = table_settings(args)
    runs = plan(args.labels, args.seeds, args.epochs, out, settings, allow_dirty=args.allow_dirty)
    failed = execute_plan(runs, args, out)
    if failed is None:
        return 0
    print(table3(summarise(runs), ours=f"ours, {args.epochs} epoch{'s' if args.epochs != 1 else ''}"))
    print("* quoted, not computed here (see aae_core/chapters/quoted.py for each number's source)")
    if failed:
        raise AAEError(f"{len(failed)} run(s) failed; their logs are in {out / 'logs'}")
    return 0


def bench_command(args) -> int:
    check_bench_options(args.batch_size, args.steps, args.precision, args.stack)  # before torch loads
    if args.stack is not None:  # the stacked bench times fp32 runs and nothing else
        ignored = [name for name, used in (("--precision", args.precision != "fp32"), ("--breakdown", args.breakdown),
                                           ("--compare-kernels", args.compare_kernels), ("--no-reference", args.no_reference),
                                           ("--bf16-weights", args.bf16_weights != "copies")) if used]
        if ignored:
            raise AAEError(f"--stack times fp32 runs only; {', '.join(ignored)} "
                           f"{'do' if len(ignored) > 1 else 'does'} not apply to it")
    elif args.bf16_weights != "copies" and args.precision != "bf16":
        raise AAEError(f"--bf16-weights goes with --precision bf16 (this bench is {args.precision})")
    from .devices import resolve_device
    from .runs.files import claim_output_file, write_json
    from .speed.bench import format_bench, run_bench

    device = resolve_device(args.device)
    out = Path(args.out) if args.out is not None else None
    if out is not None:  # checked before the minute of timing, not after
        claim_output_file(out, args.force)
    if args.stack is not None:
        from .speed.bench import format_stacked_bench, run_stacked_bench

        result = run_stacked_bench(device, args.stack, args.batch_size, args.steps)
        print(json.dumps(result) if args.json else format_stacked_bench(result))
        if out is not None:
            write_json(out, result)
        return 0
    result = run_bench(device, args.precision, args.batch_size, args.steps,
                       reference=not args.no_reference, compare_kernels=args.compare_kernels,
                       breakdown=args.breakdown, bf16_weights=args.bf16_weights,
                       cuda_graphs=False if args.no_cuda_graphs else None)
    print(json.dumps(result) if args.json else format_bench(result))
    if out is not None:
        write_json(out, result)
    return 0


def train_command(args) -> int:
    cfg = config_from_args(TrainConfig, args).check()  # before torch loads: a mistake is said at once
    model_cfg = config_from_args(ModelConfig, args).check()
    if args.resume and args.force:  # --force alone deletes the run there, finished or not
        raise AAEError("--resume continues the run in --out and --force deletes it to start over; give one of them")
    from .runs.training import train_run
    from .speed.updaters import SpeedOptions, updater_with

    speed = SpeedOptions(cuda_graphs=False if args.no_cuda_graphs else None)
    train_run(args.out, cfg, model_cfg, resume=args.resume, continue_from=args.continue_from, force=args.force,
              progress=not args.quiet, updater=updater_with(speed), report=lambda line: print(line, flush=True),
              allow_dirty=args.allow_dirty)
    return 0


def evaluate_command(args) -> int:
    from .data import load_mnist
    from .evaluate import accuracy
    from .devices import resolve_device
    from .runs import RunFolder
    from .runs.weights import check_against_summary, load_checkpoint

    device = resolve_device(args.device)
    model = load_checkpoint(args.run, device)
    mnist = load_mnist()
    test_accuracy = accuracy(model, mnist.test_x.to(device), mnist.test_y.to(device))
    check_against_summary(args.run, test_accuracy)
    run = RunFolder(args.run) if Path(args.run).is_dir() else None
    unfinished = run is not None and not run.finished  # its last checkpoint: not the run's result
    if args.json:
        print(json.dumps({"run": args.run, "test_accuracy": test_accuracy, "n_test": len(mnist.test_y),
                          **({"unfinished_after_epoch": len(run.history())} if unfinished else {})}))
    else:
        state = f"; unfinished, after epoch {len(run.history())}" if unfinished else ""
        print(f"test accuracy {test_accuracy:.2f}%  ({len(mnist.test_y)} test images, {args.run}{state})")
    return 0


COMMANDS = {"train": train_command, "evaluate": evaluate_command, "bench": bench_command,
            "reproduce": reproduce_command, **BOOK_COMMANDS}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except NonFiniteLossError as err:
        sys.stderr.write(f"{PROG} {args.command}: error: {err}\n")
        return 3
    except AAEError as err:
        sys.stderr.write(f"{PROG} {args.command}: error: {err}\n")
        return 2
    except OSError as err:  # a file fault no check foresaw: still one line, naming the file
        where = f"{err.filename}: " if err.filename else ""
        sys.stderr.write(f"{PROG} {args.command}: error: {where}{err.strerror or err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted; the last finished epoch is kept (--resume continues)\n")
        return 130

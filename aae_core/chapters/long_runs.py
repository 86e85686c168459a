"""Chapter 3's long runs: `paper-sgd` trained past 50 epochs, with the test accuracy each run recorded at
its milestone epochs (`train --milestones`), read from its history.

A long run lives at <root>/<preset>/labels-<L>/seed-<S> (results/long, and one root more per machine kind
that made a second set, such as results/long-xeon). Runs are not bit-identical across machine kinds or
precisions, so a cell of the long-run table holds runs of one machine kind, one number of threads and one
precision only.
"""
from __future__ import annotations

from pathlib import Path

from ..config import PAPER_LABELS, PRESETS
from ..errors import AAEError
from ..runs import RunFolder
from ..runs.records import Summary, machines_in_order
from ..stats import describe, paired_difference
from .reproduction import interval_words
from .tables import markdown_table

LONG_PRESET = "paper-sgd"
LONG_DROPS = PRESETS[LONG_PRESET].milestones  # the epochs after which its learning rates drop tenfold
LONG_LABELS = PAPER_LABELS
LONG_SEEDS = (100, 101, 102, 103, 104)  # the final table's seeds: the same label draws, weights and batches
# under results/: one root per set of long runs made on one machine kind, and one for the runs continued from
# those to 2000 epochs, past the second drop (a continued run's history holds its source's milestones too)
LONG_ROOTS = ("long", "long-xeon", "long-2000")
EACH = " / "  # between one value per seed, so that three of them never read as a mean and its interval


def milestone_accuracies(run: RunFolder) -> dict[int, float]:
    """{epoch: test accuracy} of the history lines that a milestone epoch added it to."""
    return {line["epoch"]: line["test_accuracy"] for line in run.history() if "test_accuracy" in line}


def finished_long_runs(roots: list[Path], preset: str = LONG_PRESET, labels=LONG_LABELS) -> list[RunFolder]:
    """The finished run folders under each root's <preset>/labels-<L>/seed-<S>, in root, label and seed order."""
    found = []
    for root in roots:
        for n in labels:
            folder = Path(root) / preset / f"labels-{n}"
            seeds = sorted(folder.glob("seed-*"), key=lambda p: int(p.name.removeprefix("seed-")))
            found += [run for run in map(RunFolder, seeds) if run.finished]
    return found


def in_table_order(cells: dict) -> list:
    """The (kind, {epoch: cell}) items of long_cells by label count as the paper's Table 2 lists them (100,
    1000, all), then by machine and precision."""
    return sorted(cells.items(), key=lambda item: (LONG_LABELS.index(item[0][0]) if item[0][0] in LONG_LABELS
                                                   else len(LONG_LABELS), str(item[0])))


def complete(cell: dict) -> bool:
    """Every planned seed has reached this milestone: only then is a mean and its interval the table's number."""
    return len(cell["accuracies"]) == cell["planned"] and cell["interval"] is not None


def machine_words(device: str) -> str:
    """'cpu: Intel(R) Xeon(R) Processor, 1 thread' -> 'Intel Xeon, 1 thread': a machine kind, and the
    threads it ran, as a table or legend says them."""
    return device.removeprefix("cpu: ").replace("(R)", "").replace(" Processor", "").strip()


def row_words(device: str, precision: str) -> str:
    """'Intel Xeon, 1 thread, bf16': what a long-run table's row says its runs share."""
    return f"{machine_words(device)}, {precision}"


def kind_of(s: Summary) -> tuple:
    """(labels, device, precision) of a run's summary: what one table cell's runs must share, the device
    being the machine kind and its number of threads (one of each for a cell). A run resumed on another
    machine than it started on is a kind of its own, its machines in order."""
    machines = machines_in_order(s.machines)
    device = s.device if len(machines) < 2 else " then ".join(machine_words(m) for m in machines)
    return s.labels, device, s.precision


def split_by_capability(summaries: dict) -> dict:
    """{key: kind_of} of {key: Summary}, a device named with its CPU instruction set where the runs of one
    kind recorded more than one (two CPUs of one name that compute differently). A run that recorded none
    (stored before runs recorded it) stays with the others: an assumption that the bf16 runs stored
    before bear out, as their epoch times need the bf16 support an AVX2-only CPU of the same name lacks."""
    kinds = {key: kind_of(s) for key, s in summaries.items()}
    capabilities = {}
    for key, s in summaries.items():
        capabilities.setdefault(kinds[key], set()).add(s.cpu_capability)
    for key, s in summaries.items():
        labels, device, precision = kinds[key]
        if len(capabilities[kinds[key]] - {None}) > 1:
            kinds[key] = (labels, f"{device}, {s.cpu_capability or 'instruction set not recorded'}", precision)
    return kinds


def long_cells(runs: list[RunFolder], planned: int = len(LONG_SEEDS)) -> dict:
    """{(labels, device, precision): {epoch: cell}} where a cell is `stats.describe` of the test
    accuracies by seed at that milestone epoch, over the runs of that kind that reached it, and its
    "kind" in words ('bf16 on AMD EPYC, 1 thread')."""
    summaries = {run.path: run.summary() for run in runs}  # each read once
    kinds, by_seed = split_by_capability(summaries), {}
    for run in runs:
        seed = summaries[run.path].seed
        for epoch, accuracy in milestone_accuracies(run).items():
            cell = by_seed.setdefault(kinds[run.path], {}).setdefault(epoch, {})
            if cell.setdefault(seed, accuracy) != accuracy:  # a continued run repeats its source's milestones
                raise AAEError(f"{run.path} and another run of seed {seed} of its kind disagree at epoch {epoch} "
                               f"({accuracy:.2f}% and {cell[seed]:.2f}%): a rerun, not a continuation")
    return {kind: {epoch: {**describe(values, planned), "kind": f"{kind[2]} on {machine_words(kind[1])}"}
                   for epoch, values in sorted(epochs.items())}
            for kind, epochs in by_seed.items()}


def milestone_table(cells: dict, paper: dict) -> str:
    """One row per milestone of each (labels, device, precision) ({kind: {epoch: cell}} of
    long_cells): the seeds that reached it, their test accuracies, and mean ± sd with its 95% interval
    only where every planned seed has (a mean of fewer is not the table's number)."""
    rows = []
    for (labels, device, precision), epochs in in_table_order(cells):
        for epoch, cell in epochs.items():
            whole = complete(cell)
            rows.append([labels, row_words(device, precision), epoch,
                         f"{len(cell['accuracies'])} of {cell['planned']}",
                         EACH.join(f"{seed}: {v:.2f}" for seed, v in sorted(cell["accuracies"].items())),
                         f"{cell['mean']:.2f} ± {cell['std']:.2f}" if whole else "–",
                         interval_words(cell["interval"]) if whole else "–", f"{paper[labels]:.2f}"])
    return markdown_table(["labels", "machine, threads, precision", "epoch", "seeds", "test accuracy by seed",
                           "mean ± sd", "95% interval", "paper's Table 2"], rows)


def seed_list(by_seed: dict, planned: int) -> str:
    """'100, 101, 103 (3 of 5)', or 'all 5': a table column headed "seeds" need not say the word."""
    if len(by_seed) == planned:
        return f"all {planned}"
    return f"{', '.join(map(str, sorted(by_seed)))} ({len(by_seed)} of {planned})"


def milestone_summary(cells: dict, paper: dict) -> str:
    """Chapter 3's compact form of `milestone_table`: one row per (labels, device, precision), naming
    the seeds that have run, and one column per milestone epoch; a cell gives mean ± sd and the 95% interval
    once every planned seed has reached that epoch, else the accuracies in seed order (seed: accuracy where
    not every seed of the row reached it). A last column gives what the training from the first milestone
    to the last gave each run (`gain_words`, to `gain_end`)."""
    epochs = sorted({epoch for by_epoch in cells.values() for epoch in by_epoch})
    furthest = max(gain_end(by_epoch) for by_epoch in cells.values())
    rows = []
    for (labels, device, precision), by_epoch in in_table_order(cells):
        seeds = max((cell["accuracies"] for cell in by_epoch.values()), key=len)  # every run reaches the first
        planned = next(iter(by_epoch.values()))["planned"]
        row = [labels, row_words(device, precision), seed_list(seeds, planned)]
        for epoch in epochs:
            cell = by_epoch.get(epoch)
            if cell is None:
                row.append("–")
            elif complete(cell):
                row.append(f"{cell['mean']:.2f} ± {cell['std']:.2f} {interval_words(cell['interval'])}")
            else:
                by_seed = sorted(cell["accuracies"].items())
                row.append(EACH.join(f"{v:.2f}" if len(by_seed) == len(seeds) else f"{seed}: {v:.2f}"
                                     for seed, v in by_seed))
        rows.append(row + [gain_words(by_epoch, len(seeds), furthest), f"{paper[labels]:.2f}"])
    return markdown_table(["labels", "machine, threads, precision", "seeds", *(f"epoch {e}" for e in epochs),
                           f"gain, epoch {epochs[0]} to {furthest}", "paper's Table 2"], rows)


def latest_complete(by_epoch: dict, after: int) -> int | None:
    """The latest milestone past epoch `after` that every planned seed reached, or None: two seeds trained
    on past the rest do not hide what all five showed."""
    return max((epoch for epoch, cell in by_epoch.items() if epoch > after and complete(cell)), default=None)


def widest_milestone(by_epoch: dict, after: int) -> int:
    """The milestone past epoch `after` that the most seeds reached, the latest of those: the one every
    planned seed reached where there is one (`latest_complete`), else the one that says the most."""
    return max((epoch for epoch in by_epoch if epoch > after), key=lambda e: (len(by_epoch[e]["accuracies"]), e))


def gain_end(by_epoch: dict) -> int:
    """The milestone a row's gain runs to: its `latest_complete` past its first, else its last."""
    end = latest_complete(by_epoch, min(by_epoch))
    return max(by_epoch) if end is None else end


def gain_words(by_epoch: dict, row_seeds: int, furthest: int) -> str:
    """Test accuracy at a row's `gain_end` minus at its first milestone, each run against itself (paired by
    seed): the mean gain and its 95% interval once every planned seed has reached that milestone, else
    each seed's gain in seed order; 'to epoch E' where the row's end is not the table's `furthest`."""
    first, last = min(by_epoch), gain_end(by_epoch)
    if first == last:
        return "–"
    gain = paired_difference(by_epoch[last], by_epoch[first])
    if complete(by_epoch[last]):
        words = f"{gain['mean']:+.2f} {interval_words(gain['interval'], sign=True)}"
    else:
        words = EACH.join(f"{d:+.2f}" if len(gain["seeds"]) == row_seeds else f"{seed}: {d:+.2f}"
                          for seed, d in zip(gain["seeds"], gain["differences"]))
    return words if last == furthest else f"{words} (to epoch {last})"


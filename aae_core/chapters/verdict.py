"""The book's answer in three sentences, computed from the runs like every other number: what the final
table shows against the paper's Table 2, at which training length, and what is still open (the long runs'
milestones). The introduction and chapter 3 print it first, so it changes when the runs do."""
from __future__ import annotations

from pathlib import Path

from ..config import N_TRAIN, PRESETS, TrainConfig
from ..reproduce import PROTOCOL_BASELINE, PROTOCOL_EPOCHS, PROTOCOL_LABELS, protocol_cell, protocol_plan
from .long_runs import LONG_ROOTS, complete, finished_long_runs, in_table_order, long_cells, widest_milestone
from .quoted import PAPER
from .reproduction import quoted_against, quoted_against_ranges
from .tables import listed, seeds_words


def table_sentence(final: dict, paper: dict, baseline: str) -> str:
    """What the final table shows: where the paper's number lies against both presets' intervals, per
    label count, with the baseline preset's means and how many of the planned seeds have run."""
    counts = list(dict.fromkeys(labels for labels, _ in final))
    where = {n: quoted_against([cell for (labels, _), cell in final.items() if labels == n], paper[n]) for n in counts}
    done = [len(cell["accuracies"]) for cell in final.values()]
    planned = max(cell["planned"] for cell in final.values())
    seeds = f"{planned} seeds each" if min(done) == planned else f"{min(done)} to {max(done)} of {planned} seeds"
    means = listed([f"{final[(n, baseline)]['mean']:.2f}" if final[(n, baseline)]["mean"] is not None else "pending"
                    for n in counts])
    numbers = f"(`{baseline}`: {means}% at {listed([str(n) for n in counts])} labels; {seeds})"
    if all(w == "above" for w in where.values()):
        return (f"**The paper's Table 2 is not reached**: at every label count its number lies above the 95% "
                f"interval of both presets of the final table {numbers}.")
    said = {"above": "lies above both presets' intervals", "within": "lies within reach (inside an interval)",
            "below": "lies below both presets' intervals", "unknown": "cannot be placed yet (too few seeds)"}
    parts = [f"at {n} labels the paper's {paper[n]:.2f}% {said[where[n]]}" for n in counts]
    return f"**Against the paper's Table 2**: {listed(parts)} {numbers}."


def length_sentence(epochs: int, steps_per_epoch: int, presets=("paper-sgd",)) -> str:
    """The final table's training length against the schedule of its first preset (whose drops say the
    paper trained past its last one), naming the other presets that drop sooner."""
    drops = PRESETS[presets[0]].milestones
    where = f"{'before' if drops[0] >= epochs else 'after'} `{presets[0]}`'s first learning-rate drop, at epoch {drops[0]}"
    sooner = [f"`{name}` drops at epoch {PRESETS[name].milestones[0]}" for name in dict.fromkeys(presets[1:])
              if PRESETS[name].milestones[0] < min(drops[0], epochs)]
    if sooner:
        where += f" ({listed(sooner)})"
    return (f"**That is after {epochs} epochs of {steps_per_epoch} steps**, {where}; the schedule drops again "
            f"at epoch {drops[-1]}, so the paper trained for more than {drops[-1]} epochs.")


def open_sentence(long_cells: dict, paper: dict, epochs: int, preset: str = "paper-sgd") -> str:
    """What is still open: whether longer training closes the gap, and the paper's whole length (past the
    schedule's last drop), with what each kind of long run ({kind: {epoch: cell}} of long_runs.long_cells)
    has reached: its `widest_milestone` (the latest that every planned seed reached, if any), then the
    furthest that some seeds went on to (two seeds trained on past the rest do not hide what all five showed)."""
    last_drop = PRESETS[preset].milestones[-1]
    question = (f"**Still open**: whether longer training closes the gap, and whether the paper's length, past "
                f"the drop at epoch {last_drop}, does")
    clauses = {}  # label count -> a clause per kind of run at it
    for kind, by_epoch in in_table_order(long_cells):
        n, furthest = kind[0], max(by_epoch)
        if furthest <= epochs:
            continue
        widest = widest_milestone(by_epoch, epochs)
        first = by_epoch[widest]
        parts = [f"{who_reached(first)} reached epoch {widest} in {first['kind']} ({against_words(first, paper[n])})"]
        if furthest != widest:
            cell = by_epoch[furthest]
            parts.append(f"{who_reached(cell)} went on to epoch {furthest} ({against_words(cell, paper[n])})")
        if not complete(first):  # said in this kind's own clause, since another kind may be complete
            left = first["planned"] - len(first["accuracies"])
            parts.append(f"the other {left} {'is' if left == 1 else 'are'} still to run")
        clauses.setdefault(n, []).append(", and ".join(parts))
    if not clauses:
        return f"{question}; no run of ours has gone past {epochs} epochs yet."
    said = [f"at {n} labels (the paper: {paper[n]:.2f}%) {'; '.join(parts)}" for n, parts in clauses.items()]
    return f"{question}. So far " + "; ".join(said) + "."


def who_reached(cell: dict) -> str:
    """'all 5 seeds', or 'seeds 101 and 102 (2 of 5)': the runs a milestone's cell holds."""
    return seeds_words(cell["accuracies"], cell["planned"])


def against_words(cell: dict, paper: float) -> str:
    """A milestone's accuracies and where the paper's number lies against them: 'mean 92.99%, 95% interval
    [87.53, 98.44], which holds it' once every planned seed is in, else each run's, 'both below it'."""
    values = list(cell["accuracies"].values())
    if complete(cell):
        low, high = cell["interval"]
        ranges = [(low, high)]
        shown, between = f"mean {cell['mean']:.2f}%, 95% interval [{low:.2f}, {high:.2f}]", "which holds"
    else:
        ranges = [(v, v) for v in values]  # single runs
        shown, between = listed([f"{v:.2f}%" for v in values]), "on both sides of"
    against = {"above": "below", "below": "above", "within": between}[quoted_against_ranges(ranges, paper)]
    if len(ranges) > 1 and against != between:  # single runs, all on one side of the paper
        against = f"{'both' if len(ranges) == 2 else 'all'} {against}"
    return f"{shown}, {against} it"


def verdict(final: dict, paper: dict, long_cells: dict, epochs: int, steps_per_epoch: int,
            baseline: str = "paper-sgd") -> list[str]:
    """Three sentences: what the final table ({(labels, preset): cell}) shows against the paper's Table 2
    ({labels: accuracy}), at which training length, and what the long runs leave open."""
    presets = [baseline] + [preset for _, preset in final if preset != baseline]
    return [table_sentence(final, paper, baseline), length_sentence(epochs, steps_per_epoch, presets),
            open_sentence(long_cells, paper, epochs, baseline)]


def verdict_of(results: Path) -> list[str]:
    """The verdict of the runs under `results` (the final table in protocol/, the long runs' roots)."""
    final = {key: protocol_cell(runs) for key, runs in protocol_plan(results / "protocol").items()}
    paper = {n: PAPER["AAE"][n][0] for n in PROTOCOL_LABELS}  # Table 2's error rates as accuracies
    long = long_cells(finished_long_runs([results / root for root in LONG_ROOTS]))
    return verdict(final, paper, long, PROTOCOL_EPOCHS, N_TRAIN // TrainConfig().batch_size, PROTOCOL_BASELINE)


def verdict_markdown(results: Path) -> str:
    """The verdict as the introduction and chapter 3 show it: one quoted block, a sentence a paragraph."""
    return "\n>\n".join(f"> {sentence}" for sentence in verdict_of(results))

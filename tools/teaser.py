"""Draw the introduction's teaser figure from a shipped model: ten digits (columns, the code y)
in a few handwriting styles (rows, one style code z each, drawn from the prior), decoded by the
model that chapter 4's style explorer runs.

    python tools/teaser.py [--run results/table3/labels-1000/seed-0] [--out book/_static/teaser.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aae_core import load_checkpoint  # noqa: E402
from aae_core.chapters import plots  # noqa: E402
from aae_core.chapters.generate import samples_per_digit  # noqa: E402
from aae_core.errors import AAEError  # noqa: E402

STYLES = 4  # rows: one style code z each, the same z for every digit of a row


def teaser(run: Path, out: Path, seed: int = 3) -> None:
    model = load_checkpoint(run)
    images = samples_per_digit(model, n_cols=STYLES, seed=seed)  # (10 * STYLES, 784), digit-major
    by_style = images.view(10, STYLES, -1).transpose(0, 1).reshape(10 * STYLES, -1)
    fig = plots.image_grid(by_style, n_cols=10, size=0.62, col_labels=[f"y = {d}" for d in range(10)],
                           row_labels=[f"style {k + 1}" for k in range(STYLES)])
    fig.patch.set_facecolor("white")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=200, facecolor="white")  # two pixels per screen pixel; the intro shows it at half


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "results" / "table3" / "labels-1000" / "seed-0")
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "_static" / "teaser.png")
    args = parser.parse_args()
    try:
        teaser(args.run, args.out)
    except (AAEError, OSError) as err:
        print(f"teaser: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

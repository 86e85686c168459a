"""Where the repository is: the folder that holds `aae_core/`, `results/` and the book. The data's
default place and the results' provenance are found from it."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

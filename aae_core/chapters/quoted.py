"""Numbers quoted from others, never computed here: Table 3 of the seed reproduction report
(Latała, "Adversarial Autoencoders in a Semi-Supervised Setting"), which reprints the paper's
Table 2 (Makhzani et al. 2015, "Adversarial Autoencoders") and its NN and VAT baselines.

MNIST test accuracy in percent, by number of labels; None where a source gives no number.
"""
from __future__ import annotations

SOURCE = "seed report, Table 3 (paper numbers from Makhzani et al. 2015, Table 2)"

TABLE3 = {
    # labels: {column: accuracy}
    100: {"paper_50": 96.60, "paper_500": 97.80, "paper_best": 98.10, "seed_50": 76.60, "seed_500": 76.50,
          "nn": 74.20, "vat": 97.67},
    1000: {"paper_50": 97.60, "paper_500": 97.80, "paper_best": 98.40, "seed_50": 92.30, "seed_500": 93.10,
           "nn": 91.27, "vat": 98.64},
    "all": {"paper_50": 98.75, "paper_500": 98.85, "paper_best": 99.15, "seed_50": 98.66, "seed_500": 98.96,
            "nn": 98.75, "vat": 99.36},
}
SEED_STD = {100: {"seed_50": 1.00}, 1000: {"seed_50": 0.20}, "all": {"seed_50": 0.10}}

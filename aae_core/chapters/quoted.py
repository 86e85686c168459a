"""Numbers quoted from others, never computed here, each with its source.

MNIST test accuracy in percent, by number of labels ("all" = every training label). The paper's
Table 2 (Makhzani et al. 2015, "Adversarial Autoencoders") gives one error rate per label count
and method, with no epoch count; we store it as accuracy (100 - error). The 50- and 500-epoch
"paper" numbers exist only in Latała's Table 3 (F. Latała, TU Delft, "Adversarial Autoencoders in
a Semi-Supervised Setting"), which labels them "Paper"; where they come from is not said, and its
"all labels, 50 epochs" 98.75 equals the paper's NN baseline (1.25% error). They are Latała's
attribution, kept apart from the paper's own numbers.
"""
from __future__ import annotations

from ..config import PAPER_LABELS

PAPER_TABLE2 = "Makhzani et al. (2015), Table 2"
LATALA_TABLE3 = "Latała's report, Table 3"

# The paper's Table 2, as accuracy: {method: {labels: (accuracy, ± as printed, or None)}}. Its other
# rows (VAE M1+M2, CatGAN, Ladder networks, ADGM) are not transcribed here.
PAPER = {
    "AAE": {100: (98.10, 0.10), 1000: (98.40, 0.08), "all": (99.15, 0.02)},
    "NN baseline": {100: (74.20, None), 1000: (91.27, None), "all": (98.75, None)},
    "VAT": {100: (97.67, None), 1000: (98.64, None), "all": (99.36, 0.04)},
}

# Latała's Table 3: its own runs (mean ± std over three seeds), and the columns it labels "Paper".
LATALA = {
    "ours, 50 epochs": {100: (76.60, 1.00), 1000: (92.30, 0.20), "all": (98.66, 0.10)},
    "ours, 500 epochs": {100: (76.50, 2.00), 1000: (93.10, 0.10), "all": (98.96, 0.05)},
    "'paper', 50 epochs": {100: (96.60, None), 1000: (97.60, None), "all": (98.75, None)},
    "'paper', 500 epochs": {100: (97.80, None), 1000: (97.80, None), "all": (98.85, None)},
}

# Public reimplementations, as their authors report them (approximate where the source says "about").
REIMPLEMENTATIONS = [
    {"who": "musyoku/adversarial-autoencoder", "labels": 100, "accuracy": "about 96%",
     "source": "github.com/musyoku/adversarial-autoencoder (README)"},
    {"who": "conan7882/adversarial-autoencoders", "labels": 1280, "accuracy": "97.10%",
     "source": "github.com/conan7882/adversarial-autoencoders (README)"},
    {"who": "Naresh1318/Adversarial_Autoencoder", "labels": 1000, "accuracy": "about 94-95%",
     "source": "github.com/Naresh1318/Adversarial_Autoencoder (README)"},
]

SOURCES = {"paper": PAPER_TABLE2, "latala": LATALA_TABLE3}

# The columns the book's Table 3 shows beside ours, with their sources: {key: {labels: accuracy}}.
TABLE3 = {
    labels: {"paper_best": PAPER["AAE"][labels][0], "nn": PAPER["NN baseline"][labels][0],
             "vat": PAPER["VAT"][labels][0], "paper_50": LATALA["'paper', 50 epochs"][labels][0],
             "paper_500": LATALA["'paper', 500 epochs"][labels][0], "latala_50": LATALA["ours, 50 epochs"][labels][0],
             "latala_500": LATALA["ours, 500 epochs"][labels][0]}
    for labels in PAPER_LABELS
}
COLUMN_SOURCE = {"paper_best": PAPER_TABLE2, "nn": PAPER_TABLE2, "vat": PAPER_TABLE2, "paper_50": LATALA_TABLE3,
                 "paper_500": LATALA_TABLE3, "latala_50": LATALA_TABLE3, "latala_500": LATALA_TABLE3}
LATALA_STD = {labels: {"latala_50": LATALA["ours, 50 epochs"][labels][1]} for labels in PAPER_LABELS}

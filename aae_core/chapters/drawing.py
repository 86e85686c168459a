"""A reader's drawing made into an MNIST digit, the way chapter 4's draw pad does it in the page.

MNIST's digits (LeCun et al., 1998) are NIST's black-and-white digits scaled to fit a 20x20 box,
keeping their aspect ratio, with anti-aliasing (the grey levels), then placed in a 28x28 image so
that their centre of mass lies at its centre. The draw pad (`book/_static/widgets/aae-draw.js`)
applies those steps to the reader's strokes; this module is their Python twin, which the browser
tests hold the page to, and writes the few real test digits the pad can load.

Coordinates: the pad is a PAD x PAD grid of ink in [0, 1]; pixel (row r, column c) covers
[c, c + 1) x [r, r + 1), so its centre is (c + 0.5, r + 0.5); a stroke is a list of (x, y) points.
"""
from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import torch

from ..runs.files import atomic_write

PAD = 112  # ink pixels per side of the pad (4 x 28)
RADIUS = 4.5  # half the pen's width, in ink pixels: strokes of about 2 px once the digit is 20 px tall
BOX, SIDE = 20, 28  # MNIST: the digit fits a 20x20 box inside a 28x28 image
TEST_DIGITS_SCRIPT = "test-digits.js"
TIE = 1e-9


def rasterize(strokes: list[list[tuple[float, float]]], size: int = PAD, radius: float = RADIUS) -> np.ndarray:
    """The pen's ink (size, size): a pixel is covered by how far its centre lies inside the pen's
    round tip swept along each segment (1 inside, 0 beyond radius + 0.5, linear between)."""
    centres = np.arange(size) + 0.5
    px, py = np.meshgrid(centres, centres)  # (size, size): x by column, y by row
    ink = np.zeros((size, size))
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        for (ax, ay), (bx, by) in zip(points, points[1:] if len(points) > 1 else points):
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0, 1) if length2 > 0 else 0.0
            distance = np.hypot(px - ax - t * dx, py - ay - t * dy)
            ink = np.maximum(ink, np.clip(radius + 0.5 - distance, 0, 1))
    return ink.astype(np.float32)


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): how much of each input pixel falls in each output pixel, rows summing to 1
    (an area-averaging resampler: the anti-aliasing of the 20x20 box)."""
    weights, step = np.zeros((n_out, n_in)), n_in / n_out
    for k in range(n_out):
        start, end = k * step, (k + 1) * step
        for i in range(math.floor(start), min(n_in, math.ceil(end))):
            weights[k, i] = (min(end, i + 1) - max(start, i)) / step
    return weights


def prepare(ink: np.ndarray) -> np.ndarray:
    """MNIST's steps on an ink image: crop to the ink, scale the longer side to 20 pixels keeping
    the aspect ratio (area averaging), put it in 28x28, shift it by whole pixels so that its centre
    of mass lands on the image's centre. Returns the 784 values in [0, 1] (zeros for no ink)."""
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0), np.flatnonzero(ink.max(axis=0) > 0)
    image = np.zeros((SIDE, SIDE))
    if len(rows) == 0:
        return image.ravel().astype(np.float32)
    crop = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1].astype(np.float64)
    h, w = crop.shape
    scale = BOX / max(h, w)
    oh, ow = max(1, math.floor(h * scale + 0.5)), max(1, math.floor(w * scale + 0.5))
    box = area_weights(h, oh) @ crop @ area_weights(w, ow).T  # (oh, ow)
    top, left = (SIDE - oh) // 2, (SIDE - ow) // 2
    image[top: top + oh, left: left + ow] = box
    mass = image.sum()
    cy = (image.sum(axis=1) * np.arange(SIDE)).sum() / mass  # centres of pixels at 0, 1, ..., 27
    cx = (image.sum(axis=0) * np.arange(SIDE)).sum() / mass
    # whole pixels, to the nearest; a tie (a symmetric digit) goes the same way whatever the sums' rounding
    sy, sx = (math.floor((SIDE - 1) / 2 - c + 0.5 + TIE) for c in (cy, cx))
    shifted = np.zeros_like(image)
    shifted[max(0, sy): SIDE + min(0, sy), max(0, sx): SIDE + min(0, sx)] = \
        image[max(0, -sy): SIDE - max(0, sy), max(0, -sx): SIDE - max(0, sx)]
    return shifted.ravel().astype(np.float32)


def shipped_digit_indices(test_y: torch.Tensor, per_class: int = 3) -> list[int]:
    """The first `per_class` test images of each digit, in the order 0..9, 0..9, ..."""
    firsts = [torch.nonzero(test_y == d).flatten()[:per_class].tolist() for d in range(10)]
    return [firsts[d][k] for k in range(per_class) for d in range(10)]


def write_test_digits(mnist, out: str | Path, per_class: int = 3) -> Path:
    """The pad's "load a test digit": a few MNIST test digits as uint8, base64, in a script."""
    indices = shipped_digit_indices(mnist.test_y, per_class)
    images = (mnist.test_x[indices] * 255).round().to(torch.uint8).numpy()
    bundle = {"indices": indices, "labels": mnist.test_y[indices].tolist(),
              "images": base64.b64encode(images.tobytes()).decode("ascii")}
    path = Path(out) / TEST_DIGITS_SCRIPT
    text = ("// Written by aae_core.chapters.drawing.write_test_digits: MNIST test digits (uint8, 28x28 each).\n"
            f"window.AAE_TEST_DIGITS = {json.dumps(bundle)};\n")
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path

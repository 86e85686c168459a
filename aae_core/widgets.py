"""The style explorer for Jupyter: pick the digit y, drag the ten style sliders z, see the decoding.

It needs a live kernel (every change runs the decoder in Python). The static HTML book shows the
same explorer through `book/_static/decoder/aae-decoder.js` instead (see `export.py`).
"""
from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from .evaluate import generate
from .models import SemiSupervisedAAE


def digit_png(pixels: np.ndarray, size: float = 2.4) -> bytes:
    """One 28x28 image (784 values in [0, 1]) as PNG bytes, ink dark on white."""
    fig = Figure(figsize=(size, size))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(pixels.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class StyleExplorer(widgets.HBox):
    """A digit selector, one slider per style dimension, and the decoded image, redrawn on change."""

    def __init__(self, model: SemiSupervisedAAE, slider_range: float = 3.0):
        self.model = model.eval()
        self.digit = widgets.ToggleButtons(options=list(range(model.cfg.n_classes)), value=0, description="y",
                                           style={"button_width": "2.4em"})
        self.sliders = [widgets.FloatSlider(value=0.0, min=-slider_range, max=slider_range, step=0.05,
                                            description=f"z{i + 1}", continuous_update=True)
                        for i in range(model.cfg.style_dim)]
        self.image = widgets.Image(format="png", width=196, height=196)
        for control in (self.digit, *self.sliders):
            control.observe(self.redraw, names="value")
        super().__init__([self.image, widgets.VBox([self.digit, *self.sliders])])
        self.redraw()

    @property
    def z(self) -> torch.Tensor:
        return torch.tensor([[s.value for s in self.sliders]], dtype=torch.float32)  # (1, style_dim)

    def decoded(self) -> np.ndarray:
        """The 784 pixels for the current selector and sliders."""
        device = next(self.model.parameters()).device
        return generate(self.model, torch.tensor([self.digit.value], device=device), self.z.to(device))[0].cpu().numpy()

    def redraw(self, change=None) -> None:
        self.image.value = digit_png(self.decoded())


def style_explorer(model: SemiSupervisedAAE, slider_range: float = 3.0) -> StyleExplorer:
    """The explorer widget for `model` (display it as a cell's last expression)."""
    return StyleExplorer(model, slider_range)

"""The two style explorers: pick the digit y, drag the ten style sliders z, see the decoding.

`StyleExplorer` is for Jupyter: ipywidgets, and every change runs the decoder in Python (it needs
a live kernel). `BrowserExplorer` is for the static HTML book, which has no kernel: the same
explorer as page content, the exported decoder (`export.py`) multiplied out in JavaScript by
`book/_static/decoder/aae-decoder.js`.
"""
from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..models import SemiSupervisedAAE
from .export import WEIGHTS_SCRIPT
from .generate import generate


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


class BrowserExplorer:
    """The style explorer as page content: a canvas, digit buttons and sliders that run the exported
    decoder in the reader's browser (no kernel). `static` is the decoder folder as the page sees it.

    Its HTML needs trusted output in Jupyter (scripts run); elsewhere the PNG shows the digits at z = 0.
    """

    _count = 0

    def __init__(self, model: SemiSupervisedAAE, static: str = "../_static/decoder/", slider_range: float = 3.0):
        self.model, self.static, self.slider_range = model, static.rstrip("/") + "/", slider_range
        BrowserExplorer._count += 1
        self.element_id = f"aae-explorer-{BrowserExplorer._count}"

    def _repr_html_(self) -> str:
        return (f'<div class="aae-explorer" id="{self.element_id}" data-range="{self.slider_range:g}">'
                f'<noscript>The style explorer needs JavaScript.</noscript></div>\n'
                f'<script src="{self.static}{WEIGHTS_SCRIPT}"></script>\n'
                f'<script src="{self.static}aae-decoder.js"></script>\n'
                f'<script>AAEDecoder.mount(document.getElementById("{self.element_id}"), window.AAE_DECODER);</script>')

    def _repr_png_(self) -> bytes:
        from .plots import image_grid

        digits = torch.arange(self.model.cfg.n_classes)
        images = generate(self.model, digits, torch.zeros(len(digits), self.model.cfg.style_dim))
        buffer = io.BytesIO()
        image_grid(images, n_cols=len(digits), title="every digit at z = 0 (the live explorer needs the HTML book)",
                   col_labels=[str(d) for d in digits.tolist()]).savefig(buffer, format="png", dpi=80)
        return buffer.getvalue()

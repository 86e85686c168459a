"""The style explorers and the draw pad: pick the digit y, drag the ten style values z, see the decoding.

`StyleExplorer` is for Jupyter: ipywidgets, and every change runs the decoder in Python (it needs
a live kernel). The static HTML book has no kernel, so its live figures are page content that runs
the exported networks (`export.py`) in JavaScript (`book/_static/lib/aae-nn.js`): `BrowserExplorer`
(the same explorer, with a switch between models) and `BrowserDrawPad` (draw a digit, see what the
encoder reads and the style it finds).
"""
from __future__ import annotations

import html
import io
import json

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..models import SemiSupervisedAAE
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


BOOT = """(function (base) {
  if (window.AAENN) return window.AAENN.mountAll(base);
  if (document.querySelector("script[data-aae-static]")) return;  // on its way: it mounts every widget when it runs
  var tag = document.createElement("script");
  tag.src = base + "lib/aae-nn.js"; tag.setAttribute("data-aae-static", base);
  document.head.appendChild(tag);
})(%s);"""


class BrowserWidget:
    """A live figure of the HTML book: an element that `book/_static/lib/aae-nn.js` mounts, with the
    models it may run (`folders`: {label: folder under _static/models/}, the first loaded with the page,
    the others when the reader switches). Each script and weights file loads once per page, by a tag
    the library injects (so it works on file:// too). Its HTML needs trusted output in Jupyter; elsewhere
    the PNG shows a still of it."""

    kind = ""
    _count = 0

    def __init__(self, folders: dict[str, str], static: str = "../_static/", **config):
        self.static = static.rstrip("/") + "/"
        self.config = {"models": [{"name": folder, "label": label, "path": f"{self.static}models/{folder}/"}
                                  for label, folder in folders.items()], **config}
        BrowserWidget._count += 1
        self.element_id = f"aae-{self.kind}-{BrowserWidget._count}"

    def _repr_html_(self) -> str:
        return (f'<div class="aae-widget aae-{self.kind}" id="{self.element_id}" data-widget="{self.kind}" '
                f'data-config="{html.escape(json.dumps(self.config))}">'
                f'<noscript>This live figure needs JavaScript.</noscript></div>\n'
                f'<script>{BOOT % json.dumps(self.static)}</script>')

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.still().savefig(buffer, format="png", dpi=80, facecolor="white")
        return buffer.getvalue()


class BrowserExplorer(BrowserWidget):
    """The style explorer as page content: digit buttons, style sliders with the prior's marks, the
    decoded digit and the same z as every digit, and a switch between the models (widgets/aae-explorer.js)."""

    kind = "explorer"

    def __init__(self, models: dict[str, SemiSupervisedAAE], folders: dict[str, str], static: str = "../_static/",
                 slider_range: float = 3.0):
        super().__init__(folders, static, range=slider_range)
        self.models = {label: models[label] for label in folders}

    def still(self) -> Figure:
        from .plots import image_grid

        digits = torch.arange(10)
        images = torch.cat([generate(model, digits, torch.zeros(10, model.cfg.style_dim)) for model in self.models.values()])
        return image_grid(images, n_cols=10, title="Every digit at z = 0 (the live explorer needs the HTML book)",
                          row_labels=list(self.models), col_labels=[str(d) for d in range(10)])


class BrowserDrawPad(BrowserWidget):
    """Draw a digit: the reader's strokes made into an MNIST digit, the encoder's q(y|x) as bars and z as
    numbers, and that z decoded as every digit (widgets/aae-draw.js, drawing.py's steps in JavaScript)."""

    kind = "draw"

    def __init__(self, model: SemiSupervisedAAE, folders: dict[str, str], examples: torch.Tensor,
                 static: str = "../_static/"):
        super().__init__(folders, static)
        self.model, self.examples = model, examples  # the still: these digits' styles as every digit

    def still(self) -> Figure:
        from .generate import style_transfer
        from .plots import image_grid

        rows = style_transfer(self.model, self.examples).view(len(self.examples), 10, -1)
        images = torch.cat([torch.cat([x[None], row]) for x, row in zip(self.examples, rows)])
        return image_grid(images, n_cols=11, col_labels=["input"] + [f"y={d}" for d in range(10)],
                          title="Test digits' styles as every digit (drawing your own needs the HTML book)")

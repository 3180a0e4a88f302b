"""Video stylisation settings and the named variants of the source report (plain data).

A variant is a mapping of :class:`VideoSettings` fields, optionally with image-stylisation
fields (any :class:`~styleflow.options.settings.StyleSettings` field such as ``style_weight``) and
``base: <name>`` to start from a built-in variant. Users define their own in YAML.

Initialisation of frames after the first (Ruder et al. 2016, the source report's ablations):

* ``content``     — the frame's own content frame (the report's ``noInit``);
* ``random``      — seeded noise;
* ``prev``        — the previous stylised frame, unwarped;
* ``prev_warped`` — the previous stylised frame warped by the flow; pixels the consistency mask
  distrusts (disocclusions, motion boundaries, outside the frame) are blended towards the content
  frame: ``init = c·warped + (1 − c)·content`` with ``c`` the mask in [0, 1].

``temporal_weight`` (γ) > 0 adds Ruder's temporal loss against the warped earlier frames listed
in ``long_term`` (frame offsets, closest first; ``[1]`` is the short-term loss); masks of farther
frames are combined "closest first". ``passes`` > 1 runs the multi-pass algorithm.
``style_floor`` (long clips, docs/long-clips.md): while a later frame's style loss is above
``style_floor`` times its shot's first frame's, its style term pulls ``1 + style_floor_weight`` times
harder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from styleflow.errors import StyleflowError
from styleflow.motion.warp import INTERPOLATIONS

#: γ used by the built-in temporal variants (pixels in [0, 1]; see settings.py for the scales).
DEFAULT_TEMPORAL_WEIGHT = 1e4


@dataclass
class VideoSettings:
    """How the frames of a clip are initialised and tied together."""

    init: str = "prev_warped"  # content | random | prev | prev_warped
    first_init: str = "content"  # content | random: first frame and frames after a scene cut
    temporal_weight: float = 0.0  # γ; 0 disables the temporal loss
    long_term: list[int] = field(default_factory=lambda: [1])  # offsets of earlier frames, closest first
    passes: int = 1  # > 1: multi-pass (alternating forward / backward)
    pass_iterations: int | None = None  # budget per frame in passes after the first (default: iterations // 2)
    temporal_from_pass: int = 2  # multi-pass: temporal loss from this pass on
    blend: float = 0.5  # multi-pass: δ, weight of the warped neighbour in a frame's init
    first_iterations: int | None = None  # budget of the first frame (and frames after a cut)
    iterations: int | None = None  # budget of later frames
    coarse_to_fine_later: bool = False  # also use coarse-to-fine for frames initialised from a previous frame
    # sampling of warped stylised frames (init and temporal target): bicubic keeps their fine
    # texture, which bilinear blurs (a lower start loss and a lower warping error, docs/performance.md)
    warp_interpolation: str = "bicubic"  # bicubic | bilinear
    # Long clips: a floor on the style term of frames initialised from a previous frame. With
    # style_floor = r the style term pulls (1 + style_floor_weight) times harder while a frame's
    # style loss is above r times that of its shot's first frame (docs/long-clips.md); None: off.
    style_floor: float | None = None
    style_floor_weight: float = 2.0

    def __post_init__(self) -> None:
        if self.init not in ("content", "random", "prev", "prev_warped"):
            raise StyleflowError(f"variant init {self.init!r}: expected content, random, prev or prev_warped")
        if self.first_init not in ("content", "random"):
            raise StyleflowError(f"variant first_init {self.first_init!r}: expected content or random")
        if not isinstance(self.temporal_weight, (int, float)) or self.temporal_weight < 0:
            raise StyleflowError(f"variant temporal_weight: expected a number >= 0, got {self.temporal_weight!r}")
        offsets = list(self.long_term)
        if not offsets or any(not isinstance(d, int) or d < 1 for d in offsets) or len(set(offsets)) != len(offsets):
            raise StyleflowError(f"variant long_term {self.long_term!r}: expected distinct frame offsets >= 1, e.g. [1, 2, 4]")
        self.long_term = sorted(offsets)
        if self.warp_interpolation not in INTERPOLATIONS:
            raise StyleflowError(
                f"variant warp_interpolation {self.warp_interpolation!r}: expected {' or '.join(INTERPOLATIONS)}"
            )
        if self.style_floor is not None and (not isinstance(self.style_floor, (int, float)) or not self.style_floor > 0):
            raise StyleflowError(f"variant style_floor {self.style_floor!r}: expected a ratio > 0 (e.g. 1.0) or null")
        if not isinstance(self.style_floor_weight, (int, float)) or self.style_floor_weight < 0:
            raise StyleflowError(f"variant style_floor_weight {self.style_floor_weight!r}: expected a number >= 0")
        if not isinstance(self.passes, int) or not 1 <= self.passes <= 50:
            raise StyleflowError(f"variant passes {self.passes!r}: expected 1 to 50")
        if not 0.0 <= float(self.blend) <= 1.0:
            raise StyleflowError(f"variant blend {self.blend!r}: expected a number in [0, 1]")
        for name in ("first_iterations", "iterations", "pass_iterations"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 0):
                raise StyleflowError(f"variant {name} {v!r}: expected a whole number >= 0")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_T = DEFAULT_TEMPORAL_WEIGHT

#: The built-in variants: the source report's five, plus three from Ruder et al.
VARIANTS: dict[str, dict[str, Any]] = {
    "noInit": {"init": "content", "temporal_weight": 0.0},
    "noFlowInit_noTemporalLoss": {"init": "prev", "temporal_weight": 0.0},
    "noFlowInit_temporalLoss": {"init": "prev", "temporal_weight": _T},
    "flowInit_noTemporalLoss": {"init": "prev_warped", "temporal_weight": 0.0},
    "flowInit_temporalLoss": {"init": "prev_warped", "temporal_weight": _T},
    "moreSteps": {"init": "prev_warped", "temporal_weight": _T, "first_iterations": 500, "iterations": 500},
    "longTerm": {"init": "prev_warped", "temporal_weight": _T, "long_term": [1, 2, 4]},
    "multiPass": {"init": "prev_warped", "temporal_weight": _T, "passes": 4, "temporal_from_pass": 2},
}

_VIDEO_FIELDS = {f.name for f in dataclasses.fields(VideoSettings)}


def resolve_variant(variant: str | Mapping[str, Any]) -> tuple[str, VideoSettings, dict[str, Any]]:
    """A variant name or mapping → ``(name, video settings, image-setting overrides)``.

    Unknown keys are passed on as image-setting overrides and checked there.
    """
    if isinstance(variant, str):
        if variant not in VARIANTS:
            raise StyleflowError(f"variant {variant!r}: unknown; built-in variants are {', '.join(VARIANTS)}")
        name, values = variant, dict(VARIANTS[variant])
    elif isinstance(variant, Mapping):
        values = dict(variant)
        base = values.pop("base", None)
        name = str(values.pop("name", base or "custom"))
        if base is not None:
            if base not in VARIANTS:
                raise StyleflowError(f"variant base {base!r}: unknown; built-in variants are {', '.join(VARIANTS)}")
            values = {**VARIANTS[base], **values}
    else:
        raise StyleflowError(f"variant: expected a name or a mapping, got {type(variant).__name__}")
    video = {k: v for k, v in values.items() if k in _VIDEO_FIELDS}
    image = {k: v for k, v in values.items() if k not in _VIDEO_FIELDS}
    try:
        return name, VideoSettings(**video), image
    except TypeError as exc:
        raise StyleflowError(f"variant {name}: {exc}") from None


def required_offsets(variant: str | Mapping[str, Any]) -> list[int]:
    """The flow offsets a variant needs (for the flow stage)."""
    _, video, _ = resolve_variant(variant)
    return video.long_term

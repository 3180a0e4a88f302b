"""Video stylisation settings and the named variants of the source report (plain data).

A variant is a mapping of :class:`VideoSettings` fields (the registry's ``video`` options,
:mod:`styleflow.options.registry`), optionally with image-stylisation fields (any
:class:`~styleflow.options.settings.StyleSettings` field such as ``style_weight``) and
``base: <name>`` to start from a built-in variant. Users define their own in YAML; an unknown key
is an error naming the closest valid one. :data:`DEFAULT_VARIANT` is the one default variant.

Initialisation of frames after the first (Ruder et al. 2016, the source report's ablations):

* ``content``     — the frame's own content frame (the report's ``noInit``);
* ``random``      — seeded noise;
* ``prev``        — the previous stylised frame, unwarped;
* ``prev_warped`` — the previous stylised frame warped by the flow, everywhere (as Ruder et al.'s
  code does); with ``disocclusion_fill: content`` the pixels the consistency mask distrusts
  (disocclusions, motion boundaries, outside the frame) are blended towards the content frame
  instead: ``init = c·warped + (1 − c)·content`` with ``c`` the mask in [0, 1]. That was the default
  until 0.2: the unstylised colours it brings in every frame pull the whole frame's style
  statistics, and static regions drift (docs/long-clips.md); with ``disocclusion_fill: recolored``
  they start from the content recoloured to the neighbouring trusted stylised pixels
  (:mod:`styleflow.video.fill`, docs/ghosts.md; the ``recolorFill`` variant); ``fill_change: τ``
  restricts the fill to the distrusted pixels whose content changed along the flow (or that the
  flow brings in from outside the previous frame; the ``changedFill`` variant).

``temporal_weight`` (γ) > 0 adds Ruder's temporal loss against the warped earlier frames listed
in ``long_term`` (frame offsets, closest first; ``[1]`` is the short-term loss); masks of farther
frames are combined "closest first". ``passes`` > 1 runs the multi-pass algorithm.
``style_floor`` (long clips, docs/long-clips.md): while a later frame's style loss is above
``style_floor`` times its shot's first frame's, its style term pulls ``1 + style_floor_weight`` times
harder.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from styleflow.errors import StyleflowError
from styleflow.options.registry import (
    DEFAULT_TEMPORAL_WEIGHT,
    check_keys,
    check_value,
    name_hint,
    option,
    options,
    settings_class,
    temporal_on,
)

#: The variant of ``styleflow video``, of a grid entry that names none, of the benchmark.
DEFAULT_VARIANT = "flowInit_temporalLoss"


class _VideoSettingsMethods:
    """Methods of :class:`VideoSettings` (its fields are the registry's ``video`` options)."""

    def __post_init__(self) -> None:
        for o in options("video"):
            setattr(self, o.name, check_value(o, getattr(self, o.name), where="variant "))
        if "model" in (self.init, self.first_init) and not self.model:
            raise StyleflowError("variant init/first_init 'model' needs `model: PATH` (a file from `styleflow train`)")
        if self.fill_change is not None and self.disocclusion_fill == "warped":
            raise StyleflowError("variant fill_change: restricts a disocclusion fill, but disocclusion_fill is "
                                 "'warped' (none); add `disocclusion_fill: recolored` (--disocclusion-fill recolored) or use "
                                 "the changedFill variant")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @property
    def temporal(self) -> bool:
        """Whether the temporal loss is on (in some pass): γ > 0. The one place that decides it."""
        return temporal_on(self.temporal_weight)  # type: ignore[attr-defined]

    def temporal_in_pass(self, p: int) -> bool:
        """Whether pass ``p`` (1-based) optimises with the temporal loss: from ``temporal_from_pass``
        on in a multi-pass run, always in a one-pass run (when :attr:`temporal`)."""
        s: Any = self
        return self.temporal and (s.passes == 1 or p >= s.temporal_from_pass)

    @property
    def temporal_offsets(self) -> list[int]:
        """The earlier frames (offsets, closest first) the temporal loss ties a frame to:
        ``long_term`` when :attr:`temporal`, else none."""
        return list(self.long_term) if self.temporal else []  # type: ignore[attr-defined]

    @property
    def needs_flow(self) -> bool:
        """Whether frames read flows and masks: warped starts, the temporal loss, multi-pass blends."""
        return self.init == "prev_warped" or self.temporal or self.passes > 1  # type: ignore[attr-defined]

    def budgets(self, first: int | None, later: int | None, default: int) -> tuple[int, int, int]:
        """Iteration budgets ``(first frame and after a cut, later frames, each frame of a later pass)``:
        the variant's own (0 is a budget: feed-forward runs optimise nothing), else ``first`` /
        ``later`` (the grid's or the command line's), else ``default`` (the preset's ``iterations``).
        A later pass gets ``pass_iterations``, else half the later frames' budget (at least 1).
        The one place that decides a run's budgets."""
        s: Any = self
        first_budget = next(int(v) for v in (s.first_iterations, first, default) if v is not None)
        later_budget = next(int(v) for v in (s.iterations, later, default) if v is not None)
        pass_budget = int(s.pass_iterations) if s.pass_iterations is not None else max(1, later_budget // 2)
        return first_budget, later_budget, pass_budget

    @property
    def flow_offsets(self) -> list[int]:
        """The frame offsets whose flows and masks the run reads: ``long_term`` with the temporal
        loss, else ``[1]`` (warped starts and multi-pass blends use the neighbouring frame only)."""
        return self.temporal_offsets if self.temporal else [1]


#: How the frames of a clip are initialised and tied together: one field per ``video`` option of
#: :data:`styleflow.options.registry.OPTIONS` (``init``, ``temporal_weight``, ``long_term`` ...).
VideoSettings: Any = settings_class(
    "VideoSettings", "video", _VideoSettingsMethods,
    "How the frames of a clip are initialised and tied together (fields: the registry's video options).",
    __name__,
)

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
    # Issue 24 (docs/ghosts.md): disoccluded pixels start from the content recoloured to their
    # trusted stylised neighbours (less ghosting there; more iterations on real footage).
    "recolorFill": {"init": "prev_warped", "temporal_weight": _T, "disocclusion_fill": "recolored"},
    # ... only where the content changed along the flow or came from outside the previous frame
    # (fewer extra iterations, static regions within the drift bound).
    "changedFill": {"init": "prev_warped", "temporal_weight": _T, "disocclusion_fill": "recolored", "fill_change": 0.04},
    # Feed-forward (styleflow.ff; give `model: PATH` or, in a grid, the name of a `models:` entry):
    # every frame is the network's output, no optimisation; the noTemporal row names a model
    # trained without the temporal loss; modelInit is the hybrid (the network's output as the
    # first frame's start, then as flowInit_temporalLoss).
    "feedforward": {"init": "model", "first_init": "model", "first_iterations": 0, "iterations": 0,
                    "temporal_weight": 0.0},
    "feedforward_noTemporal": {"init": "model", "first_init": "model", "first_iterations": 0, "iterations": 0,
                               "temporal_weight": 0.0},
    "modelInit": {"init": "prev_warped", "first_init": "model", "temporal_weight": _T},
}

_VIDEO_FIELDS = {o.name for o in options("video")}
#: Image options a variant may override (those not shadowed by a video field of the same name).
_IMAGE_FIELDS = {o.name for o in options("image")} - _VIDEO_FIELDS
#: Every key a variant mapping may hold.
VARIANT_KEYS = ("base", "name", *sorted(_VIDEO_FIELDS), *sorted(_IMAGE_FIELDS))


def resolve_variant(variant: str | Mapping[str, Any]) -> tuple[str, VideoSettings, dict[str, Any]]:
    """A variant name or mapping → ``(name, video settings, image-setting overrides)``.

    An unknown key is an error naming the closest valid one.
    """
    if isinstance(variant, str):
        if variant not in VARIANTS:
            raise StyleflowError(f"variant {variant!r}: unknown, not a built-in variant; {name_hint(variant, VARIANTS)}")
        name, values = variant, dict(VARIANTS[variant])
    elif isinstance(variant, Mapping):
        values = dict(variant)
        check_keys(values, VARIANT_KEYS, where=f"variant {values.get('name', values.get('base', ''))}: ")
        base = values.pop("base", None)
        name = str(values.pop("name", base or "custom"))
        if base is not None:
            if base not in VARIANTS:
                raise StyleflowError(f"variant base {base!r}: unknown, not a built-in variant; {name_hint(base, VARIANTS)}")
            values = {**VARIANTS[base], **values}
    else:
        raise StyleflowError(f"variant: expected a name or a mapping, got {type(variant).__name__}")
    video = {k: v for k, v in values.items() if k in _VIDEO_FIELDS}
    image = {k: check_value(option(k), v, where=f"variant {name}: ")
             for k, v in values.items() if k not in _VIDEO_FIELDS}
    return name, VideoSettings(**video), image


def variant_spec(name: str, entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """A config's variant entry as passed to :func:`resolve_variant`: the mapping, named after its
    entry, with ``base`` defaulting to the entry's name when that is a built-in variant.

    An entry whose name is not built in must say what it is, ``base:`` or at least one option:
    ``noinit: {}`` is refused ("did you mean noInit?") instead of silently running the
    registry's defaults under a misspelt name.
    """
    spec = dict(entry or {})
    if "base" not in spec and name in VARIANTS:
        spec["base"] = name
    if "base" not in spec and not set(spec) - {"name"}:
        raise StyleflowError(
            f"variant {name!r}: not a built-in variant and the entry is empty; {name_hint(name, VARIANTS)} "
            "(a variant of your own needs `base: A_BUILT_IN_VARIANT` or at least one option)"
        )
    spec.setdefault("name", name)
    return spec

"""One frame of one pass of the sequential stylisation (:func:`styleflow.video.sequence.stylize_shot`).

:func:`stylize_frame` takes a :class:`FrameContext` (what the frame needs: the shot's stylizer,
clip, stores and settings, the frame's number, pass and direction) and runs the steps, each a
small function: :func:`start` (the start mode, its image and budget; the disocclusion fill of a
warped start is :func:`styleflow.video.fill.initial_image`), :func:`temporal_terms`,
:func:`style_floor`, :func:`watched_pixels`, the optimisation, and :func:`frame_record`.

Images are ``(H, W, 3)`` float32 RGB in [0, 1]; masks ``(H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from styleflow.ff.infer import stylize_image
from styleflow.motion.consistency import combine_closest_first
from styleflow.motion.warp import warp
from styleflow.optim.stylizer import StyleResult, Stylizer, TemporalTerm
from styleflow.options.run import Budgets
from styleflow.progress import IterationBar
from styleflow.video.clip import PreparedClip
from styleflow.video.fill import initial_image
from styleflow.video.store import FrameStore
from styleflow.video.trust import change_weight, content_change, content_change_trust

#: Start modes that begin from a stylisation (stopped by the warm stopping rule).
WARM_MODES = ("prev", "prev_warped", "multipass", "model")


@dataclass
class FrameContext:
    """Frame ``k`` of pass ``pass_no`` (``direction`` 1: forward, -1: backward) of a shot.

    ``store`` holds this pass's frames, ``previous_pass`` the previous pass's (None in the first);
    ``video`` is the run's VideoSettings, ``budgets`` its iteration budgets; ``ff_model`` the
    feed-forward network of ``model`` starts (None without).
    """

    stylizer: Stylizer
    data: PreparedClip
    store: FrameStore
    previous_pass: FrameStore | None
    video: Any
    budgets: Budgets
    k: int
    direction: int
    pass_no: int
    seed: int
    progress: bool = True
    ff_model: Any = None
    _warped: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _change: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _flows: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def content(self) -> np.ndarray:
        return self.data.content(self.k)

    @property
    def nearest(self) -> int:
        """The frame before this one in this pass's direction."""
        return self.k - self.direction

    @property
    def shot_start(self) -> bool:
        """No earlier frame of the same shot in this pass's direction."""
        return not self.data.same_shot(self.k, self.nearest)

    def flow_and_mask(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The flow from this frame into frame ``m`` and its consistency mask, read once per frame."""
        if m not in self._flows:
            self._flows[m] = self.data.flow_and_mask(self.k, m)
        return self._flows[m]

    def content_change(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """``(Δ, inside)`` (H, W) each: the content's own change along the flow from frame ``m`` to
        this one (:func:`styleflow.video.trust.content_change`) and where the flow stays inside frame
        ``m`` (:func:`styleflow.motion.warp.warp`); computed once per frame."""
        if m not in self._change:
            flow, _ = self.flow_and_mask(m)
            warped, inside = warp(self.data.content(m), flow, self.video.warp_interpolation)
            self._change[m] = (content_change(self.content, warped), inside)
        return self._change[m]

    def warped_neighbour(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``m`` of this pass, warped onto this frame's grid, and its reliability (the
        consistency mask times the inside-the-frame mask); computed once per frame."""
        if m not in self._warped:
            flow, mask = self.flow_and_mask(m)
            image, inside = warp(self.store.load(m), flow, self.video.warp_interpolation)
            if self.video.temporal_change is not None:  # less trust where the content changed along the flow
                mask = content_change_trust(mask, self.content_change(m)[0], self.video.temporal_change)
            self._warped[m] = (image, mask * inside)
        return self._warped[m]


def noise(shape: tuple[int, ...], seed: int, k: int) -> np.ndarray:
    """Seeded noise in [0, 1) for frame ``k`` (the ``random`` start)."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + k)
    return torch.rand(shape, generator=gen).numpy().astype(np.float32)


def start(ctx: FrameContext) -> tuple[str, np.ndarray, int, int | None]:
    """``(mode, start image, budget, pyramid levels or None for the settings')`` of the frame.

    First pass: the variant's ``init`` (``first_init`` at a shot start) — the content, noise, the
    network's stylisation, the previous stylised frame, or that frame warped with the pixels the
    mask distrusts filled by ``disocclusion_fill``. Later passes (``multipass``): the previous
    pass's result blended with this pass's warped neighbour.
    """
    video, content = ctx.video, ctx.content
    if ctx.previous_pass is not None:  # multi-pass: blend the previous pass's result with the warped neighbour
        own = ctx.previous_pass.load(ctx.k)
        if not ctx.shot_start:
            w, c = ctx.warped_neighbour(ctx.nearest)
            d = video.blend * c[..., None]
            init = d * w + (1.0 - d) * own
        else:
            init = own
        return "multipass", init, ctx.budgets.per_pass, 1
    mode, budget = video.init, ctx.budgets.later
    if ctx.shot_start:
        mode, budget = video.first_init, ctx.budgets.first
    if mode == "content":
        init = content
    elif mode == "random":
        init = noise(content.shape, ctx.seed, ctx.k)
    elif mode == "model":  # the feed-forward network's stylisation (styleflow.ff)
        init = stylize_image(ctx.ff_model, content, ctx.stylizer.device, ctx.video.model_scale)
    elif mode == "prev":
        init = ctx.store.load(ctx.nearest)
    else:  # prev_warped: trust the warp where the mask does; elsewhere disocclusion_fill
        w, c = ctx.warped_neighbour(ctx.nearest)
        changed = None
        if video.fill_change is not None:  # what the flow brought in from outside frame m counts as changed
            delta, inside = ctx.content_change(ctx.nearest)
            changed = 1.0 - inside * (1.0 - change_weight(delta, video.fill_change))
        init = initial_image(video.disocclusion_fill, w, c, content, changed)
    coarse_to_fine = None
    if mode in ("prev", "prev_warped", "model") and not video.coarse_to_fine_later:
        coarse_to_fine = 1  # a coarse level would blur the good initialisation
    return mode, init, budget, coarse_to_fine


def temporal_terms(ctx: FrameContext) -> list[TemporalTerm]:
    """The temporal loss's terms (when this pass has it): the earlier frames of the shot at the
    run's temporal offsets, warped, with their masks combined closest first."""
    if not ctx.video.temporal_in_pass(ctx.pass_no):
        return []
    neighbours = [ctx.k - ctx.direction * d for d in ctx.video.temporal_offsets]
    neighbours = [m for m in neighbours if ctx.data.same_shot(ctx.k, m)]
    if not neighbours:
        return []
    images = [ctx.warped_neighbour(m) for m in neighbours]
    combined = combine_closest_first([c for _, c in images])
    return [TemporalTerm(w, c, ctx.video.temporal_weight, ctx.video.temporal_lowpass, ctx.video.temporal_detail)
            for (w, _), c in zip(images, combined)]


def style_floor(ctx: FrameContext, mode: str) -> tuple[float, float] | None:
    """``(target, weight)`` of the style floor: the shot's first frame's style loss times
    ``style_floor`` (first pass, frames started from the previous one only)."""
    v = ctx.video
    if v.style_floor is None or ctx.previous_pass is not None or mode not in ("prev", "prev_warped"):
        return None
    first = ctx.store.record(ctx.data.shot_start(ctx.k))
    return v.style_floor * float(first["style_loss"]), v.style_floor_weight


def watched_pixels(ctx: FrameContext, mode: str) -> np.ndarray | None:
    """``warm_stop: disoccluded``: the pixels no warp carried (1 − the mask), whose content the
    stopping rule also waits for; else None."""
    if ctx.video.warm_stop == "disoccluded" and mode == "prev_warped":
        return 1.0 - ctx.warped_neighbour(ctx.nearest)[1]
    return None


def frame_record(ctx: FrameContext, mode: str, result: StyleResult, terms: list[TemporalTerm],
                 floor: tuple[float, float] | None) -> dict[str, Any]:
    """The frame's record (``.records/frame_NNNNNN.json``; :data:`styleflow.video.store.CSV_COLUMNS`)."""
    first_pass_start = ctx.shot_start and ctx.previous_pass is None
    return {
        "frame": ctx.k,
        "pass": ctx.pass_no,
        "init": f"{mode} (shot start)" if first_pass_start else mode,
        "shot_start": ctx.shot_start,
        "iterations": result.iterations,
        "converged": result.converged,
        "restores": result.restores,
        "content_loss": result.losses.get("content", float("nan")),
        "style_loss": result.losses.get("style", float("nan")),
        "temporal_loss": result.losses.get("temporal", 0.0),
        "total_loss": result.losses.get("total", float("nan")),
        "temporal_terms": len(terms),
        "mask_mean": float(np.mean(terms[0].mask)) if terms else None,
        "style_floor": floor[0] if floor else None,
        "seconds": round(result.seconds, 4),
        "precision": ctx.stylizer.precision,
    }


def stylize_frame(ctx: FrameContext) -> tuple[np.ndarray, dict[str, Any]]:
    """Start and optimise the frame; return the image and its record."""
    mode, init, budget, coarse_to_fine = start(ctx)
    terms = temporal_terms(ctx)
    floor = style_floor(ctx, mode)
    watch = watched_pixels(ctx, mode)
    bar = IterationBar(desc=f"  frame {ctx.k}", enabled=ctx.progress, position=1, leave=False)
    try:
        result = ctx.stylizer.stylize(ctx.content, init=init.astype(np.float32), temporal=terms,
                                      iterations=budget, coarse_to_fine=coarse_to_fine, callback=bar,
                                      warm=mode in WARM_MODES, style_floor=floor, watch=watch,
                                      carry=ctx.video.carry_curvature and ctx.previous_pass is None)
    finally:
        bar.close()
    return result.image, frame_record(ctx, mode, result, terms, floor)

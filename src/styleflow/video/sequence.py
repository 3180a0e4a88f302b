"""Sequential video stylisation (Ruder, Dosovitskiy, Brox 2016), as the source report applied it.

Frames of a prepared clip (:class:`~styleflow.io.layout.ClipPaths`) are stylised in order; each one
is initialised from, and optionally tied by the temporal loss to, the frames stylised before it
(see :mod:`styleflow.options.variants` for the options). Multi-pass runs alternate the direction.
The unit of work is a shot (:mod:`styleflow.video.shots`): :func:`stylize_shot` runs every pass
of one shot and reads nothing of other shots; :func:`stylize_clip` runs the shots one after the
other into one folder, the workflow runs them as separate jobs.

Output folder::

    frame_000001.png ...      the stylised frames (final pass)
    frames.csv                one row per frame: losses, iterations, convergence, seconds
    run.json                  every setting, backbone and weights, totals; written last
    .records/frame_*.json     per-frame records; a frame counts as finished only when its PNG
                              and its record exist (both written atomically, record last)
    .pass1/ ...               intermediate passes of the multi-pass algorithm

Resume: a run stopped at frame k and started again continues at frame k. Every stylised frame
is used by later frames exactly as it was written (8-bit), so a resumed run produces the same
frames as an uninterrupted one with the same seed. Memory is flat in the clip length: only the
frames the current frame needs are held.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from styleflow.errors import StyleflowError
from styleflow.ff.infer import check_styles, stylize_image
from styleflow.ff.model import load_model
from styleflow.io.atomic import write_json
from styleflow.io.flo import read_flow
from styleflow.io.frames import FrameCache
from styleflow.io.images import read_image
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.motion.consistency import (
    combine_closest_first,
    consistency_mask,
    read_mask,
)
from styleflow.motion.cuts import read_cuts
from styleflow.motion.warp import warp
from styleflow.optim.stylize_image import environment
from styleflow.optim.stylizer import Stylizer, TemporalTerm
from styleflow.options.settings import settings_from
from styleflow.options.variants import DEFAULT_VARIANT, VideoSettings, resolve_variant
from styleflow.progress import IterationBar, frame_bar
from styleflow.video.network import network_shot
from styleflow.video.shots import Shot, merge_records, plan_shots, write_rows
from styleflow.video.fill import initial_image
from styleflow.video.store import CSV_COLUMNS, FrameStore, frame_rows, quantise, start_or_resume  # noqa: F401 (public here before)



class _Clip:
    """Read access to a prepared clip: content frames, flows and masks, and its scene cuts."""

    def __init__(self, paths: ClipPaths, n_frames: int):
        self.paths = paths
        self.n = n_frames
        self._frames = FrameCache(paths.frame, keep=4)
        self.cuts = read_cuts(paths.masks, n_frames)

    def shot_start(self, k: int) -> int:
        """First frame of the shot that contains frame k."""
        return max([1] + [c for c in self.cuts if c <= k])

    def same_shot(self, a: int, b: int) -> bool:
        return 1 <= a <= self.n and 1 <= b <= self.n and self.shot_start(a) == self.shot_start(b)

    def content(self, k: int) -> np.ndarray:
        return self._frames(k)

    def flow_and_mask(self, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Flow on frame k's grid pointing into frame n, and the reliability mask (H, W) in [0, 1]."""
        if n < k:
            flow = read_flow(self.paths.backward(k, n))
            mask = read_mask(self.paths.mask(k, n))
        else:
            flow = read_flow(self.paths.forward(k, n))
            mpath = self.paths.mask(k, n)
            mask = read_mask(mpath) if mpath.is_file() else consistency_mask(flow, read_flow(self.paths.backward(n, k)))
        return flow, mask.astype(np.float32) / 255.0

    def check_flows(self, offsets: Sequence[int], both_directions: bool, frames: Sequence[int] | None = None) -> None:
        """Fail early, naming the first missing flow or mask file (of ``frames``, default all)."""
        for k in frames if frames is not None else range(1, self.n + 1):
            for d in offsets:
                i = k - d
                if i < 1 or not self.same_shot(i, k):
                    continue
                needed = [self.paths.backward(k, i), self.paths.mask(k, i)]
                if both_directions:
                    needed += [self.paths.forward(i, k)]
                for p in needed:
                    if not p.is_file():
                        raise StyleflowError(
                            f"{p}: missing; compute flows and masks for frame offsets {list(offsets)} first "
                            f"(styleflow.motion.flow, or the workflow's flow.offsets setting)"
                        )


def _noise(shape: tuple[int, ...], seed: int, k: int) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed * 1_000_003 + k)
    return torch.rand(shape, generator=gen).numpy().astype(np.float32)


def stylize_clip(
    clip: ClipPaths,
    styles: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    style_weights: Sequence[float] | None = None,
    variant: str | Mapping[str, Any] = DEFAULT_VARIANT,
    first_iterations: int | None = None,
    iterations: int | None = None,
    options: Mapping[str, Any] | None = None,
    device: str = "auto",
    seed: int = 0,
    max_frames: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Stylise every frame of ``clip`` towards ``styles``; write frames, ``frames.csv``, ``run.json``.

    The clip is stylised shot by shot (:func:`stylize_shot`, shots from the clip's scene cuts), all
    into ``out_dir``: the same frames as the workflow's per-shot jobs joined by
    :func:`styleflow.video.shots.assemble_run`.

    Args:
        clip: the prepared frames, flows and masks.
        styles: painting files; ``style_weights`` blends them.
        out_dir: output folder (created; finished frames in it are kept and reused).
        variant: a built-in variant name or a mapping (see :mod:`styleflow.options.variants`).
        first_iterations, iterations: budgets of the first and later frames (a variant's own
            budgets win, e.g. ``moreSteps``); default: the preset's ``iterations``.
        options: image-stylisation settings (``preset`` plus any StyleSettings field).
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seeds random initialisations (per frame: seed and frame number).
        max_frames: stylise only the first N frames.
    Returns:
        The run record (also written to ``out_dir/run.json``).
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    n = _frame_count(clip, max_frames)
    shots = plan_shots(_Clip(clip, n).cuts, n)
    records, rows = [], []
    for shot in shots:
        record, shot_rows = stylize_shot(
            clip, styles, out, shot, style_weights=style_weights, variant=variant, first_iterations=first_iterations,
            iterations=iterations, options=options, device=device, seed=seed, n_frames=n, progress=progress,
        )
        records.append(record)
        rows += shot_rows
    write_rows(out / "frames.csv", rows, CSV_COLUMNS)
    record = merge_records(shots, records)
    record["seconds_this_call"] = round(time.perf_counter() - t_start, 3)
    write_json(out / "run.json", record)
    return record


def _frame_count(clip: ClipPaths, max_frames: int | None) -> int:
    n = len(list_frames(clip.frames))
    if max_frames is not None:
        if max_frames < 1:
            raise StyleflowError(f"max_frames {max_frames}: expected at least 1")
        n = min(n, max_frames)
    return n


def stylize_shot(
    clip: ClipPaths,
    styles: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    shot: Shot,
    *,
    style_weights: Sequence[float] | None = None,
    variant: str | Mapping[str, Any] = DEFAULT_VARIANT,
    first_iterations: int | None = None,
    iterations: int | None = None,
    options: Mapping[str, Any] | None = None,
    device: str = "auto",
    seed: int = 0,
    n_frames: int | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Stylise the frames of one shot (every pass) into ``out_dir``; resumable at frame granularity.

    Only frames of ``shot`` are read as neighbours (warps, temporal terms, multi-pass blends), and
    the shot gets its own :class:`Stylizer`, so the result does not depend on other shots or on
    the order shots are stylised in. Frames keep their clip-wide numbers (``frame_NNNNNN.png``;
    random initialisations are seeded by them). Arguments as :func:`stylize_clip`; ``n_frames``
    is the clip's length (default: every frame of ``clip.frames``).

    Returns:
        The shot's run record (as ``run.json``'s, with ``"shot": [first, last]``) and its rows
        (:data:`CSV_COLUMNS`), in frame order. Nothing is written besides frames and records.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    name, video, image_overrides = resolve_variant(variant)
    opts = dict(options or {})
    preset = str(opts.pop("preset", "gatys"))
    settings = settings_from(preset, {**opts, **image_overrides, "seed": seed})
    first_budget, later_budget, pass_budget = video.budgets(first_iterations, iterations, settings.iterations)

    data = _Clip(clip, _frame_count(clip, n_frames))
    if shot not in plan_shots(data.cuts, data.n):
        raise StyleflowError(f"shot {shot.name}: not a shot of {clip.masks} (cuts {data.cuts}, {data.n} frames); "
                             "plan the shots from the clip's cuts.json")
    if video.init == video.first_init == "model" and first_budget == later_budget == 0 and video.passes == 1:
        return network_shot(clip, styles, out, shot, data.cuts, data.n, name, video, preset, settings, seed,
                            device, progress, t_start)
    stores = [FrameStore(out / f".pass{p}") for p in range(1, video.passes)] + [FrameStore(out)]
    todo = [k for k in shot.frames if not all(store.done(k) for store in stores)]
    if video.needs_flow and todo:  # the flows of finished frames may be gone (styleflow video --drop-flow)
        data.check_flows(video.flow_offsets, both_directions=video.passes > 1, frames=todo)

    style_images = [read_image(p) for p in styles]
    stylizer = Stylizer(settings, style_images, style_weights, device=device)
    ff_model = None
    if "model" in (video.init, video.first_init):
        ff_model = load_model(video.model, stylizer.device)  # type: ignore[arg-type]
        check_styles(ff_model, styles)
    out.mkdir(parents=True, exist_ok=True)

    desc = name if shot.first == 1 and shot.last == data.n else f"{name} {shot.name}"
    bar = frame_bar(len(shot) * video.passes, desc, progress, leave=True)
    bar.update(sum(1 for store in stores for k in shot.frames if store.done(k)))
    try:
        for p, store in enumerate(stores, start=1):
            direction = 1 if p % 2 == 1 else -1
            order = shot.frames if direction == 1 else reversed(shot.frames)
            previous_pass = stores[p - 2] if p > 1 else None
            temporal_on = video.temporal and (video.passes == 1 or p >= video.temporal_from_pass)
            for k in order:
                if store.done(k):
                    continue
                bar.set_postfix_str(f"frame {k}/{data.n}" + (f" pass {p}/{video.passes}" if video.passes > 1 else ""))
                image, record = _stylize_frame(
                    stylizer, data, store, previous_pass, video, k, direction, p, temporal_on,
                    first_budget, later_budget, pass_budget, seed, progress, ff_model,
                )
                store.save(k, image, record)
                bar.update(1)
    finally:
        bar.close()

    rows = frame_rows(stores, shot.frames)
    ran = sorted({str(stores[-1].record(k).get("precision", stylizer.precision)) for k in shot.frames})
    record = {
        "variant": name,
        "video_settings": video.as_dict(),
        "preset": preset,
        "settings": settings.as_dict(),
        "styles": [str(p) for p in styles],
        "style_weights": stylizer.style_weights,
        "first_iterations": first_budget,
        "iterations": later_budget,
        "pass_iterations": pass_budget if video.passes > 1 else None,
        "frames": len(shot),
        "shot": [shot.first, shot.last],
        "frames_dir": str(clip.frames),
        "flow_dir": str(clip.flow),
        "masks_dir": str(clip.masks),
        "scene_cuts": data.cuts,
        "device": str(stylizer.device),
        "precision": ", ".join(ran),  # what the backbone ran in (settings.precision may say auto)
        "precision_choice": stylizer.precision_record,  # how auto decided (and its timings)
        **stylizer.backbone_info,
        "seed": seed,
        "training_seconds": ff_model.record.get("seconds") if ff_model is not None else None,
        "total_iterations": int(sum(r["iterations"] for r in rows)),
        "seconds_stylising": round(float(sum(r["seconds"] for r in rows)), 3),
        "seconds_this_call": round(time.perf_counter() - t_start, 3),
        "environment": environment(),
    }
    return record, rows


def _stylize_frame(
    stylizer: Stylizer,
    data: _Clip,
    store: FrameStore,
    previous_pass: FrameStore | None,
    video: VideoSettings,
    k: int,
    direction: int,
    pass_no: int,
    temporal_on: bool,
    first_budget: int,
    later_budget: int,
    pass_budget: int,
    seed: int,
    progress: bool,
    ff_model: Any = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Initialise and optimise frame k of one pass; return the image and its record."""
    content = data.content(k)
    neighbours = [k - direction * d for d in video.long_term]
    neighbours = [m for m in neighbours if data.same_shot(k, m)]
    nearest = k - direction
    has_nearest = data.same_shot(k, nearest)
    shot_start = not has_nearest

    # Warped neighbours from this pass (already stylised in this pass's direction).
    warped: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def warped_neighbour(m: int) -> tuple[np.ndarray, np.ndarray]:
        if m not in warped:
            flow, mask = data.flow_and_mask(k, m)
            image, inside = warp(store.load(m), flow, video.warp_interpolation)
            warped[m] = (image, mask * inside)
        return warped[m]

    coarse_to_fine: int | None = None
    if previous_pass is None:
        budget = later_budget
        mode = video.init
        if shot_start:
            mode, budget = video.first_init, first_budget
        if mode == "content":
            init = content
        elif mode == "random":
            init = _noise(content.shape, seed, k)
        elif mode == "model":  # the feed-forward network's stylisation (styleflow.ff)
            init = stylize_image(ff_model, content, stylizer.device, video.model_scale)
        elif mode == "prev":
            init = store.load(nearest)
        else:  # prev_warped: trust the warp where the mask does; elsewhere disocclusion_fill
            w, c = warped_neighbour(nearest)
            init = initial_image(video.disocclusion_fill, w, c, content)
        if mode in ("prev", "prev_warped", "model") and not video.coarse_to_fine_later:
            coarse_to_fine = 1  # a coarse level would blur the good initialisation
    else:  # multi-pass: blend the previous pass's result with the warped neighbour of this pass
        budget = pass_budget
        mode = "multipass"
        own = previous_pass.load(k)
        if has_nearest:
            w, c = warped_neighbour(nearest)
            d = video.blend * c[..., None]
            init = d * w + (1.0 - d) * own
        else:
            init = own
        coarse_to_fine = 1

    terms: list[TemporalTerm] = []
    if temporal_on and neighbours:
        images = [warped_neighbour(m) for m in neighbours]
        combined = combine_closest_first([c for _, c in images])
        terms = [TemporalTerm(w, c, video.temporal_weight) for (w, _), c in zip(images, combined)]

    floor = None  # the shot's first frame's style loss, times style_floor (first pass only)
    if video.style_floor is not None and previous_pass is None and mode in ("prev", "prev_warped"):
        floor = (video.style_floor * float(store.record(data.shot_start(k))["style_loss"]), video.style_floor_weight)

    watch = None  # warm_stop: disoccluded — also wait for the content of the pixels no warp carried
    if video.warm_stop == "disoccluded" and mode == "prev_warped":
        watch = 1.0 - warped_neighbour(nearest)[1]

    bar = IterationBar(desc=f"  frame {k}", enabled=progress, position=1, leave=False)
    try:
        result = stylizer.stylize(content, init=init.astype(np.float32), temporal=terms,
                                  iterations=budget, coarse_to_fine=coarse_to_fine, callback=bar,
                                  warm=mode in ("prev", "prev_warped", "multipass", "model"), style_floor=floor,
                                  watch=watch, carry=video.carry_curvature and previous_pass is None)
    finally:
        bar.close()
    record = {
        "frame": k,
        "pass": pass_no,
        "init": mode if not shot_start or previous_pass is not None else f"{mode} (shot start)",
        "shot_start": shot_start,
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
        "precision": stylizer.precision,
    }
    return result.image, record

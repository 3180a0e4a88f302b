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
    .records/frame_*.json     per-frame records, with the run's plan hash; a frame counts as
                              finished only when its PNG and its record exist (both written
                              atomically, record last); a shot with a frame of another plan
                              starts again
    .pass1/ ...               intermediate passes of the multi-pass algorithm

Resume: a run stopped at frame k and started again continues at frame k. Every stylised frame
is used by later frames exactly as it was written (8-bit), so a resumed run produces the same
frames as an uninterrupted one with the same seed. Memory is flat in the clip length: only the
frames the current frame needs are held.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from styleflow.errors import StyleflowError
from styleflow.ff.infer import check_styles
from styleflow.ff.model import load_model
from styleflow.io.atomic import write_json
from styleflow.io.images import read_image
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.optim.stylize_image import environment
from styleflow.optim.stylizer import Stylizer
from styleflow.options.run import run_settings
from styleflow.options.variants import DEFAULT_VARIANT
from styleflow.progress import frame_bar
from styleflow.video.clip import PreparedClip
from styleflow.video.frame import FrameContext, stylize_frame
from styleflow.video.network import network_shot
from styleflow.video.shots import Shot, merge_records, plan_shots, write_rows
from styleflow.video.store import CSV_COLUMNS, FrameStore, frame_rows, quantise, start_or_resume  # noqa: F401 (public here before)



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
    plan: str | None = None,
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
        plan: the hash of the run's plan, written into every frame's record; finished frames of
            a shot made under another plan are not reused (the shot starts again).
    Returns:
        The run record (also written to ``out_dir/run.json``).
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    n = _frame_count(clip, max_frames)
    shots = plan_shots(PreparedClip(clip, n).cuts, n)
    records, rows = [], []
    for shot in shots:
        record, shot_rows = stylize_shot(
            clip, styles, out, shot, style_weights=style_weights, variant=variant, first_iterations=first_iterations,
            iterations=iterations, options=options, device=device, seed=seed, n_frames=n, progress=progress,
            plan=plan,
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
    plan: str | None = None,
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
    run = run_settings(variant, options, first_iterations=first_iterations, iterations=iterations, seed=seed)
    name, video, preset, settings = run.variant, run.video, run.preset, run.settings
    first_budget, later_budget, pass_budget = run.budgets  # for the record

    data = PreparedClip(clip, _frame_count(clip, n_frames))
    if shot not in plan_shots(data.cuts, data.n):
        raise StyleflowError(f"shot {shot.name}: not a shot of {clip.masks} (cuts {data.cuts}, {data.n} frames); "
                             "plan the shots from the clip's cuts.json")
    stores = [FrameStore(out / f".pass{p}", plan=plan) for p in range(1, video.passes)] + [FrameStore(out, plan=plan)]
    _discard_foreign(stores, shot, plan)
    if run.network_only:
        return network_shot(clip, styles, out, shot, data.cuts, data.n, name, video, preset, settings, seed,
                            device, progress, t_start, plan=plan)
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
            for k in order:
                if store.done(k):
                    continue
                bar.set_postfix_str(f"frame {k}/{data.n}" + (f" pass {p}/{video.passes}" if video.passes > 1 else ""))
                image, record = stylize_frame(FrameContext(
                    stylizer, data, store, previous_pass, video, run.budgets, k, direction, p, seed, progress, ff_model,
                ))
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


def _discard_foreign(stores: list[FrameStore], shot: Shot, plan: str | None) -> None:
    """Start ``shot`` again (every pass) when any of its finished frames was made under another
    plan than ``plan``, saying so in one line on stderr: a resumed shot never mixes plans."""
    foreign = sorted({k for store in stores for k in store.foreign(shot.frames)})
    if foreign:
        print(f"{stores[-1].folder}: {len(foreign)} frame(s) of shot {shot.name}, from frame {foreign[0]}, were made "
              f"under another plan than {plan}; starting the shot again", file=sys.stderr)
        for store in stores:
            store.discard(shot.frames)

"""Frames made by a trained network (:mod:`styleflow.ff`) in the layout of a video run: the clip of
``styleflow video --model`` (:func:`stylize_frames`) and the shots of network-only variants such as
``feedforward`` (:func:`network_shot`).

Frames are stylised in batches (one forward pass each, no optimisation) into a
:class:`~styleflow.video.store.FrameStore`, so the folder has an optimisation run's files:
``frame_NNNNNN.png``, ``frames.csv`` (``iterations`` 0) and ``run.json``; an interrupted call
resumes at the first unfinished frame. Memory is flat in the clip's length (one batch at a time).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from styleflow import __version__
from styleflow.ff.infer import DEFAULT_BATCH, check_styles, inference_precision, run_batch
from styleflow.ff.model import Model, load_model
from styleflow.io.atomic import write_json
from styleflow.io.images import read_image
from styleflow.io.layout import list_frames
from styleflow.optim.stylize_image import environment
from styleflow.optim.stylizer import resolve_device
from styleflow.progress import frame_bar
from styleflow.video.shots import write_rows
from styleflow.video.store import CSV_COLUMNS, FrameStore, frame_rows, start_or_resume


def network_run_record(model: Model, device: torch.device, rows: Sequence[dict[str, Any]], t_start: float,
                       fields: dict[str, Any], *, digits: int = 3) -> dict[str, Any]:
    """The record of a run (or shot) whose frames a network made: the caller's ``fields`` (what
    differs: styles, settings, the clip's folders ...), with no iterations, the device and
    inference precision, the training's backbone and seconds, the model, the frames' summed
    ``seconds`` (``rows``, rounded to ``digits``), the seconds since ``t_start`` and the versions.
    One implementation for ``styleflow video --model`` (:func:`stylize_frames`) and network-only
    variants (:func:`network_shot`)."""
    rec = model.record
    return {
        **fields,
        "style_weights": rec.get("style_weights"),
        "first_iterations": 0,
        "iterations": 0,
        "device": str(device),
        "precision": inference_precision(device),
        **(rec.get("backbone") or {}),
        "model": str(model.path),
        "training_seconds": rec.get("seconds"),
        "total_iterations": 0,
        "seconds_stylising": round(float(sum(r["seconds"] or 0 for r in rows)), digits),
        "seconds_this_call": round(time.perf_counter() - t_start, 3),
        "environment": environment(),
    }


def stylize_into(
    model: Model,
    frames: dict[int, Path],
    out_dir: str | os.PathLike[str],
    device: torch.device,
    *,
    batch: int | None = None,
    progress: bool = True,
    desc: str = "feedforward",
    shot_start: int | None = None,
    plan: str | None = None,
    scale: float | str | None = 1.0,
) -> None:
    """Stylise ``frames`` (frame number → content file) into ``out_dir`` as ``frame_NNNNNN.png``
    with per-frame records (:class:`styleflow.video.store.FrameStore`); frames already there are
    kept (resume). ``shot_start``: the first frame of their shot (recorded as the optimisation does);
    ``scale``: the network's input scale (``model_scale``, :func:`styleflow.ff.infer.run_batch`)."""
    size = batch or (4 * DEFAULT_BATCH if device.type == "cuda" else DEFAULT_BATCH)
    store = FrameStore(Path(out_dir), plan=plan)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    todo = [k for k in sorted(frames) if not store.done(k)]
    bar = frame_bar(len(frames), desc, progress)
    bar.update(len(frames) - len(todo))
    try:
        for i in range(0, len(todo), size):
            ks = todo[i:i + size]
            t = time.perf_counter()
            outs = run_batch(model, [read_image(frames[k]) for k in ks], device, scale)
            per_frame = (time.perf_counter() - t) / len(ks)
            for k, img in zip(ks, outs):
                first = shot_start is not None and k == shot_start
                store.save(k, img, {"frame": k, "pass": 1, "init": "model (shot start)" if first else "model",
                                    "shot_start": first, "iterations": 0, "converged": True, "restores": 0,
                                    "seconds": round(per_frame, 4)})
            bar.update(len(ks))
    finally:
        bar.close()


def stylize_frames(
    model: Model | str | os.PathLike[str],
    frames_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    batch: int | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    max_frames: int | None = None,
    scale: float | str | None = "auto",
) -> dict[str, Any]:
    """Stylise every frame of ``frames_dir`` into ``out_dir`` (``styleflow video --model``): frames,
    ``frames.csv`` and ``run.json`` (returned), as an optimisation run's. The folder keeps a
    signature of the model, the frames and ``scale`` (the input scale, ``--model-scale``); frames
    made otherwise are discarded, not resumed."""
    t0 = time.perf_counter()
    dev = resolve_device(device)
    m = model if isinstance(model, Model) else load_model(model, dev)
    m.net.to(dev)
    paths = list_frames(frames_dir)[:max_frames]
    out = Path(out_dir)
    start_or_resume(out, {"model": str(m.path), "model_steps": m.record.get("steps_done"),
                          "model_seconds": m.record.get("seconds"), "frames": str(frames_dir),
                          "n": len(paths), "styleflow": __version__, "model_scale": scale})
    stylize_into(m, {k: p for k, p in enumerate(paths, start=1)}, out, dev, batch=batch, progress=progress,
                 shot_start=1, scale=scale)
    store = FrameStore(out)
    rows = [{c: store.record(k).get(c) for c in CSV_COLUMNS} | {"passes": 1} for k in range(1, len(paths) + 1)]
    write_rows(out / "frames.csv", rows, CSV_COLUMNS)
    rec = m.record
    record = network_run_record(m, dev, rows, t0, {
        "variant": "feedforward",
        "model_record": {k: rec.get(k) for k in ("settings", "styles", "data", "steps_done", "seconds",
                                                   "steps_per_second", "parameters")},
        "styles": [s["path"] for s in rec.get("styles", [])],
        "preset": (rec.get("settings") or {}).get("preset"),
        "settings": rec.get("style_settings"),
        "frames": len(paths),
        "frames_dir": str(frames_dir),
        "model_scale": scale,
    }, digits=4)
    write_json(out / "run.json", record)
    return record


def network_shot(clip: Any, styles: Sequence[str | os.PathLike[str]], out: Path, shot: Any, cuts: list[int], n: int,
                 name: str, video: Any, preset: str, settings: Any, seed: int, device: str,
                 progress: bool, t_start: float, plan: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A shot of a network-only variant (``feedforward``): every frame one forward pass of the
    variant's model (:mod:`styleflow.ff`), no backbone, no optimisation; records as any shot's."""
    dev = resolve_device(device)
    model = load_model(video.model, dev)
    check_styles(model, styles)
    desc = name if shot.first == 1 and shot.last == n else f"{name} {shot.name}"
    stylize_into(model, {k: clip.frame(k) for k in shot.frames}, out, dev, progress=progress, desc=desc,
                 shot_start=shot.first, plan=plan, scale=video.model_scale)
    rows = frame_rows([FrameStore(out)], shot.frames)
    record = network_run_record(model, dev, rows, t_start, {
        "variant": name, "video_settings": video.as_dict(), "preset": preset, "settings": settings.as_dict(),
        "styles": [str(p) for p in styles], "pass_iterations": None, "frames": len(shot),
        "shot": [shot.first, shot.last], "frames_dir": str(clip.frames), "flow_dir": str(clip.flow),
        "masks_dir": str(clip.masks), "scene_cuts": cuts, "seed": seed,
    })
    return record, rows

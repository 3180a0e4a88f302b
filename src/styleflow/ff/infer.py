"""Stylising with a trained network: one image, or every frame of a prepared clip.

Frames are stylised in batches of ``batch`` (one forward pass each, no optimisation), on CUDA when
present, with the backbone-free network only; at most one batch is in memory, so memory is flat in
the clip's length. A clip's output folder has the same files as an optimisation run's
(:mod:`styleflow.video.sequence`): ``frame_NNNNNN.png``, ``frames.csv`` (with ``iterations`` 0) and
``run.json``; an interrupted call resumes at the first unfinished frame.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from styleflow.errors import StyleflowError
from styleflow.ff.model import Model, load_model
from styleflow.io.atomic import write_json
from styleflow.io.images import read_image
from styleflow.io.layout import list_frames
from styleflow.optim.stylize_image import environment
from styleflow.optim.stylizer import auto_precision, resolve_device
from styleflow.progress import frame_bar

#: Frames per forward pass (CPU); CUDA takes larger batches.
DEFAULT_BATCH = 4


def check_styles(model: Model, styles: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse ``styles`` unless they are the style images the model was trained on (same content)."""
    from styleflow.ff.data import file_digest

    trained = model.record.get("styles", [])
    given = [Path(s) for s in styles]
    for s in given:
        if not s.is_file():
            raise StyleflowError(f"{s}: no such style image")
    if sorted(file_digest(s) for s in given) != sorted(t["sha256_16"] for t in trained):
        names = ", ".join(Path(t["path"]).name for t in trained) or "?"
        raise StyleflowError(f"{model.path}: the model was trained on {names}, not on "
                             f"{', '.join(s.name for s in given)}; train a model for this style with `styleflow train`")


def inference_dtype(device: torch.device) -> torch.dtype | None:
    """bfloat16 on a CUDA GPU that computes it natively, else None (float32; on the CPU the
    network was not faster in bfloat16). The output passes a float32 sigmoid and is stored in 8
    bits either way."""
    return torch.bfloat16 if device.type == "cuda" and auto_precision(device) == "bfloat16" else None


def inference_precision(device: torch.device) -> str:
    """:func:`inference_dtype` by name, as the records hold it: ``bfloat16`` or ``float32``."""
    return "bfloat16" if inference_dtype(device) else "float32"


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


def run_batch(model: Model, images: Sequence[np.ndarray], device: torch.device) -> list[np.ndarray]:
    """Stylise same-sized ``(H, W, 3)`` float32 images, as many per forward pass as the memory
    budget allows; frames whose whole-frame activations alone would exceed it go one by one through
    overlapping tiles that share one set of normalisation statistics (:mod:`styleflow.ff.tiles`:
    no seams)."""
    from styleflow.ff.tiles import apply_tiled, frames_per_pass

    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous().to(device)
    dtype = inference_dtype(device)
    per_pass = frames_per_pass(model.net, x.shape[2], x.shape[3], device)
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        if per_pass == 0:
            y = torch.cat([apply_tiled(model.net, x[i:i + 1]) for i in range(x.shape[0])])
        else:
            y = torch.cat([model.net(x[i:i + per_pass]) for i in range(0, x.shape[0], per_pass)])
    return list(y.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy())


def stylize_image(model: Model, image: np.ndarray, device: str | torch.device = "auto") -> np.ndarray:
    """``(H, W, 3)`` float32 RGB in [0, 1] → the stylised image, same size."""
    dev = resolve_device(device)
    model.net.to(dev)
    return run_batch(model, [image], dev)[0]


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
) -> None:
    """Stylise ``frames`` (frame number → content file) into ``out_dir`` as ``frame_NNNNNN.png``
    with per-frame records (:class:`styleflow.video.store.FrameStore`); frames already there are
    kept (resume). ``shot_start``: the first frame of their shot (recorded as the optimisation does)."""
    from styleflow.video.store import FrameStore

    size = batch or (4 * DEFAULT_BATCH if device.type == "cuda" else DEFAULT_BATCH)
    store = FrameStore(Path(out_dir))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    todo = [k for k in sorted(frames) if not store.done(k)]
    bar = frame_bar(len(frames), desc, progress)
    bar.update(len(frames) - len(todo))
    try:
        for i in range(0, len(todo), size):
            ks = todo[i:i + size]
            t = time.perf_counter()
            outs = run_batch(model, [read_image(frames[k]) for k in ks], device)
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
) -> dict[str, Any]:
    """Stylise every frame of ``frames_dir`` into ``out_dir`` (``styleflow video --model``): frames,
    ``frames.csv`` and ``run.json`` (returned), as an optimisation run's. The folder keeps a
    signature of the model and the frames; frames made otherwise are discarded, not resumed."""
    from styleflow import __version__
    from styleflow.video.sequence import CSV_COLUMNS, start_or_resume
    from styleflow.video.shots import write_rows
    from styleflow.video.store import FrameStore

    t0 = time.perf_counter()
    dev = resolve_device(device)
    m = model if isinstance(model, Model) else load_model(model, dev)
    m.net.to(dev)
    paths = list_frames(frames_dir)[:max_frames]
    out = Path(out_dir)
    start_or_resume(out, {"model": str(m.path), "model_steps": m.record.get("steps_done"),
                          "model_seconds": m.record.get("seconds"), "frames": str(frames_dir),
                          "n": len(paths), "styleflow": __version__})
    stylize_into(m, {k: p for k, p in enumerate(paths, start=1)}, out, dev, batch=batch, progress=progress,
                 shot_start=1)
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
    }, digits=4)
    write_json(out / "run.json", record)
    return record


def stylize_file_with_model(
    content: str | os.PathLike[str],
    out: str | os.PathLike[str],
    model: str | os.PathLike[str],
    size: int | None = None,
    styles: Sequence[str | os.PathLike[str]] | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """``styleflow image CONTENT --model M.pt -o OUT``: write OUT and the OUT.json record.

    ``size``: output height (None: the content's own); ``styles``, when given, must be the model's.
    """
    from styleflow.io.images import check_size, resize_to_height, write_image
    from styleflow.optim.stylize_image import check_output

    out_path = check_output(out)
    dev = resolve_device(device)
    m = load_model(model, dev)
    if styles:
        check_styles(m, styles)
    img = read_image(content)
    if size is not None:
        img = resize_to_height(img, check_size(size))
    t0 = time.perf_counter()
    result = run_batch(m, [img], dev)[0]
    seconds = time.perf_counter() - t0
    write_image(out_path, result)
    rec = m.record
    record = {
        "output": str(out_path), "content": str(content), "model": str(m.path),
        "styles": [s["path"] for s in rec.get("styles", [])], "style_weights": rec.get("style_weights"),
        "height": img.shape[0], "width": img.shape[1], "device": str(dev),
        "precision": inference_precision(dev),
        **(rec.get("backbone") or {}),
        "training": {k: rec.get(k) for k in ("settings", "steps_done", "seconds", "parameters")},
        "iterations": 0, "seconds": round(seconds, 4), "environment": environment(),
    }
    write_json(f"{out_path}.json", record)
    return record


def network_shot(clip: Any, styles: Sequence[str | os.PathLike[str]], out: Path, shot: Any, cuts: list[int], n: int,
                 name: str, video: Any, preset: str, settings: Any, seed: int, device: str,
                 progress: bool, t_start: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A shot of a network-only variant (``feedforward``): every frame one forward pass of the
    variant's model (:mod:`styleflow.ff`), no backbone, no optimisation; records as any shot's."""
    from styleflow.video.sequence import frame_rows
    from styleflow.video.store import FrameStore

    dev = resolve_device(device)
    model = load_model(video.model, dev)
    check_styles(model, styles)
    desc = name if shot.first == 1 and shot.last == n else f"{name} {shot.name}"
    stylize_into(model, {k: clip.frame(k) for k in shot.frames}, out, dev, progress=progress, desc=desc,
                 shot_start=shot.first)
    rows = frame_rows([FrameStore(out)], shot.frames)
    record = network_run_record(model, dev, rows, t_start, {
        "variant": name, "video_settings": video.as_dict(), "preset": preset, "settings": settings.as_dict(),
        "styles": [str(p) for p in styles], "pass_iterations": None, "frames": len(shot),
        "shot": [shot.first, shot.last], "frames_dir": str(clip.frames), "flow_dir": str(clip.flow),
        "masks_dir": str(clip.masks), "scene_cuts": cuts, "seed": seed,
    })
    return record, rows

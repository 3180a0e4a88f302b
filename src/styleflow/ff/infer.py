"""Stylising with a trained network: images in one forward pass (:func:`run_batch`), one file
(``styleflow image --model``), the check that a model was trained on the given styles.

The network runs backbone-free, on CUDA when present (bfloat16 where it is native). Frames of a
clip in a video run's layout: :mod:`styleflow.video.network`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from styleflow.errors import StyleflowError
from styleflow.ff.data import file_digest
from styleflow.ff.model import Model, load_model
from styleflow.ff.scale import at_scale, resolve_model_scale, training_height
from styleflow.ff.tiles import apply_tiled, frames_per_pass
from styleflow.io.atomic import write_json
from styleflow.io.images import check_size, read_image, resize_to_height, write_image
from styleflow.optim.stylize_image import check_output, environment
from styleflow.optim.stylizer import auto_precision, resolve_device

#: Frames per forward pass (CPU); CUDA takes larger batches.
DEFAULT_BATCH = 4


def check_styles(model: Model, styles: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse ``styles`` unless they are the style images the model was trained on (same content)."""

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


def run_batch(model: Model, images: Sequence[np.ndarray], device: torch.device,
              scale: float | str | None = 1.0) -> list[np.ndarray]:
    """Stylise same-sized ``(H, W, 3)`` float32 images, as many per forward pass as the memory
    budget allows; frames whose whole-frame activations alone would exceed it go one by one through
    overlapping tiles that share one set of normalisation statistics (:mod:`styleflow.ff.tiles`:
    no seams). ``scale``: the network's input scale (``model_scale``: a number in (0, 1] or
    ``"auto"``, :func:`styleflow.ff.scale.resolve_model_scale`); the network runs on the images
    resized by it and its results are resized back (1: as they are)."""
    if not images:
        return []
    factor = resolve_model_scale(scale, images[0].shape[0], training_height(model))
    return at_scale(lambda batch: _forward(model, batch, device), images, factor)


def _forward(model: Model, images: Sequence[np.ndarray], device: torch.device) -> list[np.ndarray]:
    """:func:`run_batch` at the images' own size."""
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous().to(device)
    dtype = inference_dtype(device)
    per_pass = frames_per_pass(model.net, x.shape[2], x.shape[3], device)
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        if per_pass == 0:
            y = torch.cat([apply_tiled(model.net, x[i:i + 1]) for i in range(x.shape[0])])
        else:
            y = torch.cat([model.net(x[i:i + per_pass]) for i in range(0, x.shape[0], per_pass)])
    return list(y.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy())


def stylize_image(model: Model, image: np.ndarray, device: str | torch.device = "auto",
                  scale: float | str | None = 1.0) -> np.ndarray:
    """``(H, W, 3)`` float32 RGB in [0, 1] → the stylised image, same size (``scale``: the input
    scale, see :func:`run_batch`)."""
    dev = resolve_device(device)
    model.net.to(dev)
    return run_batch(model, [image], dev, scale)[0]


def stylize_file_with_model(
    content: str | os.PathLike[str],
    out: str | os.PathLike[str],
    model: str | os.PathLike[str],
    size: int | None = None,
    styles: Sequence[str | os.PathLike[str]] | None = None,
    device: str = "auto",
    scale: float | str | None = "auto",
) -> dict[str, Any]:
    """``styleflow image CONTENT --model M.pt -o OUT``: write OUT and the OUT.json record.

    ``size``: output height (None: the content's own); ``styles``, when given, must be the model's;
    ``scale``: the network's input scale (``--model-scale``; :func:`run_batch`).
    """

    out_path = check_output(out)
    dev = resolve_device(device)
    m = load_model(model, dev)
    if styles:
        check_styles(m, styles)
    img = read_image(content)
    if size is not None:
        img = resize_to_height(img, check_size(size))
    t0 = time.perf_counter()
    factor = resolve_model_scale(scale, img.shape[0], training_height(m))
    result = run_batch(m, [img], dev, factor)[0]
    seconds = time.perf_counter() - t0
    write_image(out_path, result)
    rec = m.record
    record = {
        "output": str(out_path), "content": str(content), "model": str(m.path),
        "styles": [s["path"] for s in rec.get("styles", [])], "style_weights": rec.get("style_weights"),
        "height": img.shape[0], "width": img.shape[1], "device": str(dev),
        "precision": inference_precision(dev), "model_scale": factor,
        **(rec.get("backbone") or {}),
        "training": {k: rec.get(k) for k in ("settings", "steps_done", "seconds", "parameters")},
        "iterations": 0, "seconds": round(seconds, 4), "environment": environment(),
    }
    write_json(f"{out_path}.json", record)
    return record

"""Stylise one image file: read, optimise, write the result and a JSON sidecar.

Used by ``styleflow image`` and by the workflow's still-image runs.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from styleflow import __version__
from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.images import check_size, read_image, resize, resize_to_height, write_image
from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import StyleSettings
from styleflow.progress import IterationBar

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


def check_output(path: str | os.PathLike[str]) -> Path:
    """Validate an output image name before any work is done."""
    out = Path(path)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise StyleflowError(f"-o {out}: unknown image type {out.suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    if out.is_dir():
        raise StyleflowError(f"-o {out}: is a folder; give a file name such as {out / 'out.png'}")
    return out


def environment() -> dict[str, str]:
    """Versions that decide the numbers (recorded in every sidecar)."""
    return {"styleflow": __version__, "torch": torch.__version__, "python": platform.python_version()}


def stylize_file(
    content: str | os.PathLike[str],
    styles: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    settings: StyleSettings,
    size: int,
    style_weights: Sequence[float] | None = None,
    init_image: str | os.PathLike[str] | None = None,
    device: str = "auto",
    progress: bool = True,
    preset: str | None = None,
) -> dict[str, Any]:
    """Stylise ``content`` towards ``styles`` at height ``size``; write ``out`` and ``out.json``.

    Returns the sidecar record: every setting, the backbone and weights used, final losses,
    iterations run, whether it converged, seconds.
    """
    out = check_output(out)
    size = check_size(size)
    content_img = resize_to_height(read_image(content), size)
    style_imgs = [read_image(p) for p in styles]
    init = None
    if init_image is not None:
        init = resize_to_height(read_image(init_image), size)
        if init.shape != content_img.shape:

            init = resize(init, content_img.shape[:2])
        settings = settings.replace(init="image")
    t0 = time.perf_counter()
    stylizer = Stylizer(settings, style_imgs, style_weights, device=device)
    bar = IterationBar(desc=Path(out).name, enabled=progress)
    try:
        result = stylizer.stylize(content_img, init=init, callback=bar)
    finally:
        bar.close()
    write_image(out, result.image)
    record = {
        "output": str(out),
        "content": str(content),
        "styles": [str(p) for p in styles],
        "style_weights": stylizer.style_weights,
        "init_image": None if init_image is None else str(init_image),
        "preset": preset,
        "height": content_img.shape[0],
        "width": content_img.shape[1],
        "device": str(stylizer.device),
        "precision": stylizer.precision,  # what the backbone ran in (settings.precision may say auto)
        "precision_choice": stylizer.precision_record,  # how auto decided (and its timings)
        **stylizer.backbone_info,
        "settings": settings.as_dict(),
        "losses": result.losses,
        "iterations": result.iterations,
        "converged": result.converged,
        "restores": result.restores,
        "levels": result.levels,
        "seconds": round(result.seconds, 3),
        "seconds_total": round(time.perf_counter() - t0, 3),
        "environment": environment(),
    }
    write_json(f"{out}.json", record)
    return record

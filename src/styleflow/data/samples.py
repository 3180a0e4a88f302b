"""Free sample images from the installed scikit-image, for the still-image demo grid.

Every image here ships inside the scikit-image wheel (nothing is downloaded), and its docstring
states the licence quoted in :data:`SAMPLES`. Photographs serve as content; the textures
(immunohistochemistry, hubble_deep_field, gravel ...) make usable "paintings" next to the
procedural demo style (:mod:`styleflow.data.demo`). ``camera`` and ``gravel`` are grayscale, which
exercises the conversion of grayscale inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import skimage.data

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.images import write_image

#: name → licence, as stated in ``skimage.data.<name>.__doc__`` (scikit-image 0.2x).
SAMPLES: dict[str, str] = {
    "chelsea": "CC0 by the photographer (Stefan van der Walt)",
    "coffee": "CC0 by the photographer (Rachel Michetti)",
    "astronaut": "NASA; no known copyright restrictions, released into the public domain",
    "rocket": "SpaceX; released in the public domain",
    "camera": "CC0 by the photographer (Lav Varshney)",
    "immunohistochemistry": "no known copyright restrictions (scikit-image)",
    "hubble_deep_field": "NASA; may be freely used in the public domain",
    "retina": "CC0 1.0 Universal / Public Domain Dedication",
    "gravel": "CC0 (CC0Textures Gravel04)",
    "brick": "CC0 (CC0Textures Bricks25)",
}


def sample(name: str) -> np.ndarray:
    """The sample ``name`` as ``(H, W, 3)`` float32 RGB in [0, 1] (grayscale replicated)."""
    if name not in SAMPLES:
        raise StyleflowError(f"sample image {name!r}: unknown; choose one of {', '.join(SAMPLES)}")

    img = np.asarray(getattr(skimage.data, name)())
    img = img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 255.0)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def write_sample(name: str, out: str | os.PathLike[str]) -> None:
    """Write sample ``name`` as an image file (format from the suffix) and ``out.json`` (its licence)."""
    write_image(out, sample(name))
    write_json(f"{out}.json", {"source": f"skimage.data.{name}", "licence": SAMPLES[name]})


def sample_path(name: str, folder: str | os.PathLike[str] = "results/demo/images") -> Path:
    """Where the workflow writes sample ``name``."""
    return Path(folder) / f"{name}.png"

"""The network's input scale: run a trained network on the frame resized so that its strokes have
the size they had at the training height, then resize the result back (``model_scale``).

A feed-forward network paints strokes of a fixed size in *pixels* (what it learnt at its training
height, ``styleflow train --size``). On a frame three times that height they cover a third of the
frame's fraction they covered in training: a thumbnail's strokes on a large frame. Scaling the
input down by ``s`` before the network and the output back up by ``1/s`` makes them ``1/s`` times
larger. ``model_scale: auto`` (:func:`resolve_model_scale`) keeps frames up to
:data:`~styleflow.optim.pyramid.AUTO_COARSEST` px (or the training height, if larger) at full size
and runs larger frames at that height (docs/performance.md, "Which defaults apply at which size").

Images are ``(H, W, 3)`` float32 RGB in [0, 1].
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from styleflow.io.images import resize
from styleflow.optim.pyramid import AUTO_COARSEST, MIN_LEVEL_SIDE


def training_height(model: Any) -> int | None:
    """The height in pixels the network was trained at (``styleflow train --size``), None if its
    record does not say."""
    size = ((getattr(model, "record", None) or {}).get("settings") or {}).get("size")
    return int(size) if isinstance(size, (int, float)) and size > 0 else None


def resolve_model_scale(setting: float | str | None, height: int, trained: int | None = None) -> float:
    """The input scale for frames ``height`` pixels high: ``setting`` itself when it is a number
    (None: 1), or for ``"auto"`` ``min(1, max(trained, AUTO_COARSEST) / height)`` — 1 at the
    default grid's sizes and up to 384 px (the network sees the frame as it is), 0.53 at 720p and
    0.36 at 1080p for a network trained at 256 px."""
    if setting is None:
        return 1.0
    if setting != "auto":
        return float(setting)
    target = max(trained or 0, AUTO_COARSEST)
    return min(1.0, target / height)


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``(H, W)`` times ``scale``, rounded; the scale is raised (never above 1) where the shorter
    side would fall below :data:`MIN_LEVEL_SIDE` pixels, so the aspect ratio is kept."""
    h, w = size
    s = min(1.0, max(scale, MIN_LEVEL_SIDE / min(h, w)))
    return max(1, round(h * s)), max(1, round(w * s))


def at_scale(apply: Callable[[list[np.ndarray]], list[np.ndarray]], images: Sequence[np.ndarray],
             scale: float) -> list[np.ndarray]:
    """``apply`` (same-sized images → same-sized results) on ``images`` resized by ``scale``
    (area averaging when shrinking), each result resized back to its image's size (bicubic when
    enlarging, clipped to [0, 1]). Scale 1 (or a size that rounds to the same): ``apply(images)``
    unchanged, bit for bit."""
    if not images:
        return []
    size = tuple(images[0].shape[:2])
    small = scaled_size(size, scale)  # type: ignore[arg-type]
    if small == size:
        return apply(list(images))
    return [resize(y, size) for y in apply([resize(x, small) for x in images])]  # type: ignore[arg-type]

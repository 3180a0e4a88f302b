"""Coarse-to-fine: the sizes of the image pyramid, and masks resized to a level.

Sizes are ``(H, W)`` in pixels; masks ``(H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

#: Coarse levels whose shorter side would fall below this many pixels are skipped; the style
#: images are never scaled below it either.
MIN_LEVEL_SIDE = 32


def level_sizes(size: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """Sizes from coarsest to finest, each about half the next; too-small levels are dropped."""
    h, w = size
    out = []
    for k in range(levels - 1, 0, -1):
        lh, lw = round(h / 2**k), round(w / 2**k)
        if min(lh, lw) >= MIN_LEVEL_SIDE:
            out.append((lh, lw))
    out.append((h, w))
    return out


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) mask in [0, 1] → (h, w) by area averaging (or bilinear when enlarging)."""
    m = np.asarray(mask, dtype=np.float32)
    if m.shape == tuple(size):
        return m
    interp = cv2.INTER_AREA if size[0] < m.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(m, (size[1], size[0]), interpolation=interp).astype(np.float32)

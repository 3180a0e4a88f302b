"""Coarse-to-fine: the sizes of the image pyramid, how many levels ``coarse_to_fine: auto`` takes
at a given size, and masks resized to a level.

Sizes are ``(H, W)`` in pixels; masks ``(H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

#: Coarse levels whose shorter side would fall below this many pixels are skipped; the style
#: images are never scaled below it either.
MIN_LEVEL_SIDE = 32

#: ``coarse_to_fine: auto`` halves the image until its height is at most this many pixels: the
#: preset was tuned at 128-256 px, where the style's strokes (the backbone's receptive field, in
#: pixels) have the painting's size relative to the frame; a coarsest level of at most this height
#: lays them out at that scale and the finer levels add detail (docs/performance.md, "Which
#: defaults apply at which size"). 1 level up to this height, 2 up to twice it (720p: 360 px), 3
#: up to four times it (1080p: 270 px).
AUTO_COARSEST = 384


def auto_levels(height: int) -> int:
    """Pyramid levels ``coarse_to_fine: auto`` uses for an image ``height`` pixels high: the fewest
    whose coarsest level is at most :data:`AUTO_COARSEST` pixels high (1 at the default grid's
    96 px and up to 384 px; at most 5, the option's maximum)."""
    levels = 1
    while levels < 5 and height / 2 ** (levels - 1) > AUTO_COARSEST:
        levels += 1
    return levels


def resolve_levels(setting: int | str, size: tuple[int, int]) -> int:
    """The ``coarse_to_fine`` setting (a number of levels, or ``"auto"``) as levels for ``size`` (H, W)."""
    return auto_levels(size[0]) if setting == "auto" else int(setting)


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

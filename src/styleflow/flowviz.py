"""Flow visualisation with the Middlebury colour wheel (Baker et al. 2011).

Hue encodes direction, saturation encodes magnitude (normalised by the largest magnitude, or a
given ``max_flow``); zero motion is white. The wheel is the 55-colour Middlebury one
(RY 15, YG 6, GC 4, CB 11, BM 13, MR 6), as in ``flowToColor`` / ``computeColor``.
"""

from __future__ import annotations

import numpy as np


def make_colorwheel() -> np.ndarray:
    """The Middlebury wheel: ``(55, 3)`` float32 RGB in [0, 255]."""
    ry, yg, gc, cb, bm, mr = 15, 6, 4, 11, 13, 6
    wheel = np.zeros((ry + yg + gc + cb + bm + mr, 3), np.float32)
    col = 0
    wheel[col:col + ry, 0] = 255
    wheel[col:col + ry, 1] = np.floor(255 * np.arange(ry) / ry)
    col += ry
    wheel[col:col + yg, 0] = 255 - np.floor(255 * np.arange(yg) / yg)
    wheel[col:col + yg, 1] = 255
    col += yg
    wheel[col:col + gc, 1] = 255
    wheel[col:col + gc, 2] = np.floor(255 * np.arange(gc) / gc)
    col += gc
    wheel[col:col + cb, 1] = 255 - np.floor(255 * np.arange(cb) / cb)
    wheel[col:col + cb, 2] = 255
    col += cb
    wheel[col:col + bm, 2] = 255
    wheel[col:col + bm, 0] = np.floor(255 * np.arange(bm) / bm)
    col += bm
    wheel[col:col + mr, 2] = 255 - np.floor(255 * np.arange(mr) / mr)
    wheel[col:col + mr, 0] = 255
    return wheel


_WHEEL = make_colorwheel()


def flow_to_color(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Colour-code ``(H, W, 2)`` flow (pixels) as ``(H, W, 3)`` uint8 RGB.

    Args:
        flow: u (x) then v (y), pixels. Non-finite vectors are drawn black.
        max_flow: magnitude drawn fully saturated; default the largest finite magnitude.
    """
    u = flow[..., 0].astype(np.float64)
    v = flow[..., 1].astype(np.float64)
    bad = ~(np.isfinite(u) & np.isfinite(v))
    u = np.where(bad, 0.0, u)
    v = np.where(bad, 0.0, v)
    rad = np.sqrt(u * u + v * v)
    scale = float(max_flow) if max_flow else float(rad.max())
    if scale <= 0:
        scale = 1.0
    u, v, rad = u / scale, v / scale, rad / scale
    ncols = _WHEEL.shape[0]
    angle = np.arctan2(-v, -u) / np.pi
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(int)
    k1 = (k0 + 1) % ncols
    f = (fk - k0)[..., None]
    col = (1 - f) * _WHEEL[k0] / 255.0 + f * _WHEEL[k1] / 255.0
    inside = (rad <= 1)[..., None]
    r = np.minimum(rad, 1.0)[..., None]
    col = np.where(inside, 1 - r * (1 - col), col * 0.75)
    out = np.floor(255 * col).astype(np.uint8)
    out[bad] = 0
    return out

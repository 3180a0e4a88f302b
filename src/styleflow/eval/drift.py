"""Does a long stylised clip keep its style? Measures over frame index (issue 14, item 4).

* :func:`static_mask`: the pixels that do not move in the *input* clip — forward flow magnitude
  below ``threshold`` pixels in every consecutive pair;
* :func:`region_colours`: the mean RGB colour of a region in every frame;
* :func:`delta_e`: CIE76 colour difference of two mean colours (CIELAB, D65);
* :func:`tenths`: the mean of the first and of the last tenth of a per-frame series;
* :func:`static_drift`: all of it for one clip — the ablation table's ``drift_de`` and
  ``drift_de_input`` columns, and what the long-clip benchmark ``bench/bench_long_clip.py``
  reports beside the fixed-backbone style loss (docs/long-clips.md).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from styleflow.errors import StyleflowError


def static_mask(forward_flows: Sequence[np.ndarray], threshold: float = 0.5) -> np.ndarray:
    """``(H, W)`` bool: pixels whose flow magnitude stays below ``threshold`` px in every pair.

    Args:
        forward_flows: ``(H, W, 2)`` float flows (pixels) of consecutive input frames, all one size.
        threshold: largest per-pair motion (pixels) a static pixel may have.
    """
    if not forward_flows:
        raise StyleflowError("static region: a clip of at least two frames (one flow) is needed")
    peak = np.zeros(forward_flows[0].shape[:2], np.float32)
    for flow in forward_flows:
        if flow.shape[:2] != peak.shape:
            raise StyleflowError(f"static region: flows of different sizes {flow.shape[:2]} and {peak.shape}")
        np.maximum(peak, np.hypot(flow[..., 0], flow[..., 1]), out=peak)
    return peak < threshold


def region_colours(frames: Sequence[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """``(N, 3)`` mean RGB (in [0, 1]) of ``mask``'s pixels in each ``(H, W, 3)`` frame (NaN if empty)."""
    if not mask.any():
        return np.full((len(frames), 3), np.nan, np.float64)
    return np.stack([f[mask].astype(np.float64).mean(axis=0) for f in frames])


#: sRGB (linear, D65) → CIE XYZ, and the D65 white point (IEC 61966-2-1).
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_D65 = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB colours ``(..., 3)`` in [0, 1] → CIELAB (D65; L* in 0..100), in float64.

    Computed from the formulas (not OpenCV's ``cvtColor``, whose float path interpolates a lookup
    table and rounds a* and b* to steps of ~0.03-0.2: colour drifts of a few tenths of a ΔE vanish).
    """
    c = np.clip(np.asarray(rgb, np.float64), 0.0, 1.0)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _RGB_TO_XYZ.T / _D65
    e = 216 / 24389
    f = np.where(xyz > e, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """CIE76 ΔE between two sRGB colours in [0, 1] (≈ 2.3: just noticeable side by side)."""
    return float(np.linalg.norm(rgb_to_lab(rgb_a) - rgb_to_lab(rgb_b)))


def tenths(values: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means (over axis 0, NaN ignored) of the first and of the last tenth of a series (≥ 1 item each)."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        raise StyleflowError(f"first/last tenth: a series of at least two frames is needed, got {len(v)}")
    n = max(1, int(math.floor(len(v) / 10)))
    return np.nanmean(v[:n], axis=0), np.nanmean(v[-n:], axis=0)


def static_drift(
    outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray], forward_flows: Sequence[np.ndarray],
    threshold: float = 0.5,
    static: np.ndarray | None = None,
) -> dict[str, float]:
    """Static-region colour drift of a stylised clip, beside the input clip's own.

    Args:
        outputs, inputs: ``(H, W, 3)`` float RGB frames in [0, 1], same count and size.
        forward_flows: the input clip's consecutive forward flows (``n − 1`` of them), pixels.
        threshold: largest per-pair motion (pixels) of a static pixel (:func:`static_mask`).
        static: an ``(H, W)`` bool static mask to use instead of the one of ``forward_flows``
            (the long-clip benchmark takes it over the whole clip while a run is still going).

    Returns:
        ``drift_de``: CIE76 ΔE between the mean colour of the static pixels in the first and in
        the last tenth of the output frames (:func:`tenths`); ``drift_de_input``: the same on the
        input frames (what the footage itself does: exposure, light); ``static_fraction``: the
        share of pixels that are static. The ΔEs are NaN when no pixel is static (a pan, a zoom).
    """
    if len(outputs) != len(inputs) or len(forward_flows) != len(outputs) - 1:
        raise StyleflowError(f"static drift: {len(outputs)} output frames, {len(inputs)} input frames and "
                             f"{len(forward_flows)} flows; expected n, n and n − 1")
    if static is None:
        static = static_mask(forward_flows, threshold)
    if not static.any():
        return {"drift_de": math.nan, "drift_de_input": math.nan, "static_fraction": 0.0}
    out_first, out_last = tenths(region_colours(outputs, static))
    in_first, in_last = tenths(region_colours(inputs, static))
    return {"drift_de": delta_e(out_first, out_last), "drift_de_input": delta_e(in_first, in_last),
            "static_fraction": float(static.mean())}

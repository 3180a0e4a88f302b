"""Temporal warping error of a stylised clip (Lai et al. 2018): pure functions, no I/O.

For stylised frames ``O`` (RGB in [0, 1]) and the optical flow of the *input* frames, each pair of
consecutive frames (t−1, t) gets

    E(t) = Σ_x M(x) · |O_t(x + f(x)) − O_{t−1}(x)|² / (3 · Σ_x M(x))

where ``f`` is the forward flow t−1 → t on frame t−1's grid (so ``O_t(x + f(x))`` is frame t
backward-warped onto frame t−1, as in Lai et al.'s evaluation code), the square is summed over the
three colour channels and divided by 3, and ``M`` is given by one of two named protocols
(:data:`PROTOCOLS`):

* ``reference`` (the table's ``warp_error``): 1 where the forward–backward consistency check of
  Ruder et al. passes *without smoothing* and ``x + f(x)`` is inside the frame. A pair with no
  reliable pixel (a scene cut) has no error (NaN) and is left out of the clip's mean (:func:`nanmean`).
* ``lai`` (``warp_error_lai``): exactly as Lai et al.'s released evaluation code
  (``utils.detect_occlusion`` and ``evaluate_WarpError.py``): with ``b̂(x) = b(x + f(x))`` (the
  backward flow t → t−1 sampled by their ``Resample2d``: bilinear, indices clamped to the border —
  :func:`styleflow.motion.warp.bilinear`), a pixel is occluded where
  ``|f + b̂|² > 0.01 (|f|² + |b̂|²) + 0.5`` or on a motion boundary of ``f``,
  ``|∇u|² + |∇v|² > 0.01 |f|² + 0.002`` (forward differences ``u[x] − u[x+1]``, 0 in the last
  column/row); every other pixel counts, also where ``x + f(x)`` leaves the frame (the warp then
  reads the clamped border, as theirs does). With no pixel left their code divides by the frame's
  size: the pair's error is 0 and it stays in the mean.

The same formula with frames t and t + k (flow t → t + k) is the long-term error
(:func:`warping_errors` with ``offset=k``). :mod:`styleflow.eval.metrics` applies it to files and runs.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.motion.consistency import consistency_mask
from styleflow.motion.estimate import compute_flow
from styleflow.motion.warp import warp

#: The warping error's masking protocols (module docstring); recorded per row as ``warp_protocol``.
PROTOCOLS = {
    "reference": "Ruder et al. forward-backward check, unsmoothed, inside the frame",
    "lai": "Lai et al. 2018 evaluation code (detect_occlusion)",
}

#: Constants of Lai et al.'s ``detect_occlusion`` (utils.py of fast_blind_video_consistency).
LAI_OCCLUSION_REL, LAI_OCCLUSION_ABS = 0.01, 0.5
LAI_BOUNDARY_REL, LAI_BOUNDARY_ABS = 0.01, 0.002


def lai_occlusion(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Lai et al.'s occlusion mask on frame t−1's grid: ``(H, W)`` bool, True = occluded.

    Args:
        forward: ``(H, W, 2)`` flow t−1 → t on frame t−1's grid (pixels).
        backward: ``(H, W, 2)`` flow t → t−1 on frame t's grid.
    """
    fw = np.asarray(forward, np.float64)
    bw_w = warp(np.asarray(backward, np.float32), np.asarray(forward, np.float32))[0].astype(np.float64)
    mag = lambda f: f[..., 0] ** 2 + f[..., 1] ** 2  # noqa: E731 - squared, as their compute_flow_magnitude
    occluded = mag(fw + bw_w) > LAI_OCCLUSION_REL * (mag(bw_w) + mag(fw)) + LAI_OCCLUSION_ABS
    grad = np.zeros(fw.shape[:2])
    for c in range(2):
        dx = np.zeros(fw.shape[:2])
        dy = np.zeros(fw.shape[:2])
        dx[:, :-1] = fw[:, :-1, c] - fw[:, 1:, c]
        dy[:-1, :] = fw[:-1, :, c] - fw[1:, :, c]
        grad += dx ** 2 + dy ** 2
    boundary = grad > LAI_BOUNDARY_REL * mag(fw) + LAI_BOUNDARY_ABS
    return occluded | boundary


def warp_error_pair(
    previous: np.ndarray, current: np.ndarray, forward: np.ndarray, backward: np.ndarray,
    protocol: str = "reference",
) -> tuple[float, float]:
    """Warping error of one pair of output frames.

    Args:
        previous: output frame t−1, ``(H, W, 3)`` float RGB in [0, 1].
        current: output frame t, same shape.
        forward: ``(H, W, 2)`` flow of the *input* frames t−1 → t on frame t−1's grid (pixels).
        backward: ``(H, W, 2)`` flow of the input frames t → t−1 on frame t's grid.
        protocol: the mask, ``reference`` or ``lai`` (:data:`PROTOCOLS`).

    Returns:
        ``(E, m)``: ``E`` the masked mean squared difference between frame t warped onto frame
        t−1 and frame t−1 (mean over channels; with no pixel counted NaN for ``reference``, 0 for
        ``lai``), ``m`` the fraction of pixels counted.
    """
    if previous.shape != current.shape or previous.shape[:2] != forward.shape[:2] or forward.shape != backward.shape:
        raise StyleflowError(
            f"warping error: frames {previous.shape[:2]} / {current.shape[:2]} and flows "
            f"{forward.shape[:2]} / {backward.shape[:2]} must have the same size"
        )
    if protocol not in PROTOCOLS:
        raise StyleflowError(f"warping error protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    warped, inside = warp(current, forward)  # O_t(x + f(x))
    if protocol == "lai":
        mask = ~lai_occlusion(forward, backward)
    else:
        mask = (consistency_mask(forward, backward, smooth=False) >= 128) & inside  # on frame t−1's grid
    n = int(mask.sum())
    if n == 0:
        return (0.0 if protocol == "lai" else float("nan")), 0.0
    diff = (warped.astype(np.float64) - previous.astype(np.float64)) ** 2
    err = float(diff[mask].sum() / (3.0 * n))
    return err, n / mask.size


def clip_flows(
    inputs: Sequence[np.ndarray], method: str = "dis", params: Mapping[str, Any] | None = None, offset: int = 1
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward and backward flow of every pair of input frames ``offset`` apart, computed directly
    (not composed): ``[(f_{t→t+offset}, f_{t+offset→t})]`` for t = 1..n − offset."""

    params = dict(params or {})
    return [
        (compute_flow(a, b, method, **params), compute_flow(b, a, method, **params))
        for a, b in zip(inputs[:-offset], inputs[offset:])
    ]


def warping_errors(
    outputs: Sequence[np.ndarray],
    flows: Sequence[tuple[np.ndarray, np.ndarray]],
    protocol: str = "reference",
    offset: int = 1,
) -> list[tuple[float, float]]:
    """``[(E, mask fraction)]`` of the pairs (t, t + offset), t = 1..n − offset.

    Args:
        outputs: the stylised frames, ``(H, W, 3)`` float RGB in [0, 1].
        flows: ``[(f_{t→t+offset}, f_{t+offset→t})]`` of the *input* frames (:func:`clip_flows`
            layout for offset 1), one pair per frame pair.
        protocol: the mask (:data:`PROTOCOLS`).
        offset: frame distance ``k``; a clip of ``n <= k`` frames has no pair (an empty list).
    """
    want = max(0, len(outputs) - offset)
    if len(flows) != want:
        raise StyleflowError(f"warping error: {len(outputs)} frames need {want} flow pairs at offset {offset}, got {len(flows)}")
    return [warp_error_pair(outputs[t], outputs[t + offset], f, b, protocol) for t, (f, b) in enumerate(flows)]


def nanmean(values: Iterable[float | None]) -> float:
    """Mean of the values that are neither None nor NaN (NaN when none is left)."""
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else float("nan")

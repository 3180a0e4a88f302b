"""Temporal warping error of a stylised clip (Lai et al. 2018): pure functions, no I/O.

For stylised frames ``O`` (RGB in [0, 1]) and the optical flow of the *input* frames, each pair of
consecutive frames (t−1, t) gets

    E(t) = Σ_x M(x) · |O_t(x + f(x)) − O_{t−1}(x)|² / (3 · Σ_x M(x))

where ``f`` is the forward flow t−1 → t on frame t−1's grid (so ``O_t(x + f(x))`` is frame t
backward-warped onto frame t−1, as in Lai et al.'s evaluation code), the square is summed over the
three colour channels and divided by 3, and ``M`` is 1 where the forward–backward consistency
check of Ruder et al. passes *without smoothing* and ``x + f(x)`` is inside the frame. A pair with
no reliable pixel (a scene cut) has no error (NaN) and is left out of the clip's mean
(:func:`nanmean`). :mod:`styleflow.eval.metrics` applies it to files and runs.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.motion.consistency import consistency_mask
from styleflow.motion.warp import warp


def warp_error_pair(
    previous: np.ndarray, current: np.ndarray, forward: np.ndarray, backward: np.ndarray
) -> tuple[float, float]:
    """Warping error of one pair of output frames.

    Args:
        previous: output frame t−1, ``(H, W, 3)`` float RGB in [0, 1].
        current: output frame t, same shape.
        forward: ``(H, W, 2)`` flow of the *input* frames t−1 → t on frame t−1's grid (pixels).
        backward: ``(H, W, 2)`` flow of the input frames t → t−1 on frame t's grid.

    Returns:
        ``(E, m)``: ``E`` the masked mean squared difference between frame t warped onto frame
        t−1 and frame t−1 (mean over channels; NaN if no pixel is reliable), ``m`` the fraction of
        pixels counted.
    """
    if previous.shape != current.shape or previous.shape[:2] != forward.shape[:2] or forward.shape != backward.shape:
        raise StyleflowError(
            f"warping error: frames {previous.shape[:2]} / {current.shape[:2]} and flows "
            f"{forward.shape[:2]} / {backward.shape[:2]} must have the same size"
        )
    mask = consistency_mask(forward, backward, smooth=False) >= 128  # on frame t−1's grid
    warped, inside = warp(current, forward)  # O_t(x + f(x))
    mask &= inside
    n = int(mask.sum())
    if n == 0:
        return float("nan"), 0.0
    diff = (warped.astype(np.float64) - previous.astype(np.float64)) ** 2
    err = float(diff[mask].sum() / (3.0 * n))
    return err, n / mask.size


def clip_flows(
    inputs: Sequence[np.ndarray], method: str = "dis", params: Mapping[str, Any] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward and backward flow of every consecutive pair of input frames: ``[(f_{t−1→t}, f_{t→t−1})]``."""
    from styleflow.motion.estimate import compute_flow

    params = dict(params or {})
    return [
        (compute_flow(a, b, method, **params), compute_flow(b, a, method, **params))
        for a, b in zip(inputs[:-1], inputs[1:])
    ]


def warping_errors(
    outputs: Sequence[np.ndarray],
    flows: Sequence[tuple[np.ndarray, np.ndarray]],
) -> list[tuple[float, float]]:
    """``[(E(t), mask fraction)]`` for t = 2..n, given :func:`clip_flows`-style flows of the input."""
    if len(flows) != len(outputs) - 1:
        raise StyleflowError(f"warping error: {len(outputs)} frames need {len(outputs) - 1} flow pairs, got {len(flows)}")
    return [warp_error_pair(outputs[k - 1], outputs[k], f, b) for k, (f, b) in enumerate(flows, start=1)]


def nanmean(values: Iterable[float | None]) -> float:
    """Mean of the values that are neither None nor NaN (NaN when none is left)."""
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else float("nan")

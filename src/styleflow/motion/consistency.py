"""Forward–backward consistency masks, exactly as the reference implementation computes them.

Ruder, Dosovitskiy and Brox (2016), ``consistencyChecker``: for the mask of frame j against an
earlier (or later) frame i, with ``w_b`` the flow j → i on j's grid ("backward") and ``w_f`` the
flow i → j on i's grid ("forward"), every pixel x of frame j gets

* 0 if ``b = x + w_b(x)`` has no full bilinear neighbourhood in the image
  (``floor(b) < 0`` or ``floor(b) + 1 >= size``, per axis);
* −255 (occluded; negative so that the blur spreads it) if, with ``c = b + w_f(b)`` (``w_f``
  sampled bilinearly), ``|c − x|² >= 0.01 (|w_b(x)|² + |w_f(b)|²) + 0.5``;
* 0 (motion boundary) if ``|∂x w_b|² + |∂y w_b|² > 0.01 |w_b(x)|² + 0.002`` (central differences
  ``[−0.5, 0, 0.5]``, mirrored borders);
* 255 otherwise.

Then a separable, normalised 5-tap Gaussian (σ = 0.8, mirrored borders ``cba|abc``), clipping to
[0, 255] and truncation to integers: fully reliable pixels read 254, as in the reference's files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.atomic import atomic_path
from styleflow.io.flo import read_flow
from styleflow.io.frames import FrameCache
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.io.records import read_record, record_matches
from styleflow.motion.cuts import (
    CUTS_NAME,
    DEFAULT_THRESHOLD,
    PHOTOMETRIC_TOLERANCE,
    consistent_fraction,
    detect_cuts,
    spans_cut,
    write_cuts,
)
from styleflow.motion.flow import SETTINGS_NAME as FLOW_RECORD
from styleflow.motion.flow import check_offsets, frame_count_from_flows, frame_pairs
from styleflow.progress import frame_bar

#: Reference constants (consistencyChecker.cpp; Sundaram et al. 2010 for the inequalities).
OCCLUSION_REL = 0.01
OCCLUSION_ABS = 0.5
BOUNDARY_REL = 0.01
BOUNDARY_ABS = 0.002
SMOOTH_SIGMA = 0.8
SMOOTH_PRECISION = 2.0  # kernel radius = ceil(precision * sigma) = 2 → 5 taps


def gaussian_kernel(sigma: float = SMOOTH_SIGMA, precision: float = SMOOTH_PRECISION) -> np.ndarray:
    """The reference's ``CSmooth`` kernel: ``2*ceil(precision*sigma)+1`` taps, normalised, float32."""
    radius = int(np.ceil(precision * sigma))
    i = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(i * i) / (2.0 * sigma * sigma)) / (sigma * np.sqrt(2.0 * np.pi))
    k = k.astype(np.float32)
    return (k * (np.float32(1.0) / k.sum(dtype=np.float32))).astype(np.float32)


def _central_differences(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """∂x and ∂y of ``(H, W, 2)`` flow with ``[-0.5, 0, 0.5]`` and mirrored (``cba|abc``) borders."""
    padded_x = np.pad(flow, ((0, 0), (1, 1), (0, 0)), mode="symmetric")
    padded_y = np.pad(flow, ((1, 1), (0, 0), (0, 0)), mode="symmetric")
    dx = np.float32(0.5) * padded_x[:, 2:] - np.float32(0.5) * padded_x[:, :-2]
    dy = np.float32(0.5) * padded_y[2:] - np.float32(0.5) * padded_y[:-2]
    return dx, dy


def raw_consistency(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """The unsmoothed reference values on ``backward``'s grid: ``(H, W)`` float32 in {−255, 0, 255}.

    Args:
        backward: ``(H, W, 2)`` float32 flow j → i on frame j's grid (pixels).
        forward: ``(H, W, 2)`` float32 flow i → j on frame i's grid (pixels).
    """
    wb = _check(backward, "backward")
    wf = _check(forward, "forward")
    if wb.shape != wf.shape:
        raise StyleflowError(
            f"consistency: the backward flow is {wb.shape[1]}x{wb.shape[0]} but the forward flow is "
            f"{wf.shape[1]}x{wf.shape[0]}; both must come from the same pair of frames"
        )
    h, w = wb.shape[:2]
    ax, ay = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    u2, v2 = wb[..., 0], wb[..., 1]
    bx = ax + u2
    by = ay + v2
    finite = np.isfinite(bx) & np.isfinite(by)
    fx = np.floor(np.where(finite, bx, -1.0))
    fy = np.floor(np.where(finite, by, -1.0))
    valid = finite & (fx >= 0) & (fx + 1 < w) & (fy >= 0) & (fy + 1 < h)

    x1 = np.where(valid, fx, 0).astype(np.intp)
    y1 = np.where(valid, fy, 0).astype(np.intp)
    x2 = np.minimum(x1 + 1, w - 1)
    y2 = np.minimum(y1 + 1, h - 1)
    alpha_x = np.where(valid, bx - x1, 0).astype(np.float32)
    alpha_y = np.where(valid, by - y1, 0).astype(np.float32)
    one = np.float32(1.0)

    def sample(c: int) -> np.ndarray:
        f = wf[..., c]
        a = (one - alpha_x) * f[y1, x1] + alpha_x * f[y1, x2]
        b = (one - alpha_x) * f[y2, x1] + alpha_x * f[y2, x2]
        return (one - alpha_y) * a + alpha_y * b

    u = sample(0)
    v = sample(1)
    cx = bx + u
    cy = by + v
    dist2 = ((cx - ax) * (cx - ax) + (cy - ay) * (cy - ay)).astype(np.float64)
    flow2 = (u2 * u2 + v2 * v2 + u * u + v * v).astype(np.float64)
    occluded = dist2 >= OCCLUSION_REL * flow2 + OCCLUSION_ABS

    dx, dy = _central_differences(wb)
    edge = (dx[..., 0] * dx[..., 0] + dx[..., 1] * dx[..., 1]
            + dy[..., 0] * dy[..., 0] + dy[..., 1] * dy[..., 1]).astype(np.float64)
    boundary = edge > BOUNDARY_REL * (u2 * u2 + v2 * v2).astype(np.float64) + BOUNDARY_ABS

    out = np.full((h, w), 255.0, dtype=np.float32)
    out[boundary] = 0.0
    out[occluded] = -255.0  # the occlusion test comes first in the reference
    out[~valid] = 0.0
    return out


def consistency_mask(backward: np.ndarray, forward: np.ndarray, smooth: bool = True) -> np.ndarray:
    """Reliability of frame j against frame i, on ``backward``'s grid: ``(H, W)`` uint8 0..255.

    Args:
        backward: ``(H, W, 2)`` flow j → i on frame j's grid (pixels).
        forward: ``(H, W, 2)`` flow i → j on frame i's grid (pixels).
        smooth: apply the reference's Gaussian (σ 0.8) before clipping and truncating (fully
            reliable pixels then read 254). Without it, pixels are 0 or 255.
    """
    raw = raw_consistency(backward, forward)
    if smooth:
        k = gaussian_kernel()
        raw = cv2.sepFilter2D(raw, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT)
    return np.clip(raw, 0.0, 255.0).astype(np.uint8)  # truncation, as the reference's PGM writer


def reliable_fraction(mask: np.ndarray) -> float:
    """Fraction of pixels of a uint8 mask that are reliable (value >= 128)."""
    return float(np.count_nonzero(np.asarray(mask) >= 128)) / max(1, np.asarray(mask).size)


def combine_closest_first(masks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Long-term weights, "closest first" (reference ``processFlowWeights``).

    Args:
        masks: masks of one frame against earlier frames, ordered closest first (j−1, j−2, ...),
            each ``(H, W)`` uint8 0..255 or float in [0, 1].

    Returns:
        float32 ``(H, W)`` weights in [0, 1]: ``c_1 = m_1`` and
        ``c_k = max(m_k − Σ_{l<k} c_l, 0)``: a pixel counts against a farther frame only as far
        as the closer frames do not already cover it.
    """
    out: list[np.ndarray] = []
    shape = None
    for n, m in enumerate(masks):
        arr = np.asarray(m)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.ndim != 2:
            raise StyleflowError(f"mask {n + 1}: expected an (H, W) mask, got shape {arr.shape}")
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise StyleflowError(f"mask {n + 1}: size {arr.shape} differs from the first mask's {shape}")
        w = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
        for closer in out:
            w = w - closer
        out.append(np.maximum(w, 0.0).astype(np.float32))
    return out


def write_pgm(path: str | os.PathLike[str], mask: np.ndarray) -> None:
    """Write an ``(H, W)`` uint8 mask as a binary PGM (P5), atomically."""
    p = Path(path)
    arr = np.asarray(mask)
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise StyleflowError(f"{p}: expected an (H, W) uint8 mask, got {arr.dtype} {arr.shape}")
    h, w = arr.shape
    with atomic_path(p) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(f"P5\n{w} {h}\n255\n".encode("ascii"))
            fh.write(np.ascontiguousarray(arr).tobytes())


def read_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a mask image (PGM, PNG ...) as ``(H, W)`` uint8.

    Raises:
        StyleflowError: missing, empty or unreadable file.
    """
    p = Path(path)
    if not p.is_file():
        raise StyleflowError(f"{p}: no such mask file")
    if p.stat().st_size == 0:
        raise StyleflowError(f"{p}: the mask file is empty; recompute the masks")
    arr = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
    if arr is None:
        raise StyleflowError(f"{p}: not a readable mask image (PGM/PNG); recompute the masks")
    return arr


def _check(flow: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(flow)
    if arr.ndim != 3 or arr.shape[2] != 2:
        raise StyleflowError(f"consistency: the {what} flow must be (H, W, 2), got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def compute_masks(
    flow_dir: str | os.PathLike[str],
    masks_dir: str | os.PathLike[str],
    offsets: Sequence[int] = (1,),
    frames_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    cut_threshold: float = DEFAULT_THRESHOLD,
) -> None:
    """Consistency masks for every flow pair, both directions, and ``masks_dir/cuts.json``.

    For every ``k`` and ``j = k + d``: ``reliable(j, k)`` from ``backward(j, k)`` and
    ``forward(k, j)``, and ``reliable(k, j)`` from ``forward(k, j)`` and ``backward(j, k)``.
    Scene cuts are detected on the consecutive pairs (offset 1; see :mod:`styleflow.motion.cuts`);
    masks of pairs that span a cut are written all-zero.

    Args:
        frames_dir: the frames folder: gives the frame count and enables the photometric part of
            the scene-cut rule; without it the count is the largest frame number among
            ``flow_dir``'s forward flows and cuts use the masks alone.
        cut_threshold: consistent fraction below which a consecutive pair is a cut.

    Raises:
        StyleflowError: a missing or corrupt flow file (named), flows of different sizes.
    """
    flow_dir, masks_dir = Path(flow_dir), Path(masks_dir)
    offsets = check_offsets(offsets)
    if not flow_dir.is_dir():
        raise StyleflowError(f"{flow_dir}: no such flow folder; compute the flows first")
    n = len(list_frames(frames_dir)) if frames_dir is not None else frame_count_from_flows(flow_dir)
    if n < 2:
        raise StyleflowError(f"{flow_dir}: no forward_* flow files; compute the flows first")
    clip = ClipPaths(Path(frames_dir or flow_dir), flow_dir, masks_dir)
    masks_dir.mkdir(parents=True, exist_ok=True)
    bar = frame_bar(len(frame_pairs(n, offsets)), "masks", progress, unit="pair")
    # Consecutive pairs first: they decide the cuts.
    frames = FrameCache(list_frames(frames_dir), keep=2) if frames_dir is not None else None
    fractions: dict[int, float] = {}
    for k in range(1, n):
        fwd, bwd = read_flow(clip.forward(k, k + 1)), read_flow(clip.backward(k + 1, k))
        m = consistency_mask(bwd, fwd)
        if frames is not None:
            prev, cur = frames(k), frames(k + 1)
            if cur.shape[:2] != bwd.shape[:2]:
                raise StyleflowError(
                    f"{clip.backward(k + 1, k)}: flow is {bwd.shape[1]}x{bwd.shape[0]} but the frames are "
                    f"{cur.shape[1]}x{cur.shape[0]}; recompute the flows for these frames"
                )
            fractions[k + 1] = consistent_fraction(m, cur, prev, bwd)
        else:
            fractions[k + 1] = consistent_fraction(m)
        _store(clip, k + 1, k, m, None)
        _store(clip, k, k + 1, consistency_mask(fwd, bwd), None)
        bar.update(1)
    cuts = detect_cuts(fractions, cut_threshold)
    for k in range(1, n + 1):  # zero the consecutive masks at cuts
        if k + 1 in cuts:
            _store(clip, k + 1, k, None, cuts)
            _store(clip, k, k + 1, None, cuts)
    for k, j in frame_pairs(n, tuple(d for d in offsets if d != 1)):
        if spans_cut(k, j, cuts):
            _store(clip, j, k, None, cuts)
            _store(clip, k, j, None, cuts)
        else:
            fwd, bwd = read_flow(clip.forward(k, j)), read_flow(clip.backward(j, k))
            _store(clip, j, k, consistency_mask(bwd, fwd), None)
            _store(clip, k, j, consistency_mask(fwd, bwd), None)
        bar.update(1)
    bar.close()
    # Last: cuts.json is the stage's record (what the masks were made from; see masks_are_current).
    write_cuts(masks_dir / CUTS_NAME, fractions, n, cut_threshold, offsets, photometric=frames is not None,
               flow_record=read_record(flow_dir / FLOW_RECORD))


def masks_are_current(clip: ClipPaths, offsets: Sequence[int] = (1,), cut_threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether ``clip.masks`` holds complete masks made by :func:`compute_masks` from the clip's
    current flow (its ``flow_settings.json``) with these offsets and threshold, photometric cuts
    (``frames_dir`` given). The test is :func:`styleflow.io.records.record_matches` on ``cuts.json``,
    which is written last."""
    try:
        n = len(list_frames(clip.frames))
    except StyleflowError:
        return False
    flow = read_record(clip.flow / FLOW_RECORD)
    wanted = {"threshold": cut_threshold, "offsets": list(check_offsets(offsets)), "frame_count": n,
              "photometric_tolerance": PHOTOMETRIC_TOLERANCE, "flow_record": flow}
    return flow is not None and record_matches(clip.cuts, wanted, keys=wanted)


def _store(clip: ClipPaths, j: int, i: int, mask: np.ndarray | None, cuts: list[int] | None) -> None:
    if mask is None:  # across a cut: nothing is reliable
        shape = read_flow(clip.backward(max(i, j), min(i, j))).shape[:2]
        mask = np.zeros(shape, np.uint8)
    write_pgm(clip.mask(j, i), mask)

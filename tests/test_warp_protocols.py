"""The warping error's two masking protocols and the long-term error, each against an independent
per-pixel implementation on fixed flows and frames (issue 25, items 3 and 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from styleflow.eval.metrics import long_term_column, score_clip
from styleflow.eval.warping import lai_occlusion, warp_error_pair, warping_errors

H, W = 12, 14


def fixed_case(seed: int = 3):
    """Two frames and a forward/backward flow pair with occlusions, motion boundaries and
    pixels that leave the frame, so that every branch of both masks is taken."""
    rng = np.random.default_rng(seed)
    prev = rng.random((H, W, 3)).astype(np.float32)
    cur = rng.random((H, W, 3)).astype(np.float32)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    fwd = np.stack([1.3 + 0.05 * y, -0.7 + 0.04 * x], axis=-1).astype(np.float32)
    fwd[3:7, 4:9] += np.array([2.5, 1.0], np.float32)  # a moving block: motion boundaries
    bwd = (-fwd + rng.normal(0, 0.05, fwd.shape)).astype(np.float32)
    bwd[8:11, 2:6] = np.array([3.0, -2.0], np.float32)  # inconsistent: occluded
    return prev, cur, fwd, bwd


# ------------------------------------------------------------ independent implementations


def resample2d(img: np.ndarray, flow: np.ndarray, y: int, x: int) -> np.ndarray:
    """flownet2-pytorch's Resample2d kernel (kernel_size 1), one output pixel: alpha and beta from
    the unclamped position, the four indices clamped to the image."""
    h, w = img.shape[:2]
    xf, yf = x + float(flow[y, x, 0]), y + float(flow[y, x, 1])
    alpha, beta = xf - math.floor(xf), yf - math.floor(yf)
    xl, xr = max(min(math.floor(xf), w - 1), 0), max(min(math.floor(xf) + 1, w - 1), 0)
    yt, yb = max(min(math.floor(yf), h - 1), 0), max(min(math.floor(yf) + 1, h - 1), 0)
    i = img.astype(np.float64)
    return ((1 - alpha) * (1 - beta) * i[yt, xl] + alpha * (1 - beta) * i[yt, xr]
            + (1 - alpha) * beta * i[yb, xl] + alpha * beta * i[yb, xr])


def lai_reference(prev, cur, fwd, bwd) -> tuple[float, np.ndarray]:
    """evaluate_WarpError.py for one pair, with utils.detect_occlusion(bw_flow, fw_flow)."""
    h, w = fwd.shape[:2]
    occ = np.zeros((h, w), bool)
    for yy in range(h):
        for xx in range(w):
            f = fwd[yy, xx].astype(np.float64)
            b = resample2d(bwd, fwd, yy, xx)
            s = f + b
            m1 = s @ s > 0.01 * (b @ b + f @ f) + 0.5
            g = 0.0
            for c in range(2):
                dx = float(fwd[yy, xx, c]) - float(fwd[yy, xx + 1, c]) if xx < w - 1 else 0.0
                dy = float(fwd[yy, xx, c]) - float(fwd[yy + 1, xx, c]) if yy < h - 1 else 0.0
                g += dx * dx + dy * dy
            m2 = g > 0.01 * (f @ f) + 0.002
            occ[yy, xx] = m1 or m2
    total, count = 0.0, 0
    for yy in range(h):
        for xx in range(w):
            if not occ[yy, xx]:
                d = resample2d(cur, fwd, yy, xx) - prev[yy, xx].astype(np.float64)
                total += float(d @ d)
                count += 3
    return total / (count if count else h * w * 3), occ


def bilinear_at(img: np.ndarray, px: float, py: float) -> np.ndarray:
    h, w = img.shape[:2]
    x0, y0 = min(math.floor(px), w - 2), min(math.floor(py), h - 2)
    ax, ay = px - x0, py - y0
    i = img.astype(np.float64)
    return ((1 - ax) * (1 - ay) * i[y0, x0] + ax * (1 - ay) * i[y0, x0 + 1]
            + (1 - ax) * ay * i[y0 + 1, x0] + ax * ay * i[y0 + 1, x0 + 1])


def ruder_reference(prev, cur, fwd, bwd) -> tuple[float, np.ndarray]:
    """consistencyChecker.cpp without its blur, on frame t−1's grid (its "backward" flow is our
    forward flow t−1 → t), then the masked mean squared difference over the three channels."""
    h, w = fwd.shape[:2]
    reliable = np.zeros((h, w), bool)
    f64 = fwd.astype(np.float64)

    def mirrored(yy, xx):
        return f64[min(max(yy, 0), h - 1) if 0 <= yy < h else (0 if yy < 0 else h - 1),
                   min(max(xx, 0), w - 1) if 0 <= xx < w else (0 if xx < 0 else w - 1)]

    for yy in range(h):
        for xx in range(w):
            u = f64[yy, xx]
            bx, by = xx + u[0], yy + u[1]
            if math.floor(bx) < 0 or math.floor(bx) + 1 >= w or math.floor(by) < 0 or math.floor(by) + 1 >= h:
                continue
            v = bilinear_at(bwd, bx, by)
            cx, cy = bx + v[0], by + v[1]
            if (cx - xx) ** 2 + (cy - yy) ** 2 >= 0.01 * (u @ u + v @ v) + 0.5:
                continue
            dx = 0.5 * (mirrored(yy, xx + 1) - mirrored(yy, xx - 1))
            dy = 0.5 * (mirrored(yy + 1, xx) - mirrored(yy - 1, xx))
            if dx @ dx + dy @ dy > 0.01 * (u @ u) + 0.002:
                continue
            reliable[yy, xx] = True
    total = 0.0
    for yy, xx in zip(*np.nonzero(reliable)):
        d = bilinear_at(cur, xx + f64[yy, xx, 0], yy + f64[yy, xx, 1]) - prev[yy, xx].astype(np.float64)
        total += float(d @ d)
    return total / (3 * reliable.sum()), reliable


# ------------------------------------------------------------ tests


@pytest.mark.parametrize("seed", [3, 11])
def test_lai_protocol_matches_their_evaluation_code(seed: int) -> None:
    prev, cur, fwd, bwd = fixed_case(seed)
    want, occ = lai_reference(prev, cur, fwd, bwd)
    assert 0.1 < occ.mean() < 0.9  # both kinds of pixel are present: the test can fail
    np.testing.assert_array_equal(lai_occlusion(fwd, bwd), occ)
    got, frac = warp_error_pair(prev, cur, fwd, bwd, protocol="lai")
    assert got == pytest.approx(want, abs=1e-6, rel=1e-6)
    assert frac == pytest.approx(1 - occ.mean())


def test_lai_protocol_counts_pixels_that_leave_the_frame_and_scores_an_empty_mask_zero() -> None:
    prev, cur, _, _ = fixed_case()
    shift = np.zeros((H, W, 2), np.float32)
    shift[..., 0] = 3.0  # a pure pan: the right 3 columns leave the frame but pass Lai's check
    back = -shift
    got, frac = warp_error_pair(prev, cur, shift, back, protocol="lai")
    assert frac == 1.0 and got == pytest.approx(lai_reference(prev, cur, shift, back)[0], abs=1e-6)
    ref_err, ref_frac = warp_error_pair(prev, cur, shift, back)  # the reference check drops them
    assert ref_frac < 0.8 and not math.isclose(ref_err, got)
    wild = np.full((H, W, 2), 40.0, np.float32)
    assert warp_error_pair(prev, cur, wild, wild, protocol="lai") == (0.0, 0.0)  # their N = H·W·3
    assert math.isnan(warp_error_pair(prev, cur, wild, wild)[0])


@pytest.mark.parametrize("seed", [3, 11])
def test_reference_protocol_matches_the_consistency_checker(seed: int) -> None:
    prev, cur, fwd, bwd = fixed_case(seed)
    want, reliable = ruder_reference(prev, cur, fwd, bwd)
    assert 0.1 < reliable.mean() < 0.9
    got, frac = warp_error_pair(prev, cur, fwd, bwd)
    assert frac == pytest.approx(reliable.mean())
    assert got == pytest.approx(want, abs=1e-6, rel=1e-6)


def test_unknown_protocol_is_refused() -> None:
    prev, cur, fwd, bwd = fixed_case()
    with pytest.raises(Exception, match="protocol 'x'"):
        warp_error_pair(prev, cur, fwd, bwd, protocol="x")


def test_long_term_error_pairs_t_with_t_plus_k_and_is_empty_for_short_clips() -> None:
    rng = np.random.default_rng(0)
    frames = [rng.random((16, 18, 3)).astype(np.float32) for _ in range(4)]
    zero = np.zeros((16, 18, 2), np.float32)
    flows = [(zero, zero)] * 3
    long_flows = {2: [(zero, zero)] * 2, 10: []}
    rows, summary = score_clip(frames, frames, flows=flows, losses=False, long_offsets=(2, 10),
                               long_flows=long_flows)
    k2, k10 = long_term_column(2), long_term_column(10)
    want = [warp_error_pair(frames[t], frames[t + 2], zero, zero)[0] for t in range(2)]
    assert [r[k2] for r in rows[2:]] == pytest.approx(want) and all(math.isnan(r[k2]) for r in rows[:2])
    assert summary[k2] == pytest.approx(np.mean(want)) and want[0] > 0.05  # different random frames
    assert all(math.isnan(r[k10]) for r in rows) and math.isnan(summary[k10])
    assert warping_errors(frames, [], offset=10) == []
    assert summary["warp_error_lai"] > 0 and summary["warp_protocol"] == "reference"

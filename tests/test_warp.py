"""Backward warping: out(x) = image(x + flow(x)), bilinear, with an inside mask."""

from __future__ import annotations

import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.motion.warp import warp


def _ramp(h: int = 20, w: int = 30) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x / w, y / h, (x + 2 * y) / (w + 2 * h)], axis=2)


@pytest.mark.parametrize("shift", [(3.0, -2.0), (0.25, 0.5), (-1.75, 1.4)])
def test_constant_shift_is_recovered_exactly_on_a_linear_image(shift):
    img = _ramp()
    h, w = img.shape[:2]
    flow = np.empty((h, w, 2), np.float32)
    flow[..., 0], flow[..., 1] = shift
    out, inside = warp(img, flow)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sx, sy = x + shift[0], y + shift[1]
    expected = np.stack([sx / w, sy / h, (sx + 2 * sy) / (w + 2 * h)], axis=2)
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_allclose(out[inside], expected[inside], atol=1e-5)
    np.testing.assert_array_equal(inside, (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1))


def test_integer_shift_of_a_texture_and_grayscale_input():
    rng = np.random.default_rng(1)
    img = rng.random((16, 24)).astype(np.float32)
    flow = np.zeros((16, 24, 2), np.float32)
    flow[..., 0] = 2  # sample 2 px to the right
    out, inside = warp(img, flow)
    assert out.shape == (16, 24)
    np.testing.assert_allclose(out[:, :-2], img[:, 2:], atol=1e-6)
    assert inside[:, :-2].all() and not inside[:, -2:].any()


def test_outside_and_nan_are_reported_not_smeared():
    img = _ramp(8, 8)
    flow = np.zeros((8, 8, 2), np.float32)
    flow[0, 0] = (-5, 0)
    flow[1, 1] = (np.nan, 0)
    out, inside = warp(img, flow)
    assert not inside[0, 0] and not inside[1, 1] and inside[2:, 2:].all()
    assert np.isfinite(out).all()


def test_size_mismatch_is_an_error():
    with pytest.raises(StyleflowError, match="compute the flow at the image's resolution"):
        warp(_ramp(8, 8), np.zeros((8, 9, 2), np.float32))


def test_bicubic_keeps_a_texture_sharper_than_bilinear_and_stays_in_range():
    """Half-pixel shift there and back: bilinear blurs a smooth random texture twice, bicubic much
    less (measured 0.012 vs 0.0035); bicubic never overshoots the image's value range; integer
    shifts are exact."""
    import cv2

    rng = np.random.default_rng(2)
    img = cv2.GaussianBlur(rng.random((40, 50, 3)).astype(np.float32), (0, 0), 1.0)
    there = np.zeros((40, 50, 2), np.float32)
    there[..., 0] = 0.5
    back = -there
    errors = {}
    for method in ("bilinear", "bicubic"):
        moved, _ = warp(img, there, method)
        restored, _ = warp(moved, back, method)
        assert moved.min() >= img.min() and moved.max() <= img.max()
        errors[method] = np.abs(restored - img)[4:-4, 4:-4].mean()
    assert errors["bicubic"] < 0.5 * errors["bilinear"]
    shift = np.zeros((40, 50, 2), np.float32)
    shift[..., 1] = -3
    out, inside = warp(img, shift, "bicubic")
    np.testing.assert_allclose(out[3:], img[:-3], atol=1e-6)
    assert not inside[:3].any() and inside[3:].all()


def test_unknown_interpolation_is_an_error():
    with pytest.raises(StyleflowError, match="interpolation 'nearest'"):
        warp(_ramp(), np.zeros((20, 30, 2), np.float32), "nearest")

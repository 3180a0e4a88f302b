"""The reference consistency checker: parity with the reference's own masks, and its rules."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.io.flo import read_flo
from styleflow.motion.consistency import (
    combine_closest_first,
    consistency_mask,
    gaussian_kernel,
    raw_consistency,
    read_mask,
    write_pgm,
)

PAIRS = [(1, 2), (2, 3), (3, 4), (4, 5)]


@pytest.mark.parametrize("i, j", PAIRS)
@pytest.mark.parametrize("direction", ["later_against_earlier", "earlier_against_later"])
def test_parity_with_reference_masks(shared_data, i, j, direction):
    ref_dir = shared_data / "reference/artistic_videos_example/deepflow"
    forward = read_flo(ref_dir / f"forward_{i}_{j}.flo")  # i → j, on i's grid
    backward = read_flo(ref_dir / f"backward_{j}_{i}.flo")  # j → i, on j's grid
    if direction == "later_against_earlier":  # reliable_j_i: mask on j's grid
        mine, ref = consistency_mask(backward, forward), cv2.imread(str(ref_dir / f"reliable_{j}_{i}.pgm"), -1)
    else:  # reliable_i_j: mask on i's grid, the roles swapped
        mine, ref = consistency_mask(forward, backward), cv2.imread(str(ref_dir / f"reliable_{i}_{j}.pgm"), -1)
    assert mine.dtype == np.uint8 and mine.shape == ref.shape == (350, 450)
    diff = np.abs(mine.astype(int) - ref.astype(int))
    assert diff.mean() <= 1.0
    assert (diff <= 2).mean() >= 0.99
    assert mine.max() == ref.max() == 254  # blur + truncation: fully reliable reads 254


def test_kernel_is_the_reference_5_tap_gaussian():
    k = gaussian_kernel()
    assert k.shape == (5,) and abs(float(k.sum()) - 1) < 1e-6
    np.testing.assert_allclose(k / k[2], np.exp(-np.arange(-2, 3) ** 2 / (2 * 0.8**2)), rtol=1e-6)


def _const(h, w, u, v):
    f = np.zeros((h, w, 2), np.float32)
    f[..., 0], f[..., 1] = u, v
    return f


def test_consistent_translation_is_reliable_except_where_it_leaves_the_frame():
    h, w = 24, 32
    backward, forward = _const(h, w, -3, 0), _const(h, w, 3, 0)  # j → i moves left by 3
    raw = raw_consistency(backward, forward)
    assert (raw[:-1, 3:] == 255).all()  # inside with a full bilinear neighbourhood
    assert (raw[:, :3] == 0).all()  # x - 3 < 0: outside
    # The reference needs floor(b) + 1 inside the image: with v = 0 the last row is 0 too.
    assert (raw[-1] == 0).all()
    mask = consistency_mask(backward, forward)
    assert (mask[:-3, 6:-3] == 254).all()
    assert set(np.unique(consistency_mask(backward, forward, smooth=False))) <= {0, 255}


def test_inconsistent_flow_is_occluded_and_spreads():
    h, w = 24, 32
    backward, forward = _const(h, w, 0, 0), _const(h, w, 0, 0)
    forward[10:14, 10:14] = (4, 0)  # forward disagrees there
    raw = raw_consistency(backward, forward)
    assert (raw[10:14, 10:14] == -255).all() and (raw[:5, :-1] == 255).all()
    mask = consistency_mask(backward, forward)
    assert mask[12, 12] == 0 and mask[12, 9] < 254  # the negative value spreads through the blur
    assert mask[2, 2] == 254


def test_motion_boundaries_are_unreliable():
    h, w = 24, 32
    backward = _const(h, w, 0, 0)
    backward[:, 16:] = (1, 0)
    forward = _const(h, w, 0, 0)
    forward[:, 17:] = (-1, 0)
    raw = raw_consistency(backward, forward)
    assert (raw[:, 15:17] == 0).all()  # the jump in w_b
    assert (raw[:-1, 5] == 255).all() and (raw[:-1, 25] == 255).all()


def test_shape_mismatch_is_an_error():
    with pytest.raises(StyleflowError, match="same pair of frames"):
        consistency_mask(_const(8, 8, 0, 0), _const(8, 9, 0, 0))


def test_combine_closest_first_matches_the_reference_rule():
    m1 = np.array([[255, 0, 0, 128]], np.uint8)  # closest (j-1)
    m2 = np.array([[255, 255, 0, 255]], np.uint8)  # j-2
    m3 = np.array([[1.0, 1.0, 1.0, 1.0]], np.float32)  # j-4, already float
    c1, c2, c3 = combine_closest_first([m1, m2, m3])
    np.testing.assert_allclose(c1, [[1, 0, 0, 128 / 255]], atol=1e-6)
    np.testing.assert_allclose(c2, [[0, 1, 0, 1 - 128 / 255]], atol=1e-6)
    np.testing.assert_allclose(c3, [[0, 0, 1, 0]], atol=1e-6)
    assert all(c.dtype == np.float32 for c in (c1, c2, c3))
    with pytest.raises(StyleflowError, match="differs"):
        combine_closest_first([m1, np.zeros((2, 4), np.uint8)])


def test_pgm_round_trip(tmp_path):
    mask = (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4)
    write_pgm(tmp_path / "m.pgm", mask)
    assert (tmp_path / "m.pgm").read_bytes().startswith(b"P5\n4 3\n255\n")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.pgm"), mask)
    (tmp_path / "empty.pgm").write_bytes(b"")
    with pytest.raises(StyleflowError, match="empty"):
        read_mask(tmp_path / "empty.pgm")

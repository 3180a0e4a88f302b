"""Middlebury .flo reading/writing and validation."""

from __future__ import annotations

import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.io.flo import FLO_MAGIC, is_valid_flo, read_flo, write_flo


def _flow(h: int = 5, w: int = 7) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((h, w, 2)) * 10).astype(np.float32)


def test_round_trip_is_exact_and_layout_is_middlebury(tmp_path):
    flow = _flow()
    path = tmp_path / "a.flo"
    write_flo(path, flow)
    raw = path.read_bytes()
    assert np.frombuffer(raw[:4], "<f4")[0] == np.float32(FLO_MAGIC)
    assert tuple(np.frombuffer(raw[4:12], "<i4")) == (7, 5)  # width, then height
    assert np.frombuffer(raw[12:20], "<f4").tolist() == [flow[0, 0, 0], flow[0, 0, 1]]  # u, v interleaved
    back = read_flo(path)
    assert back.dtype == np.float32 and back.shape == (5, 7, 2)
    np.testing.assert_array_equal(back, flow)
    assert is_valid_flo(path, (5, 7)) and not is_valid_flo(path, (7, 5))
    assert [p.name for p in tmp_path.iterdir()] == ["a.flo"]  # no temporary left


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda raw: b"", "empty"),
        (lambda raw: raw[:8], "only 8 bytes"),
        (lambda raw: b"PIEX" + raw[4:], "magic"),
        (lambda raw: raw[:-4], "truncated"),
        (lambda raw: raw + b"\0\0\0\0", "longer"),
        (lambda raw: raw[:4] + np.array([-3, 5], "<i4").tobytes() + raw[12:], "corrupt .flo header"),
    ],
)
def test_corrupt_files_are_rejected_naming_the_file(tmp_path, mutate, message):
    good = tmp_path / "good.flo"
    write_flo(good, _flow())
    bad = tmp_path / "bad.flo"
    bad.write_bytes(mutate(good.read_bytes()))
    with pytest.raises(StyleflowError, match=message) as err:
        read_flo(bad)
    assert str(bad) in str(err.value)
    assert not is_valid_flo(bad)


def test_missing_file_and_bad_arrays(tmp_path):
    with pytest.raises(StyleflowError, match="no such flow file"):
        read_flo(tmp_path / "missing.flo")
    with pytest.raises(StyleflowError, match=r"\(H, W, 2\)"):
        write_flo(tmp_path / "x.flo", np.zeros((4, 4, 3), np.float32))
    assert not (tmp_path / "x.flo").exists()


def test_reads_the_reference_files(shared_data):
    flow = read_flo(shared_data / "reference/artistic_videos_example/deepflow/forward_1_2.flo")
    assert flow.shape == (350, 450, 2) and np.isfinite(flow).all()


# ---------------------------------------------------------------- the compact format (KITTI 16-bit PNG)


def test_png_round_trip_within_1_128_px_and_kitti_layout(tmp_path):
    from styleflow.io.flo import PNG_MAX_FLOW, is_valid_flow, read_flow, write_flow

    flow = np.clip(_flow(6, 9) * 20, -500, 500)  # large and small vectors
    flow[0, 0] = [PNG_MAX_FLOW, -512.0]  # the ends of the range
    path = tmp_path / "a.png"
    write_flow(path, flow)
    back = read_flow(path)
    assert back.dtype == np.float32 and back.shape == (6, 9, 2)
    err = np.abs(back - flow)
    assert err.max() <= 1 / 128 + 1e-6 and err.max() > 0  # quantised to 1/64 px, not stored exactly
    import cv2

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # BGR: valid, v, u
    assert raw.dtype == np.uint16 and raw.shape == (6, 9, 3)
    np.testing.assert_array_equal(raw[..., 2], np.rint(flow[..., 0] * 64 + 32768).clip(0, 65535))
    np.testing.assert_array_equal(raw[..., 1], np.rint(flow[..., 1] * 64 + 32768).clip(0, 65535))
    assert (raw[..., 0] == 1).all()
    assert is_valid_flow(path, (6, 9)) and not is_valid_flow(path, (9, 6))
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left


def test_png_non_finite_vectors_read_back_as_nan(tmp_path):
    from styleflow.io.flo import read_flow, write_flow

    flow = _flow()
    flow[1, 2, 0] = np.nan
    flow[3, 4, 1] = np.inf
    flow[4, 0] = [-np.inf, np.nan]
    write_flow(tmp_path / "n.png", flow)
    back = read_flow(tmp_path / "n.png")
    bad = ~np.isfinite(flow).all(axis=2)
    assert np.isnan(back[bad]).all()  # both components of an invalid vector
    assert np.isfinite(back[~bad]).all()
    assert np.abs(back[~bad] - flow[~bad]).max() <= 1 / 128 + 1e-6


def test_png_out_of_range_flow_is_refused_and_nothing_written(tmp_path):
    from styleflow.io.flo import write_flow

    flow = _flow()
    flow[2, 2, 1] = -600.0
    with pytest.raises(StyleflowError, match=r"big\.png: flow of 600\.0 px does not fit.*flow format: flo"):
        write_flow(tmp_path / "big.png", flow)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda raw: b"", "is empty"),
        (lambda raw: raw[:-12], "truncated or corrupt"),  # no IEND chunk
        (lambda raw: raw[: len(raw) // 2], "truncated or corrupt"),
        (lambda raw: b"not a png at all", "truncated or corrupt"),
        ("8bit", "not a KITTI flow PNG"),
    ],
)
def test_bad_png_flow_files_give_one_line_errors_naming_the_file(tmp_path, content, message):
    import cv2

    from styleflow.io.flo import is_valid_flow, read_flow, write_flow

    good = tmp_path / "good.png"
    write_flow(good, _flow())
    bad = tmp_path / "bad.png"
    if content == "8bit":
        cv2.imwrite(str(bad), np.zeros((5, 7, 3), np.uint8))
    else:
        bad.write_bytes(content(good.read_bytes()))
    with pytest.raises(StyleflowError, match=message) as err:
        read_flow(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert not is_valid_flow(bad)
    with pytest.raises(StyleflowError, match="no such flow file"):
        read_flow(tmp_path / "missing.png")
    with pytest.raises(StyleflowError, match=r"x\.txt: not a flow file name"):
        read_flow(tmp_path / "x.txt")


def test_clip_paths_find_either_format(tmp_path):
    from styleflow.io.flo import write_flow
    from styleflow.io.layout import ClipPaths

    reader = ClipPaths(tmp_path, tmp_path, tmp_path)
    assert reader.forward(1, 2).name == "forward_000001_000002.flo"  # nothing there: the .flo name
    write_flow(tmp_path / "forward_000001_000002.png", _flow())
    assert reader.forward(1, 2).name == "forward_000001_000002.png"
    assert ClipPaths(tmp_path, tmp_path, tmp_path, flow_format="flo").backward(2, 1).suffix == ".flo"
    with pytest.raises(StyleflowError, match="flow format 'kitti'"):
        ClipPaths(tmp_path, tmp_path, tmp_path, flow_format="kitti")

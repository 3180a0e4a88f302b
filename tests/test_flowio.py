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

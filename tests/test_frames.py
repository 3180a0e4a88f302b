"""Frame extraction (formats, options, metadata, bad input) and H.264 encoding."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.io.encode import encode_arrays, encode_video
from styleflow.io.frames import extract_frames, read_meta
from styleflow.io.layout import list_frames
from styleflow.io.video import ffmpeg_exe, probe_video


def grey_frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """Frame k (0-based) is a uniform grey of level 20 + 15 k, so it can be recognised after decoding."""
    return [np.full((h, w, 3), 20 + 15 * k, np.uint8) for k in range(n)]


def level(path) -> float:
    return float(cv2.imread(str(path)).mean())


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "grey.mp4"
    encode_arrays(grey_frames(12), path, fps=10)
    return path


def test_encode_is_h264_yuv420p_and_atomic(tmp_path, clip):
    info = probe_video(clip)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert (info["width"], info["height"], info["fps"]) == (64, 48, 10.0)
    # a folder of frames, odd size → padded to even
    frames = tmp_path / "frames"
    frames.mkdir()
    for k, img in enumerate(grey_frames(3, 15, 21), start=1):
        cv2.imwrite(str(frames / f"frame_{k:06d}.png"), img)
    encode_video(frames, tmp_path / "odd.mp4", fps=24)
    info = probe_video(tmp_path / "odd.mp4")
    assert (info["codec"], info["pix_fmt"], info["width"], info["height"]) == ("h264", "yuv420p", 22, 16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "odd.mp4"]


def test_extract_all_frames_with_meta(tmp_path, clip):
    out = tmp_path / "f"
    meta = extract_frames(clip, out, height=24, progress=False)
    paths = list_frames(out)
    assert [p.name for p in paths][:2] == ["frame_000001.png", "frame_000002.png"]
    assert len(paths) == 12 == meta["frame_count"]
    assert (meta["width"], meta["height"]) == (32, 24)
    assert (meta["source_width"], meta["source_height"], meta["fps"]) == (64, 48, 10.0)
    assert read_meta(out) == json.loads((out / "meta.json").read_text())
    levels = [level(p) for p in paths]
    assert levels == sorted(levels)  # name order is time order
    assert abs(levels[0] - 20) < 3 and abs(levels[-1] - (20 + 15 * 11)) < 3


def test_start_step_max_frames_and_even_size(tmp_path, clip):
    meta = extract_frames(clip, tmp_path / "f", height=25, start=2, step=3, max_frames=3, progress=False)
    paths = list_frames(tmp_path / "f")
    assert len(paths) == 3 and meta["fps"] == pytest.approx(10 / 3)
    assert (meta["start"], meta["step"]) == (2, 3)
    assert meta["height"] % 2 == 0 and meta["width"] % 2 == 0
    for k, p in enumerate(paths):  # source frames 2, 5, 8
        assert abs(level(p) - (20 + 15 * (2 + 3 * k))) < 3


def test_reextraction_replaces_the_folder(tmp_path, clip):
    extract_frames(clip, tmp_path / "f", 24, progress=False)
    extract_frames(clip, tmp_path / "f", 24, max_frames=4, progress=False)
    assert len(list_frames(tmp_path / "f")) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.parametrize("suffix, codec", [(".avi", "mpeg4"), (".webm", "libvpx-vp9"), (".mov", "libx264")])
def test_other_containers_and_codecs(tmp_path, clip, suffix, codec):
    other = tmp_path / f"clip{suffix}"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(clip), "-c:v", codec, "-b:v", "200k", str(other)],
                   check=True)
    meta = extract_frames(other, tmp_path / "f", 24, progress=False)
    assert meta["frame_count"] == 12


def _make_bad(tmp_path, kind, clip):
    p = tmp_path / f"bad_{kind}.mp4"
    if kind == "missing":
        return p
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("this is not a video\n")
    elif kind == "truncated":
        p.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    elif kind == "one_frame":
        encode_arrays(grey_frames(1), p, fps=10)
    elif kind == "folder":
        p.mkdir()
    return p


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "no such video file"),
        ("empty", "the file is empty"),
        ("text", "not a video that FFmpeg can read"),
        ("truncated", "truncated or corrupt"),
        ("one_frame", "only 1 frame"),
        ("folder", "is a folder"),
    ],
)
def test_bad_videos_leave_nothing(tmp_path, clip, kind, message):
    bad = _make_bad(tmp_path, kind, clip)
    out = tmp_path / "out"
    with pytest.raises(StyleflowError, match=message) as err:
        extract_frames(bad, out, 24, progress=False)
    assert str(bad) in str(err.value)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bad_options(tmp_path, clip):
    with pytest.raises(StyleflowError, match="--height"):
        extract_frames(clip, tmp_path / "f", 3)
    with pytest.raises(StyleflowError, match="--step"):
        extract_frames(clip, tmp_path / "f", 24, step=0)
    with pytest.raises(StyleflowError, match="--max-frames"):
        extract_frames(clip, tmp_path / "f", 24, max_frames=1)
    with pytest.raises(StyleflowError, match="no frames from frame 50"):
        extract_frames(clip, tmp_path / "f", 24, start=50, progress=False)
    assert not (tmp_path / "f").exists()


def test_encode_bad_input_leaves_nothing(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "frame_000001.png"), grey_frames(1)[0])
    cv2.imwrite(str(frames / "frame_000002.png"), grey_frames(1, 40, 64)[0])
    with pytest.raises(StyleflowError, match="frame_000002.png: frame is 64x40 but frame_000001.png is 64x48"):
        encode_video(frames, tmp_path / "x.mp4", fps=10)
    with pytest.raises(StyleflowError, match="--fps"):
        encode_video(frames, tmp_path / "x.mp4", fps=0)
    with pytest.raises(StyleflowError, match="no such folder of frames"):
        encode_video(tmp_path / "nothing", tmp_path / "x.mp4", fps=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_real_footage(tmp_path, shared_data):
    meta = extract_frames(shared_data / "videos/sintel_film_moviepy_example3.mp4", tmp_path / "f", 64,
                          step=4, max_frames=5, progress=False)
    assert (meta["width"], meta["height"], meta["frame_count"]) == (114, 64, 5)
    assert meta["source_width"] == 854 and meta["fps"] == pytest.approx(24 / 4)

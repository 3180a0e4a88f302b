"""The one video decoder (styleflow.io.video): orientation, colours, timestamps, repeats, failures.

Every clip is made here with the bundled FFmpeg, so the expected pictures and times are known.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from styleflow.cli.main import main
from styleflow.errors import StyleflowError
from styleflow.eval.metrics import read_video
from styleflow.io.encode import encode_arrays
from styleflow.io.frames import extract_frames, frame_times, read_meta
from styleflow.io.images import write_image
from styleflow.io.layout import list_frames
from styleflow.io.video import VideoReader, ffmpeg_exe, probe_video


def ffmpeg(*args: str, data: bytes | None = None) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], input=data, check=True)


def distinct_frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """Frame k: a smooth pattern shifted by 3 k pixels plus a grey level 20 + 9 k (no two alike)."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for k in range(n):
        img = np.stack([(xx + 3 * k) * 3 % 256, (yy * 4) % 256, np.full_like(xx, 20 + 9 * k)], axis=-1)
        out.append(img.astype(np.uint8))
    return out


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float64)


@pytest.fixture(scope="module")
def lossless_src(tmp_path_factory) -> Path:
    """12 distinct 64x48 frames at 15 fps, lossless H.264 (so repeats stay bit-identical)."""
    path = tmp_path_factory.mktemp("src") / "src.mkv"
    raw = b"".join(f.tobytes() for f in distinct_frames(12))
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x48", "-r", "15", "-i", "-",
           "-c:v", "libx264rgb", "-qp", "0", str(path), data=raw)
    return path


# ---------------------------------------------------------------- orientation


def test_rotated_phone_clip_is_extracted_upright(tmp_path):
    frames = distinct_frames(3)
    for f in frames:
        f[:12, :16] = (250, 30, 30)  # red block in the stored picture's top-left corner
    stored = tmp_path / "stored.mp4"
    encode_arrays(frames, stored, fps=10)
    phone = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", "-90", "-i", str(stored), "-c", "copy", str(phone))  # "rotate 90" tag

    info = probe_video(phone)
    assert info["rotation"] == 90 and (info["display_width"], info["display_height"]) == (48, 64)
    meta = extract_frames(phone, tmp_path / "f", 64, progress=False)
    assert (meta["width"], meta["height"], meta["rotation"]) == (48, 64, 90)
    got = rgb(tmp_path / "f" / "frame_000001.png")
    clockwise = np.rot90(frames[0], k=-1).astype(np.float64)  # what a player shows
    assert np.abs(got - clockwise).mean() < 4
    assert np.abs(got - np.rot90(frames[0], k=1)).mean() > 20  # the other way round is clearly wrong
    assert got[2:10, 40:46, 0].mean() > 200  # the red block is now top-right
    decoded = read_video(phone)  # metrics read it the same way
    assert decoded[0].shape == (64, 48, 3) and np.abs(decoded[0] * 255 - clockwise).mean() < 4


# ---------------------------------------------------------------- colours

PATCHES = np.array([[200, 60, 30], [30, 160, 220], [128, 128, 128], [240, 230, 40]], np.float64)


def _yuv_codes(rgb_: np.ndarray, matrix: str, full: bool, bits: int) -> np.ndarray:
    """Y, Cb, Cr codes of RGB colours (0..255) by the textbook formulas (ITU-R BT.601/709)."""
    kr, kb = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}[matrix]
    r, g, b = (rgb_ / 255.0).T
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb, cr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    scale = 2 ** (bits - 8)
    if full:
        codes = (y * 255, cb * 255 + 128, cr * 255 + 128)
    else:
        codes = (16 + 219 * y, 128 + 224 * cb, 128 + 224 * cr)
    return np.stack(codes, axis=1) * scale


def _patch_clip(path: Path, matrix: str, full: bool, bits: int, codec: str) -> None:
    h, w = 32, 128
    planes = np.zeros((3, h, w))
    for i, code in enumerate(_yuv_codes(PATCHES, matrix, full, bits)):
        planes[:, :, 32 * i : 32 * (i + 1)] = code[:, None, None]
    raw = np.round(planes).astype(np.uint16 if bits > 8 else np.uint8).tobytes() * 3
    tag = ["-color_range", "pc" if full else "tv", "-colorspace", {"bt601": "smpte170m", "bt709": "bt709"}[matrix]]
    out_fmt = "yuv420p10le" if bits > 8 else ("yuvj420p" if full else "yuv420p")
    lossless = ["-qp", "0"] if codec == "libx264" else ["-x265-params", "lossless=1:log-level=error"]
    ffmpeg("-f", "rawvideo", "-pix_fmt", "yuv444p10le" if bits > 8 else "yuv444p", "-s", f"{w}x{h}", "-r", "10",
           *tag, "-i", "-", "-c:v", codec, *lossless, "-pix_fmt", out_fmt, *tag, str(path), data=raw)


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("full", [False, True], ids=["tv", "pc"])
@pytest.mark.parametrize("bits, codec", [(8, "libx264"), (10, "libx264"), (10, "libx265")])
def test_known_colour_patch_decodes_to_its_rgb(tmp_path, matrix, full, bits, codec):
    path = tmp_path / "patch.mp4"
    try:
        _patch_clip(path, matrix, full, bits, codec)
    except subprocess.CalledProcessError:
        pytest.skip(f"the bundled FFmpeg cannot encode {bits}-bit {codec}")
    meta = extract_frames(path, tmp_path / "f", 32, progress=False, min_frames=1)
    assert meta["color"]["range"] == ("pc" if full else "tv")
    assert meta["color"]["pix_fmt"].endswith("10le") == (bits == 10)
    assert meta["decode_matrix"] == matrix
    img = rgb(tmp_path / "f" / "frame_000001.png")
    got = np.array([img[8:24, 32 * i + 8 : 32 * i + 24].reshape(-1, 3).mean(0) for i in range(4)])
    assert np.abs(got - PATCHES).max() <= 1.5  # 8-bit rounding of the codes; a wrong range/matrix is off by >5


def test_untagged_sources_use_the_players_matrix():
    from styleflow.io.video import decode_matrix

    assert decode_matrix({"matrix": None}, 480) == "bt601" and decode_matrix({"matrix": None}, 1080) == "bt709"
    assert decode_matrix({"matrix": "bt470bg"}, 1080) == "bt601" and decode_matrix({"matrix": "bt709"}, 240) == "bt709"


# ---------------------------------------------------------------- time

#: Slots (at 15 fps) of the 12 pictures: irregular gaps, 27 slots in all.
SLOTS = [k + k * k // 8 for k in range(12)]  # 0 1 2 4 6 8 10 13 16 19 22 26


def _on_slots(src: Path, dest: Path, *encode: str) -> None:
    ffmpeg("-i", str(src), "-vf", "setpts='(N+floor(N*N/8))/(15*TB)'", *encode, str(dest))


def test_avi_with_repeat_slots_is_read_by_its_timestamps(tmp_path, lossless_src):
    """Like the AVI of issue 14: the container declares 27 slots at 15 fps, 12 carry pictures."""
    avi = tmp_path / "holes.avi"
    _on_slots(lossless_src, avi, "-fps_mode", "passthrough", "-enc_time_base", "1/15", "-c:v", "ffv1")
    assert probe_video(avi)["fps"] == 15.0 and probe_video(avi)["duration"] == pytest.approx(27 / 15, abs=0.01)
    meta = extract_frames(avi, tmp_path / "f", 48, max_frames=100, progress=False)
    assert meta["frame_count"] == 12 and len(list_frames(tmp_path / "f")) == 12
    assert meta["pts"] == pytest.approx([s / 15 for s in SLOTS], abs=1e-3)
    assert meta["end_time"] == pytest.approx(27 / 15, abs=1e-3)
    assert (meta["source_fps"], meta["vfr"], meta["repeats_dropped"]) == (15.0, True, 27 - 12)
    assert meta["fps"] == pytest.approx(12 / (27 / 15))  # mean rate: a constant-rate player keeps the span
    for k, path in enumerate(list_frames(tmp_path / "f")):  # the k-th picture, in order
        assert abs(rgb(path)[..., 2].mean() - (20 + 9 * k)) < 2


def test_duplicated_frames_are_extracted_once(tmp_path):
    """A constant-rate file that stores each held picture again (what ``-fps_mode cfr`` writes)."""
    pictures = distinct_frames(12)
    slots = [pictures[max(k for k, s in enumerate(SLOTS) if s <= t)] for t in range(30)]  # last one held 4 slots
    cfr = tmp_path / "dups.avi"
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x48", "-r", "15", "-i", "-", "-c:v", "ffv1", str(cfr),
           data=b"".join(f.tobytes() for f in slots))
    with VideoReader(cfr, drop_repeats=False) as reader:
        assert sum(1 for _ in reader) == 30  # the file really holds every slot
    meta = extract_frames(cfr, tmp_path / "f", 48, progress=False)
    assert meta["frame_count"] == 12 and meta["repeats_dropped"] == 30 - 12
    assert meta["end_time"] == pytest.approx(30 / 15, abs=1e-3)
    assert meta["pts"] == pytest.approx([s / 15 for s in SLOTS], abs=1e-3)
    frames = read_video(cfr)  # metrics see the same 12 pictures: no zero-motion pair
    assert len(frames) == 12
    assert min(np.abs(a - b).mean() for a, b in zip(frames[:-1], frames[1:])) > 0.01


def test_vfr_mp4_keeps_its_times_and_step_start_count_pictures(tmp_path, lossless_src):
    vfr = tmp_path / "vfr.mp4"
    _on_slots(lossless_src, vfr, "-fps_mode", "passthrough", "-c:v", "libx264", "-qp", "0")
    meta = extract_frames(vfr, tmp_path / "f", 48, start=1, step=2, max_frames=4, progress=False)
    kept = [SLOTS[k] / 15 for k in (1, 3, 5, 7)]
    assert meta["pts"] == pytest.approx(kept, abs=1e-3) and meta["source_start"] == pytest.approx(kept[0], abs=1e-3)
    assert meta["end_time"] == pytest.approx(SLOTS[9] / 15, abs=1e-3)  # the 4th kept frame stands for pictures 7, 8
    assert meta["vfr"] is True
    assert frame_times(read_meta(tmp_path / "f")) == (meta["pts"], meta["end_time"])


def test_phone_like_jittered_times_are_kept(tmp_path, lossless_src):
    jitter = tmp_path / "phone.mp4"
    ffmpeg("-i", str(lossless_src), "-vf", "setpts='(N*6000+mod(N*37,11)*150)/(90000*TB)'", "-fps_mode", "passthrough",
           "-enc_time_base", "1/90000", "-c:v", "libx264", "-qp", "0", str(jitter))
    times = [(k * 6000 + (k * 37 % 11) * 150) / 90000 for k in range(12)]
    meta = extract_frames(jitter, tmp_path / "f", 24, progress=False)
    assert meta["pts"] == pytest.approx(times, abs=1e-3) and meta["frame_count"] == 12
    assert meta["vfr"] is True and meta["repeats_dropped"] == 0
    assert meta["source_fps"] == pytest.approx(11 / (times[-1] - times[0]), rel=0.01)


def test_constant_rate_clip_keeps_its_rate(tmp_path, lossless_src):
    meta = extract_frames(lossless_src, tmp_path / "f", 24, step=3, progress=False)
    assert meta["pts"] == pytest.approx([k / 5 for k in range(4)], abs=1e-3)
    assert (meta["vfr"], meta["repeats_dropped"], meta["source_fps"]) == (False, 0, 15.0)
    assert meta["fps"] == pytest.approx(5.0)
    assert meta["end_time"] == pytest.approx(12 / 15, abs=2e-3)  # Matroska times are whole milliseconds


def test_old_meta_without_times_reads_evenly_spaced():
    assert frame_times({"frame_count": 3, "fps": 10.0}) == ([0.0, 0.1, 0.2], 0.3)


# ---------------------------------------------------------------- sound is described, not decoded


def test_audio_stream_is_recorded(tmp_path, lossless_src):
    with_sound = tmp_path / "tone.mp4"
    ffmpeg("-i", str(lossless_src), "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:duration=0.8",
           "-ac", "2", "-c:v", "libx264", "-c:a", "aac", "-shortest", str(with_sound))
    meta = extract_frames(with_sound, tmp_path / "f", 24, progress=False)
    assert meta["audio"] == {"codec": "aac", "channels": 2, "sample_rate": 48000, "index": 1}
    assert extract_frames(lossless_src, tmp_path / "g", 24, progress=False)["audio"] is None


# ---------------------------------------------------------------- failures


def test_file_that_ends_early_says_how_far_it_got(tmp_path):
    avi = tmp_path / "long.avi"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=15:duration=4", "-c:v", "mpeg4", "-q:v", "3", str(avi))
    cut = tmp_path / "cut.avi"
    cut.write_bytes(avi.read_bytes()[: avi.stat().st_size * 6 // 10])
    with pytest.raises(StyleflowError, match=r"cut\.avi: truncated or corrupt — (\d+) frames decoded, up to ([\d.]+) s") as err:
        extract_frames(cut, tmp_path / "f", 24, progress=False)
    decoded = int(err.value.args[0].split("— ")[1].split(" frames")[0])
    assert 5 < decoded < 60 and len(str(err.value).splitlines()) == 1
    assert not (tmp_path / "f").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_extraction_removes_the_parents_it_made(tmp_path):
    one = tmp_path / "one.mp4"
    encode_arrays(distinct_frames(1), one, fps=10)
    (tmp_path / "kept").mkdir()
    for out in (tmp_path / "new" / "deeper" / "f", tmp_path / "kept" / "f"):
        with pytest.raises(StyleflowError, match="only 1 frame"):
            extract_frames(one, out, 24, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "one.mp4"] and not any((tmp_path / "kept").iterdir())


def test_refused_video_leaves_no_work_folder(tmp_path, capsys):
    one = tmp_path / "one.mp4"
    encode_arrays(distinct_frames(1), one, fps=10)
    style = tmp_path / "style.png"
    write_image(style, np.random.default_rng(0).random((32, 32, 3)).astype(np.float32))
    for video in (one, tmp_path / "missing.mp4"):
        out = tmp_path / "out.mp4"
        code = main(["video", str(video), str(style), "-o", str(out), "--height", "32", "--no-progress"])
        assert code == 2 and video.name in capsys.readouterr().err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["one.mp4", "style.png"]


def test_frames_cli_reports_times(tmp_path, lossless_src, capsys):
    assert main(["frames", str(lossless_src), "-o", str(tmp_path / "f"), "--height", "24", "--no-progress"]) == 0
    meta = json.loads((tmp_path / "f" / "meta.json").read_text())
    assert meta["frame_count"] == 12 and len(meta["pts"]) == 12
    assert "0.80 s" in capsys.readouterr().err

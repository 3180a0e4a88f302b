"""The one encoder: frame times as in the source, the source's sound trimmed and in sync, BT.709 tags.

Every check reads the written mp4 back with the bundled FFmpeg (packet times with ``showinfo``,
sound decoded to PCM from time 0, the raw YUV planes), independently of the encoder's own code.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from styleflow.cli.main import main
from styleflow.errors import StyleflowError
from styleflow.io.encode import encode_arrays, encode_video
from styleflow.io.frames import extract_frames
from styleflow.io.soundtrack import Timing, clip_timing, probe_audio
from styleflow.io.video import ffmpeg_exe
from styleflow.viz.sidebyside import side_by_side

FPS = 30
RATE = 48000


# --- reading an mp4 back --------------------------------------------------------------------


def ffmpeg(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *map(str, args)], capture_output=True)


def streams(path: Path) -> dict[str, str]:
    """``{"video": "<the Video: line>", "audio": "<the Audio: line>"}`` of ``ffmpeg -i``."""
    out: dict[str, str] = {}
    for line in ffmpeg("-i", path).stderr.decode().splitlines():
        for kind in ("Video", "Audio"):
            if f": {kind}: " in line:
                out.setdefault(kind.lower(), line.split(f": {kind}: ", 1)[1])
    return out


def container_duration(path: Path) -> float:
    m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", ffmpeg("-i", path).stderr.decode())
    assert m, path
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def frame_times(path: Path) -> list[tuple[float, float]]:
    """``(seconds, mean luma)`` of every decoded frame, in display order, as stored."""
    err = ffmpeg("-i", path, "-map", "0:v:0", "-fps_mode", "passthrough", "-vf", "showinfo", "-f", "null", "-").stderr
    return [(float(t), float(y)) for t, y in re.findall(r"pts_time:([-\d.e]+).*?mean:\[(\d+)", err.decode())]


def sound(path: Path) -> np.ndarray:
    """The first audio stream as mono float samples at 48 kHz, sample 0 at the video's time 0
    (a stream that starts later is preceded by silence)."""
    raw = ffmpeg("-v", "error", "-i", path, "-map", "0:a:0", "-af", "aresample=first_pts=0", "-ac", "1",
                 "-ar", str(RATE), "-f", "s16le", "-").stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0


def onsets(samples: np.ndarray, threshold: float = 0.02) -> tuple[float, float]:
    """Seconds of the first and the last sample louder than ``threshold``."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    assert loud.size, "no sound"
    return loud[0] / RATE, (loud[-1] + 1) / RATE


# --- material ------------------------------------------------------------------------------


def make_source(path: Path, seconds: float, audio: list[str] | None, video: str | None = None) -> Path:
    """A ``seconds``-long 64x48 clip at 30 fps (frame k of testsrc) with lavfi ``audio`` (its
    ``-f lavfi -i`` graph and encoder arguments), or without sound."""
    cmd = ["-v", "error", "-y", "-f", "lavfi", "-i", video or f"testsrc=size=64x48:rate={FPS}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", audio[0]]
    cmd += ["-map", "0:v"] + (["-map", "1:a", *audio[1:]] if audio else [])
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-t", str(seconds), str(path)]
    run = ffmpeg(*cmd)
    assert run.returncode == 0, run.stderr.decode()
    return path


def greys(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """Frame k is a uniform grey of level 20 + 6 k (recognisable after decoding; cycling after 34)."""
    return [np.full((h, w, 3), 20 + 6 * (k % 34), np.uint8) for k in range(n)]


def clip_meta(source: Path, pts: list[float], end: float, **extra) -> dict:
    """A ``meta.json`` as extraction writes it (the decode contract), written by hand."""
    meta = {"fps": len(pts) / (end - pts[0]), "source_fps": FPS, "frame_count": len(pts), "start": 0, "step": 1,
            "max_frames": None, "source": str(source), "pts": pts, "end_time": end, "source_start": pts[0],
            "vfr": False, "repeats_dropped": 0, "audio": probe_audio(source)}
    meta.update(extra)
    return meta


TONE = "sine=frequency=440:sample_rate=48000:duration=4"


# --- timing --------------------------------------------------------------------------------


def test_variable_frame_times_are_kept_to_the_tick(tmp_path):
    pts = [2.0, 2.1, 2.4, 2.45, 2.6, 2.8, 2.8333, 3.3]
    end = 3.75
    source = make_source(tmp_path / "silent.mp4", 4, None)
    summary = encode_arrays(greys(len(pts)), tmp_path / "vfr.mp4", meta=clip_meta(source, pts, end))
    assert summary["audio"] is None and summary["frames"] == len(pts)
    shown = frame_times(tmp_path / "vfr.mp4")
    assert len(shown) == len(pts)
    assert np.allclose([t for t, _ in shown], np.array(pts) - pts[0], atol=2e-5)  # 90 kHz ticks
    assert [y for _, y in shown] == sorted(y for _, y in shown)  # frame k at time k
    assert container_duration(tmp_path / "vfr.mp4") == pytest.approx(end - pts[0], abs=0.011)
    assert "audio" not in streams(tmp_path / "vfr.mp4")  # a clip without sound stays without


@pytest.mark.parametrize("fps", [30, 30000 / 1001, 12.5])
def test_constant_rate_duration_is_frames_over_fps(tmp_path, fps):
    encode_arrays(greys(24), tmp_path / "cfr.mp4", fps)
    shown = frame_times(tmp_path / "cfr.mp4")
    assert np.allclose([t for t, _ in shown], np.arange(24) / fps, atol=2e-5)
    assert container_duration(tmp_path / "cfr.mp4") == pytest.approx(24 / fps, abs=0.011)


def test_old_meta_without_pts_is_a_constant_rate_from_start():
    timing = clip_timing({"fps": 10.0, "source_fps": 30.0, "frame_count": 5, "start": 60, "step": 3})
    assert timing.pts == pytest.approx([2.0, 2.1, 2.2, 2.3, 2.4]) and timing.end == pytest.approx(2.5)
    head = clip_timing({"fps": 10.0, "source_fps": 30.0, "frame_count": 5, "start": 60, "step": 3}, 2)
    assert head.end == pytest.approx(2.2)
    with pytest.raises(StyleflowError, match="times 5 frames but 6"):
        clip_timing({"fps": 10.0, "frame_count": 5, "start": 0, "step": 1}, 6)
    with pytest.raises(StyleflowError, match="frame 3 .* does not come after frame 2"):
        Timing((0.0, 0.1, 0.1), 0.2)


# --- colour --------------------------------------------------------------------------------


def test_bt709_limited_range_tags_and_matrix(tmp_path):
    patch = np.zeros((48, 64, 3), np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)]
    for i, c in enumerate(colours):
        patch[:, 16 * i:16 * (i + 1)] = c
    encode_arrays([patch] * 3, tmp_path / "c.mp4", 10)
    assert "yuv420p(tv, bt709, progressive)" in streams(tmp_path / "c.mp4")["video"]  # range, matrix, primaries, trc
    raw = ffmpeg("-v", "error", "-i", tmp_path / "c.mp4", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                 "-").stdout
    y = np.frombuffer(raw[:48 * 64], np.uint8).reshape(48, 64)
    u = np.frombuffer(raw[48 * 64:48 * 64 + 24 * 32], np.uint8).reshape(24, 32)
    v = np.frombuffer(raw[48 * 64 + 24 * 32:], np.uint8).reshape(24, 32)
    for i, c in enumerate(colours):
        r, g, b = (np.array(c) / 255.0).tolist()
        luma = 0.2126 * r + 0.7152 * g + 0.0722 * b  # BT.709 (BT.601 would give red Y 81, not 63)
        want = (16 + 219 * luma, 128 + 224 * (b - luma) / 1.8556, 128 + 224 * (r - luma) / 1.5748)
        got = (y[24, 16 * i + 8], u[12, 8 * i + 4], v[12, 8 * i + 4])
        assert np.allclose(got, want, atol=2), (c, got, want)


# --- sound ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, encoder, channels, codec, layout, described",
    [
        (".mp4", ["-c:a", "aac"], 2, "aac", "stereo", "aac (copied)"),
        (".mkv", ["-c:a", "libopus"], 2, "opus", "stereo", "opus (copied)"),
        (".mkv", ["-c:a", "ac3"], 6, "ac3", "5.1", "ac3 (copied)"),
        (".mov", ["-c:a", "pcm_s16le"], 6, "aac", "5.1", "pcm_s16le → aac"),  # browsers do not play PCM in mp4
        (".mkv", ["-c:a", "libvorbis"], 2, "aac", "stereo", "vorbis → aac"),
    ],
)
def test_the_source_tone_covers_the_stylised_span(tmp_path, suffix, encoder, channels, codec, layout, described):
    source = make_source(tmp_path / f"tone{suffix}", 4, [TONE, *encoder, "-ac", str(channels)])
    # source frames 30, 32, ..., 72 (start 30, step 2): from 1.0 s to 2.5 s
    pts = [(30 + 2 * k) / FPS for k in range(22)]
    end = pts[-1] + 2 / FPS
    summary = encode_arrays(greys(22), tmp_path / "out.mp4", meta=clip_meta(source, pts, end))
    assert summary["audio"] == described
    audio = streams(tmp_path / "out.mp4")["audio"]
    assert audio.startswith(codec) and layout in audio
    first, last = onsets(sound(tmp_path / "out.mp4"))
    frame = 1 / FPS
    assert first < frame  # starts with the pictures
    assert abs(last - (end - pts[0])) < frame  # and ends with them
    assert container_duration(tmp_path / "out.mp4") == pytest.approx(end - pts[0], abs=frame)


def test_click_lines_up_with_flash_after_extraction(tmp_path):
    """A white flash at source frame 75 (every frame differs) and a click at 2.5 s; frames extracted
    from frame 40 on."""
    flash = 75
    video = f"testsrc=size=64x48:rate={FPS}:duration=4,drawbox=color=white:t=fill:enable='eq(n,{flash})'"
    click = f"aevalsrc='if(between(t,{flash / FPS},{flash / FPS}+0.002),0.9,0)':s={RATE}:d=4"
    source = make_source(tmp_path / "flash.mp4", 4, [click, "-c:a", "aac"], video)
    meta = extract_frames(source, tmp_path / "frames", 48, start=40, max_frames=60, progress=False)
    assert meta["frame_count"] == 60
    summary = encode_video(tmp_path / "frames", tmp_path / "out.mp4", meta=tmp_path / "frames")
    assert summary["audio"] == "aac (copied)"
    shown = frame_times(tmp_path / "out.mp4")
    assert len(shown) == 60
    flash_at = max(shown, key=lambda ty: ty[1])[0]
    assert flash_at == pytest.approx((flash - 40) / FPS, abs=1e-3)
    click_at, _ = onsets(sound(tmp_path / "out.mp4"), 0.3)
    assert abs(click_at - flash_at) < 1 / FPS
    span = meta["end_time"] - meta["pts"][0] if "pts" in meta else 60 / FPS  # a dropped repeat makes it longer
    assert container_duration(tmp_path / "out.mp4") == pytest.approx(span, abs=1 / FPS)


def test_a_codec_mp4_refuses_to_copy_is_re_encoded(tmp_path, monkeypatch):
    import styleflow.io.soundtrack as soundtrack

    monkeypatch.setattr(soundtrack, "MP4_AUDIO_CODECS", soundtrack.MP4_AUDIO_CODECS | {"adpcm_ms"})
    source = make_source(tmp_path / "adpcm.avi", 2, [TONE, "-c:a", "adpcm_ms"])
    meta = clip_meta(source, [k / FPS for k in range(10)], 10 / FPS)
    assert meta["audio"]["codec"] == "adpcm_ms"
    assert encode_arrays(greys(10), tmp_path / "out.mp4", meta=meta)["audio"] == "adpcm_ms → aac"
    assert streams(tmp_path / "out.mp4")["audio"].startswith("aac")
    first, last = onsets(sound(tmp_path / "out.mp4"))
    assert first < 1 / FPS and abs(last - 10 / FPS) < 1 / FPS
    # later in the clip
    meta = clip_meta(source, [(15 + k) / FPS for k in range(10)], 25 / FPS)
    assert encode_arrays(greys(10), tmp_path / "later.mp4", meta=meta)["audio"] == "adpcm_ms → aac"
    first, last = onsets(sound(tmp_path / "later.mp4"))
    assert first < 1 / FPS and abs(last - 10 / FPS) < 1 / FPS


def test_cutting_after_decoding_from_the_start_keeps_sync(tmp_path):
    """The last resort for a source FFmpeg cannot seek in: decode its sound from the beginning and cut."""
    import dataclasses

    from styleflow.io import encode as encoder
    from styleflow.io.soundtrack import clip_soundtrack

    flash = 75
    click = f"aevalsrc='if(between(t,{flash / FPS},{flash / FPS}+0.002),0.9,0)':s={RATE}:d=4"
    source = make_source(tmp_path / "click.mp4", 4, [click, "-c:a", "aac"])
    pts = [(40 + k) / FPS for k in range(60)]
    meta = clip_meta(source, pts, 100 / FPS)
    timing = clip_timing(meta)
    track = dataclasses.replace(clip_soundtrack(meta, timing), to_aac=True, seek=False)
    paths = []
    for k, img in enumerate(greys(60), start=1):
        paths.append(tmp_path / f"frame_{k:06d}.png")
        cv2.imwrite(str(paths[-1]), img)
    assert encoder._encode(paths, tmp_path / "out.mp4", timing, track, False, 18)["audio"] == "aac → aac"
    click_at, _ = onsets(sound(tmp_path / "out.mp4"), 0.3)
    assert abs(click_at - (flash - 40) / FPS) < 1 / FPS
    assert container_duration(tmp_path / "out.mp4") == pytest.approx(2.0, abs=1 / FPS)


def test_a_variable_rate_source_keeps_its_times_end_to_end(tmp_path):
    """A clip whose frames pause 0.25 s after every 15th, with a tone: extracted from frame 10 on,
    stylised frames (greys) come out at the source's times and with the tone over them."""
    vfr = tmp_path / "vfr.mp4"
    run = ffmpeg("-v", "error", "-f", "lavfi", "-i", f"testsrc=size=64x48:rate={FPS}:duration=2", "-f", "lavfi",
                 "-i", TONE, "-map", "0:v", "-map", "1:a", "-vf", f"settb=1/1000,setpts='(N/{FPS} + 0.25*floor(N/15))/TB'",
                 "-fps_mode", "passthrough", "-enc_time_base:v", "1/1000", "-video_track_timescale", "1000",
                 "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "4", vfr)
    assert run.returncode == 0, run.stderr.decode()
    meta = extract_frames(vfr, tmp_path / "frames", 48, start=10, max_frames=30, progress=False)
    if "pts" not in meta:
        pytest.skip("extraction does not record frame times (pts) yet")
    source_times = [k / FPS + 0.25 * (k // 15) for k in range(10, 40)]
    assert meta["pts"] == pytest.approx(source_times, abs=2e-3)  # (the file keeps milliseconds)
    summary = encode_arrays(greys(30), tmp_path / "out.mp4", meta=tmp_path / "frames")
    assert summary["audio"] == "aac (copied)"
    shown = frame_times(tmp_path / "out.mp4")
    assert np.allclose([t for t, _ in shown], np.array(meta["pts"]) - meta["pts"][0], atol=2e-5)
    span = meta["end_time"] - meta["pts"][0]
    assert container_duration(tmp_path / "out.mp4") == pytest.approx(span, abs=1 / FPS)
    _, last = onsets(sound(tmp_path / "out.mp4"))
    assert abs(last - span) < 1 / FPS


def test_no_audio_and_silent_sources(tmp_path):
    source = make_source(tmp_path / "tone.mp4", 2, [TONE, "-c:a", "aac"])
    pts = [k / FPS for k in range(10)]
    meta = clip_meta(source, pts, 10 / FPS)
    assert encode_arrays(greys(10), tmp_path / "a.mp4", meta=meta)["audio"] == "aac (copied)"
    assert "audio" in streams(tmp_path / "a.mp4")
    assert encode_arrays(greys(10), tmp_path / "b.mp4", meta=meta, audio=False)["audio"] is None
    assert "audio" not in streams(tmp_path / "b.mp4")
    assert encode_arrays(greys(10), tmp_path / "c.mp4", meta=dict(meta, audio=None))["audio"] is None
    assert "audio" not in streams(tmp_path / "c.mp4")
    old = {k: v for k, v in meta.items() if k not in ("pts", "end_time", "audio")}  # probed instead
    assert encode_arrays(greys(10), tmp_path / "d.mp4", meta=old)["audio"] == "aac (copied)"


def test_failures_leave_nothing(tmp_path):
    gone = clip_meta(make_source(tmp_path / "src.mp4", 1, [TONE, "-c:a", "aac"]), [0.0, 0.1], 0.2)
    (tmp_path / "src.mp4").unlink()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(StyleflowError, match=r"src.mp4: the clip's source video is gone.*--no-audio"):
        encode_arrays(greys(2), out / "x.mp4", meta=gone)
    assert encode_arrays(greys(2), out / "y.mp4", meta=gone, audio=False)["frames"] == 2
    with pytest.raises(StyleflowError, match="does not come after"):
        encode_arrays(greys(2), out / "x.mp4", meta=dict(gone, pts=[0.0, 0.3]), audio=False)
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "frame_000001.png"), greys(1)[0])
    whole = (frames / "frame_000001.png").read_bytes()
    (frames / "frame_000002.png").write_bytes(whole[:40])  # the header intact, the pixels cut off
    with pytest.raises(StyleflowError, match="FFmpeg failed"):
        encode_video(frames, out / "x.mp4", 10)
    with pytest.raises(StyleflowError, match="--crf"):
        encode_video(frames, out / "x.mp4", 10, crf=60)
    assert sorted(p.name for p in out.iterdir()) == ["y.mp4"]  # no temporary files, no spool folders


# --- callers -------------------------------------------------------------------------------


def test_cli_encode_takes_times_and_sound_from_the_clip(tmp_path, capsys):
    source = make_source(tmp_path / "tone.mp4", 2, [TONE, "-c:a", "aac"])
    clip = tmp_path / "clip"
    extract_frames(source, clip, 48, start=15, max_frames=20, progress=False)
    stylised = tmp_path / "stylised"
    stylised.mkdir()
    for k, img in enumerate(greys(20), start=1):
        cv2.imwrite(str(stylised / f"frame_{k:06d}.png"), img)
    assert main(["encode", str(stylised), "-o", str(tmp_path / "a.mp4"), "--meta", str(clip), "--no-progress"]) == 0
    assert "aac (copied)" in capsys.readouterr().err
    assert streams(tmp_path / "a.mp4")["audio"].startswith("aac")
    assert container_duration(tmp_path / "a.mp4") == pytest.approx(20 / FPS, abs=1 / FPS)
    assert main(["encode", str(clip), "-o", str(tmp_path / "b.mp4"), "--no-audio", "--no-progress"]) == 0
    assert "audio" not in streams(tmp_path / "b.mp4")
    assert main(["encode", str(stylised), "-o", str(tmp_path / "c.mp4"), "--fps", "10", "--no-progress"]) == 0
    assert container_duration(tmp_path / "c.mp4") == pytest.approx(2.0, abs=0.011)
    assert "audio" not in streams(tmp_path / "c.mp4")
    assert main(["encode", str(stylised), "-o", str(tmp_path / "d.mp4")]) == 2
    assert "give --fps F or --meta CLIP" in capsys.readouterr().err


def test_side_by_side_has_the_content_clips_sound(tmp_path):
    source = make_source(tmp_path / "tone.mp4", 2, [TONE, "-c:a", "libmp3lame"])
    pts = [0.5 + k / FPS for k in range(12)]
    content = [g.astype(np.float32) / 255 for g in greys(12)]
    summary = side_by_side(content, {"a": content}, tmp_path / "grid.mp4", meta=clip_meta(source, pts, pts[-1] + 1 / FPS))
    assert summary["audio"] == "mp3 (copied)"
    assert streams(tmp_path / "grid.mp4")["audio"].startswith("mp3")
    assert container_duration(tmp_path / "grid.mp4") == pytest.approx(12 / FPS, abs=1 / FPS)
    assert len(frame_times(tmp_path / "grid.mp4")) == 12


def test_config_key_encode_audio() -> None:
    from snakemake.utils import validate

    schema = str(Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml")
    base = {"videos": {"v": {"path": "clip.mp4"}}, "styles": {"s": {"images": ["a.png"]}}, "resolutions": [64],
            "budgets": {"b": {"first": 10, "later": 5}}, "variants": {"noInit": None}}
    cfg = dict(base)
    validate(cfg, schema)
    assert cfg["encode"] == {"audio": True}
    validate(cfg := dict(base, encode={"audio": False}), schema)
    assert cfg["encode"] == {"audio": False}
    for bad in ({"audio": "no"}, {"sound": False}):
        with pytest.raises(Exception, match="audio|sound"):
            validate(dict(base, encode=bad), schema)

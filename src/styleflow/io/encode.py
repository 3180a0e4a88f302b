"""Frames → H.264 mp4 (rule ``encode``): the project's one video encoder.

Every video the project writes (a stylised clip, the side-by-side grid, the flow videos, the demo
clip) goes through :func:`encode_video` (image files) or :func:`encode_arrays` (``(H, W, 3)``
uint8 RGB arrays). The FFmpeg binary shipped by ``imageio-ffmpeg`` is run with an argument list
(never a shell line) and the output, written atomically, is:

* **H.264, yuv420p, ``+faststart``** — what web browsers play; odd sides are padded to even.
* **Tagged BT.709, limited range** (``-colorspace/-color_primaries/-color_trc bt709``,
  ``-color_range tv``), converted from RGB with that matrix, so players show the frames' colours.
* **Timed like the source.** Given a clip's ``meta.json`` (``meta=``), frame ``k`` shows at
  ``pts[k] - pts[0]`` seconds and the last until ``end_time - pts[0]`` (variable frame rates and
  dropped repeats included; :mod:`styleflow.io.soundtrack`); given only ``fps``, at a constant
  rate. Frames are fed through FFmpeg's concat demuxer with one duration per frame
  (microseconds, so times never drift), in a 90 kHz track time base (exact for 24, 25, 30,
  30000/1001, 50, 60 ... fps); the last frame (a keyframe) lasts until ``end_time``.
* **With the source's sound** (``audio=True``, the default, when ``meta`` is given and the source
  has sound): the span of the source's audio that the frames cover (``[pts[0], end_time)``),
  stream-copied when mp4 holds its codec
  (:data:`~styleflow.io.soundtrack.MP4_AUDIO_CODECS`), else re-encoded to AAC (also when the copy
  fails or comes out silent; last, decoded from the source's beginning and cut). A clip without
  sound stays without.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import cv2
import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.atomic import atomic_path
from styleflow.io.frames import META_NAME, read_meta
from styleflow.io.layout import frame_name, list_frames
from styleflow.io.soundtrack import Soundtrack, Timing, clip_soundtrack, clip_timing
from styleflow.io.video import ffmpeg_exe
from styleflow.progress import frame_bar

#: Track time base of the output's video (ticks per second).
TIMESCALE = 90000
#: What the output's colours are tagged (and converted) as.
COLOR_TAGS = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv")

FramesArg = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
MetaArg = Mapping[str, Any] | str | os.PathLike[str]


def _frame_paths(frames: FramesArg) -> list[Path]:
    if isinstance(frames, (str, os.PathLike)):
        return list_frames(frames)
    paths = [Path(p) for p in frames]
    if not paths:
        raise StyleflowError("encode: no frames given")
    return paths


def _image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image file: from a PNG's header, else by decoding it."""
    if not path.is_file():
        raise StyleflowError(f"{path}: no such frame")
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return h, w
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise StyleflowError(f"{path}: not an image that OpenCV can read")
    return img.shape[:2]


def _check_args(out_path: str | os.PathLike[str], fps: float | None, meta: MetaArg | None, crf: int) -> Path:
    """Check the options before any frame is touched; the output's path."""
    out = Path(out_path)
    if fps is not None and meta is None:
        Timing.constant(1, fps)  # raises on a bad fps
    if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not 0 <= crf <= 51:
        raise StyleflowError(f"--crf {crf!r}: expected a whole number 0 .. 51")
    if out.suffix.lower() != ".mp4":
        raise StyleflowError(f"{out}: the output must be an .mp4 file")
    if out.is_dir():
        raise StyleflowError(f"{out}: is a folder; give the name of the .mp4 file to write")
    return out


def _read_meta(meta: MetaArg) -> tuple[Mapping[str, Any], str]:
    """``meta`` itself, or the ``meta.json`` of a frames folder / the file given; with a name for errors."""
    if isinstance(meta, Mapping):
        return meta, "meta.json"

    path = Path(meta)
    folder = path.parent if path.name == META_NAME and path.is_file() else path
    return read_meta(folder), str(folder / META_NAME)


def schedule(n: int, fps: float | None = None, meta: MetaArg | None = None,
             audio: bool = True) -> tuple[Timing, Soundtrack | None]:
    """The timing and sound of an output of ``n`` frames: from ``meta`` (a clip's ``meta.json``,
    its folder, or its contents) when given, else ``n`` frames at a constant ``fps`` without sound."""
    if meta is not None:
        info, where = _read_meta(meta)
        timing = clip_timing(info, n, where)
        return timing, clip_soundtrack(info, timing, where) if audio else None
    if fps is None:
        raise StyleflowError("encode: give the frame rate (--fps) or the clip's meta.json to time the frames")
    return Timing.constant(n, fps), None


def encode_video(
    frames: FramesArg,
    out_path: str | os.PathLike[str],
    fps: float | None = None,
    *,
    meta: MetaArg | None = None,
    audio: bool = True,
    progress: bool = False,
    crf: int = 18,
) -> dict[str, Any]:
    """Encode image files as an H.264 mp4 (see the module docstring).

    Args:
        frames: a folder of ``frame_NNNNNN.png`` (time order), or a list of image paths.
        out_path: the ``.mp4`` to write (atomically: a temporary sibling renamed on success).
        fps: frames per second (> 0), used when ``meta`` is not given.
        meta: the clip the frames were made from: its ``meta.json`` contents, the file, or its
            frames folder. The output takes its frame times and (``audio``) its sound. The frames
            are the clip's first ``len(frames)`` ones.
        audio: keep the source's sound (with ``meta``).
        progress: show a progress bar.
        crf: x264 constant rate factor (0 lossless .. 51; 18 is visually near-lossless).

    Returns:
        ``{"frames", "duration" (seconds), "fps" (mean), "audio" (e.g. "aac (copied)") or None}``.

    Raises:
        StyleflowError: no frames, a missing or unreadable frame, frames of different sizes, bad
            fps or meta.json, the source gone (with sound wanted), or FFmpeg failing (its message
            is included). Nothing is written then.
    """
    out = _check_args(out_path, fps, meta, crf)
    paths = _frame_paths(frames)
    timing, sound = schedule(len(paths), fps, meta, audio)
    sizes: dict[tuple[int, int], Path] = {}
    for path in paths:
        size = _image_size(path)
        if sizes and size not in sizes:
            (h, w), first = next(iter(sizes.items()))
            raise StyleflowError(
                f"{path}: frame is {size[1]}x{size[0]} but {first.name} is {w}x{h}; "
                "all frames of a video must have the same size"
            )
        sizes.setdefault(size, path)
    return _encode(paths, out, timing, sound, progress, crf)


def encode_arrays(
    images: Iterable[np.ndarray | tuple[np.ndarray, str]],
    out_path: str | os.PathLike[str],
    fps: float | None = None,
    *,
    meta: MetaArg | None = None,
    audio: bool = True,
    progress: bool = False,
    total: int | None = None,
    crf: int = 18,
) -> dict[str, Any]:
    """Encode ``(H, W, 3)`` uint8 RGB arrays (streamed; optionally ``(array, name)`` pairs, the name
    used in error messages) like :func:`encode_video`. The frames are written as PNG (fast
    compression) into a hidden folder beside the output, removed afterwards."""
    out = _check_args(out_path, fps, meta, crf)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.stem}.frames-") as spool:
        paths: list[Path] = []
        size: tuple[int, int] | None = None
        first_name = ""
        bar = frame_bar(total, f"frames for {out.name}", progress)
        try:
            for item in images:
                img, name = item if isinstance(item, tuple) else (item, f"frame {len(paths) + 1}")
                img = np.asarray(img)
                if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                    raise StyleflowError(f"{name}: expected an (H, W, 3) uint8 RGB frame, got {img.dtype} {img.shape}")
                if size is None:
                    size, first_name = img.shape[:2], name
                elif img.shape[:2] != size:
                    raise StyleflowError(
                        f"{name}: frame is {img.shape[1]}x{img.shape[0]} but {Path(first_name).name} is "
                        f"{size[1]}x{size[0]}; all frames of a video must have the same size"
                    )
                path = Path(spool) / frame_name(len(paths) + 1)
                if not cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                    raise StyleflowError(f"{out}: could not write frames beside it; is the disk full or read-only?")
                paths.append(path)
                bar.update(1)
        finally:
            bar.close()
        if not paths:
            raise StyleflowError(f"{out}: no frames to encode")
        timing, sound = schedule(len(paths), fps, meta, audio)
        return _encode(paths, out, timing, sound, progress, crf)


def _concat_list(paths: Sequence[Path], timing: Timing) -> str:
    """An ffconcat script showing ``paths[k]`` for ``timing``'s ``k``-th duration.

    Durations are whole microseconds taken as differences of rounded times, so the frames' start
    times are the rounded ``pts`` exactly (no drift over long clips). Each image is read in a
    90 kHz time base (``option framerate``), so the concatenation keeps them to the tick.
    """
    t0 = timing.start
    ticks = [round((t - t0) * 1e6) for t in (*timing.pts, timing.end)]
    lines = ["ffconcat version 1.0"]
    for path, a, b in zip(paths, ticks, ticks[1:]):
        quoted = str(path.resolve()).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"option framerate {TIMESCALE}", f"duration {b - a}us"]
    return "\n".join(lines) + "\n"


def _command(list_file: Path, timing: Timing, sound: Soundtrack | None, crf: int, out: Path) -> list[str]:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-nostats", "-progress", "pipe:1",
           "-f", "concat", "-safe", "0", "-i", str(list_file)]
    if sound is not None and sound.seek:
        # no -ss at 0: some AVIs refuse a seek to 0 and FFmpeg then writes no sound
        cmd += [*(["-ss", f"{sound.start:.6f}"] if sound.start > 1e-6 else []), "-t", f"{sound.duration:.6f}",
                "-i", str(sound.source)]
    elif sound is not None:
        cmd += ["-i", str(sound.source)]
    cmd += ["-map", "0:v:0"]
    if sound is not None:
        cmd += ["-map", f"1:{sound.stream}"]
    # The last frame shows until the end of the span: it is made a keyframe (so it is also the
    # last packet in decoding order) and its packet lasts until the end (the muxer ends the track
    # at the last packet's pts + duration; the frames before it are timed by their successors).
    end = f"{timing.duration:.6f}"
    cmd += [
        "-vf", (
            "pad=ceil(iw/2)*2:ceil(ih/2)*2,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
            "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"
        ),
        "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "medium", "-crf", str(int(crf)),
        "-pix_fmt", "yuv420p", *COLOR_TAGS, "-force_key_frames", f"expr:eq(n,{len(timing.pts) - 1})",
        # B-frames shift decoding times by the first frames' durations; with uneven durations the
        # mp4's media duration then differs from its presentation, so varying timing goes without.
        *([] if timing.constant_rate else ["-bf", "0"]),
        "-bsf:v", f"setts=pts=PTS:dts=DTS:duration='if(eq(NEXT_DTS,NOPTS),{end}/TB-PTS,DURATION)'",
        "-video_track_timescale", str(TIMESCALE),
    ]
    if sound is not None:
        if not sound.seek:
            cmd += ["-af", f"atrim=start={sound.start:.6f}:duration={sound.duration:.6f},asetpts=PTS-STARTPTS"]
        cmd += ["-c:a", "copy"] if sound.copy else ["-c:a", "aac", "-b:a", f"{sound.aac_bitrate_k}k"]
    return [*cmd, "-movflags", "+faststart", "-f", "mp4", str(out)]


def _encode(paths: Sequence[Path], out: Path, timing: Timing, sound: Soundtrack | None, progress: bool,
            crf: int) -> dict[str, Any]:
    """Run FFmpeg on ``paths`` (checked, one size) with ``timing`` and ``sound``; write ``out`` atomically.

    With sound, up to three ways are tried, the next only when FFmpeg fails or writes no sound:
    copy the stream (when mp4 holds it), re-encode it to AAC, re-encode it after decoding the
    source from its beginning and cutting (for files FFmpeg cannot seek in)."""
    if sound is None:
        return _run_ffmpeg(paths, out, timing, None, progress, crf)
    tries = [sound] + ([dataclasses.replace(sound, to_aac=True)] if sound.copy else [])
    tries.append(dataclasses.replace(sound, to_aac=True, seek=False))
    first: _SoundFailed | None = None
    for attempt in tries:
        try:
            return _run_ffmpeg(paths, out, timing, attempt, progress, crf)
        except _SoundFailed as exc:
            first = first or exc
    assert first is not None
    raise StyleflowError(f"{first}; or encode without sound (--no-audio)")


class _SoundFailed(StyleflowError):
    """FFmpeg failed, or wrote no sound, while an audio stream was asked for (worth another way)."""


def _has_audio(path: Path) -> bool:
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True,
                         errors="replace")
    return any(": Audio: " in line for line in run.stderr.splitlines())


def _run_ffmpeg(paths: Sequence[Path], out: Path, timing: Timing, sound: Soundtrack | None, progress: bool,
                crf: int) -> dict[str, Any]:
    bar = frame_bar(len(paths), f"encode {out.name}", progress)
    try:
        with atomic_path(out) as tmp, tempfile.TemporaryDirectory(prefix="styleflow-encode-") as work:
            list_file = Path(work) / "frames.ffconcat"
            list_file.write_text(_concat_list(paths, timing), encoding="utf-8")
            errors = Path(work) / "ffmpeg.log"
            with open(errors, "wb") as err:
                proc = subprocess.Popen(_command(list_file, timing, sound, crf, tmp), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=err, text=True)
                done = 0
                try:
                    assert proc.stdout is not None
                    for line in proc.stdout:  # -progress: key=value lines, "frame=N" among them
                        if line.startswith("frame=") and line[6:].strip().isdigit():
                            done = int(line[6:])
                            bar.update(done - bar.n)
                    code = proc.wait()
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
            msg = " ".join(errors.read_text(encoding="utf-8", errors="replace").split())[-300:]
            if code != 0:
                failed = _SoundFailed if sound is not None else StyleflowError
                raise failed(f"{out}: FFmpeg failed ({msg or f'exit status {code}'})")
            if done != len(paths):  # FFmpeg skips a frame it cannot decode
                raise StyleflowError(f"{out}: FFmpeg failed, encoding {done} of {len(paths)} frames ({msg or 'a frame is damaged'}); "
                                     "check the frames or make them again")
            if sound is not None and not _has_audio(tmp):
                raise _SoundFailed(f"{out}: FFmpeg wrote no sound from {sound.source} ({msg or 'no message'})")
    finally:
        bar.close()
    return {"frames": len(paths), "duration": timing.duration, "fps": timing.fps,
            "audio": sound.describe() if sound is not None else None}

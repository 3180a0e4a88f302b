"""Video → frames (rule ``frames``): extract numbered frames at a target height, with ``meta.json``.

Frames are written as ``frame_000001.png``, ``frame_000002.png`` ... (1-based, zero-padded to six
digits, so name order is time order) plus ``meta.json``::

    {"fps": 30.0,            # frame rate of the extracted sequence: source fps / step; for a
                             # variable-rate result (``vfr``) the mean rate frame_count / span
     "source_fps": 30.0, "fps_known": true, "source_width": 960, "source_height": 540,  # upright
     "width": 256, "height": 144,   # extracted size in pixels, both even
     "frame_count": 48, "start": 0, "step": 1, "max_frames": null, "source": "/path/clip.mp4",
     "pts": [0.0, 0.0333, ...],     # presentation time of each extracted frame, seconds from the
                                    # source's start (the source's own clock, VFR kept)
     "source_start": 0.0,           # pts of the first extracted frame
     "end_time": 1.6,               # when the last extracted frame stops showing: the pts of the
                                    # next frame it stands for (start + step ...), or the source's end
     "vfr": false,                  # the extracted frames are not evenly spaced in time
     "repeats_dropped": 0,          # source frame slots that only repeated the previous picture
                                    # (identical pictures, container "repeat" entries): not extracted
     "audio": null | {"codec": "aac", "channels": 2, "sample_rate": 48000, "index": 1},
     "color": {"pix_fmt": "yuv420p", "range": "tv" | "pc", "matrix": "bt709" | null},  # as tagged
     "decode_matrix": "bt601",      # the YUV matrix the frames were converted with
     "rotation": 0,                 # degrees clockwise the source is turned for display (applied)
     "decoder": "styleflow.io.video/1"}  # what made the frames

``start``, ``step`` and ``max_frames`` count *distinct* pictures (repeats are skipped first).
Decoding is :class:`styleflow.io.video.VideoReader` (the project's one decoder). Extraction streams
(one decoded frame in memory at a time) and writes into a hidden temporary folder that is renamed to
the destination only when complete. Encoding is :mod:`styleflow.io.encode`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.atomic import removing_new_folders, temporary_sibling, write_json
from styleflow.io.images import check_size, read_image, size_for_height
from styleflow.io.layout import frame_name
from styleflow.io.soundtrack import clip_timing, is_uneven
from styleflow.io.video import VideoReader, probe_video
from styleflow.progress import frame_bar

META_NAME = "meta.json"
#: Recorded in ``meta.json``: which decoder made the frames (frames made before, by OpenCV, are
#: extracted again by ``styleflow video``: no times, about one level darker).
DECODER = "styleflow.io.video/1"
META_KEYS = ("fps", "source_width", "source_height", "width", "height", "frame_count", "start", "step", "source")
#: Fallback when a container does not state its frame rate.
DEFAULT_FPS = 25.0


# --- extraction ------------------------------------------------------------------------------


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise StyleflowError(f"{name}: expected a whole number >= {minimum}, got {value!r}")
    return int(value)


def snap_fps(fps: float) -> float:
    """A measured frame rate snapped to the whole or NTSC (N·1000/1001) rate it is within 0.05 % of."""
    for candidate in (round(fps), round(fps * 1.001) / 1.001):
        if candidate > 0 and abs(fps - candidate) <= 5e-4 * candidate:
            return float(candidate)
    return float(fps)


def _source_fps(distinct_pts: Sequence[float], info: dict[str, Any]) -> tuple[float, bool]:
    """The source's frame rate (frames per second) and whether it is known.

    When every gap between pictures is a whole number of slots of the stream's stated rate (its
    time grid, ``tbr``), that rate: the gaps are held frames ("repeat previous" entries). Otherwise
    (phone VFR) the mean rate of the pictures; with a single picture, the stated rate.
    """
    gaps = np.diff(np.asarray(distinct_pts, dtype=np.float64))
    gaps = gaps[gaps > 0]
    for stated in (info.get("tbr"), info.get("fps")):
        if stated and math.isfinite(stated) and 0.0 < stated <= 1000.0:
            slots = gaps * stated
            if not gaps.size or np.all(np.abs(slots - np.round(slots)) < 0.1):
                return snap_fps(float(stated)), True
    if gaps.size:
        fps = snap_fps(float(gaps.size / gaps.sum()))  # the mean rate (phone clips jitter around it)
        if 0.0 < fps <= 1000.0:
            return fps, True
    return DEFAULT_FPS, False


def _held_slots(distinct_pts: Sequence[float], fps: float) -> int:
    """Frame slots at ``fps`` inside gaps between distinct pictures: the source's held frames
    (identical pictures and container "repeat previous" entries)."""
    gaps = np.diff(np.asarray(distinct_pts, dtype=np.float64)) * fps
    return int(np.clip(np.round(gaps) - 1, 0, None).sum()) if gaps.size else 0


def _sequence_fps(pts: Sequence[float], end_time: float, vfr: bool, source_fps: float, step: int) -> float:
    """Frame rate of the extracted sequence: ``source_fps / step`` when the frames sit on that
    grid, the rate of their even spacing otherwise, the mean rate over the span when uneven."""
    gaps = np.diff(np.asarray(pts, dtype=np.float64))
    if not gaps.size:
        return source_fps / step
    if vfr:
        span = end_time - pts[0]
        return len(pts) / span if span > 0 else source_fps / step
    typical = float(np.median(gaps))
    if abs(typical * source_fps - step) < 0.02 * step:
        return source_fps / step
    return snap_fps(1.0 / typical)


def extract_frames(
    video: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    height: int,
    start: int = 0,
    step: int = 1,
    max_frames: int | None = None,
    progress: bool = True,
    min_frames: int = 2,
) -> dict:
    """Decode ``video`` and write its frames at ``height`` pixels into ``out_dir``.

    Args:
        video: any file FFmpeg reads (mp4, avi, mov, mkv, webm; H.264, HEVC, MPEG-4, VP9 ...,
            8 or 10 bit); shown upright (display matrix applied), pictures at their timestamps.
        out_dir: destination folder; created (replaced if it exists) only when extraction succeeds.
        height: output height in pixels; the width keeps the aspect ratio; both rounded to even.
        start: 0-based index of the first distinct source picture to keep.
        step: keep every ``step``-th picture from ``start``.
        max_frames: keep at most this many frames (None: all).
        progress: show a progress bar with rate and ETA on stderr (a terminal only).
        min_frames: fewer frames than this is an error (video stages need a pair).

    Returns:
        The metadata written to ``out_dir/meta.json`` (see the module docstring).

    Raises:
        StyleflowError: missing/empty/non-video file, a file that ends early or fails to decode
            (saying how many frames decoded and up to which time), too few frames, or bad
            options. Nothing is left under ``out_dir`` then.
    """
    video = Path(video)
    out_dir = Path(out_dir)
    height = check_size(height, "--height")
    start = _check_int(start, "--start", 0)
    step = _check_int(step, "--step", 1)
    if max_frames is not None:
        max_frames = _check_int(max_frames, "--max-frames", 1)
        if max_frames < min_frames:
            raise StyleflowError(f"--max-frames {max_frames}: at least {min_frames} frames are needed")

    info = probe_video(video)
    size = size_for_height((int(info["display_height"]), int(info["display_width"]), 3), height, even=True)
    tmp = temporary_sibling(out_dir)
    with removing_new_folders(out_dir.resolve().parents):  # parents made for the output, if it fails
        return _extract(video, info, tmp, out_dir, size, start, step, max_frames, progress, min_frames)


def _extract(video: Path, info: dict[str, Any], tmp: Path, out_dir: Path, size: tuple[int, int], start: int,
             step: int, max_frames: int | None, progress: bool, min_frames: int) -> dict:
    """Decode into the hidden folder ``tmp``, write ``meta.json``, rename it to ``out_dir``."""
    src = (int(info["display_height"]), int(info["display_width"]))
    stated_fps = info.get("fps")
    total = None
    if info.get("duration") and stated_fps:
        total = max(0, math.ceil((info["duration"] * stated_fps - start) / step))
        total = min(total, max_frames) if max_frames is not None else total
    try:
        tmp.mkdir(parents=True)
        bar = frame_bar(total, f"frames {video.name}", progress)
        distinct: list[float] = []  # pts of every distinct picture decoded
        pts: list[float] = []  # pts of the extracted ones
        end_time: float | None = None
        with VideoReader(video, info) as reader:
            for index, frame in enumerate(reader):
                distinct.append(frame.pts)
                if index < start or (index - start) % step:
                    continue
                if max_frames is not None and len(pts) >= max_frames:
                    end_time = frame.pts  # the next frame the last one stands for begins here
                    break
                rgb = frame.rgb
                if size != rgb.shape[:2]:
                    shrink = size[0] * size[1] < rgb.shape[0] * rgb.shape[1]
                    rgb = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
                dest = tmp / frame_name(len(pts) + 1)
                if not cv2.imwrite(str(dest), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                    raise StyleflowError(f"{out_dir}: could not write {dest.name}; is the disk full or read-only?")
                pts.append(round(frame.pts, 6))
                bar.update(1)
        bar.close()
        tail: list[float] = []
        if end_time is None:  # the source ended
            _check_complete(video, info, reader, len(distinct))
            end_time = reader.end_time if reader.end_time is not None else (pts[-1] if pts else 0.0)
            slot = 1.0 / float(stated_fps or DEFAULT_FPS)
            if info.get("audio") is None and info.get("duration") and info["duration"] - end_time > 0.5 * slot:
                end_time = float(info["duration"])  # trailing "repeat" entries (AVI) still show the last picture
            tail = [end_time]  # the slots after the last picture count as held too
        written = len(pts)
        if written < min_frames:
            found = "no frames" if written == 0 else f"only {written} frame{'s' if written > 1 else ''}"
            where = f" from frame {start}" if start else ""
            raise StyleflowError(
                f"{video}: {found}{where} (step {step}); at least {min_frames} are needed — "
                "check --start/--step or that the file is a complete video"
            )
        source_fps, fps_known = _source_fps(distinct, info)
        vfr = is_uneven(pts)
        meta = {
            "fps": _sequence_fps(pts, float(end_time), vfr, source_fps, step),
            "source_fps": source_fps,
            "fps_known": fps_known,
            "source_width": int(src[1]),
            "source_height": int(src[0]),
            "width": int(size[1]),
            "height": int(size[0]),
            "frame_count": written,
            "start": start,
            "step": step,
            "max_frames": max_frames,
            "source": str(video.resolve()),
            "pts": pts,
            "source_start": pts[0],
            "end_time": round(float(end_time), 6),
            "vfr": vfr,
            "repeats_dropped": max(reader.repeats, _held_slots(distinct + tail, source_fps)),
            "audio": info.get("audio"),
            "color": dict(info["color"]),
            "decode_matrix": reader.matrix,
            "rotation": int(info.get("rotation") or 0),
            "decoder": DECODER,
        }
        write_json(tmp / META_NAME, meta)
        _replace_dir(tmp, out_dir)
        return meta
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _check_complete(video: Path, info: dict[str, Any], reader: VideoReader, decoded: int) -> None:
    """Raise if decoding stopped before the container's end (a truncated or damaged file)."""
    expected = info.get("duration")
    reached = reader.end_time or 0.0
    rate = info.get("fps") or DEFAULT_FPS
    short = expected is not None and reached < expected - max(2.0 / rate, 0.05 * expected)
    failed = reader.returncode not in (0, None)
    # A video stream shorter than an audio track is legitimate when FFmpeg did not complain.
    if (failed and (short or decoded == 0)) or (short and (reader.errors or info.get("audio") is None)):
        why = reader.failure() or (f"FFmpeg exit status {reader.returncode}" if failed else "the stream ends early")
        of = f" of the {expected:.2f} s the container announces" if expected else ""
        raise StyleflowError(
            f"{video}: truncated or corrupt — {decoded} frames decoded, up to {reached:.2f} s{of} ({why}); "
            "re-download or re-encode the video"
        )


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move the complete folder ``tmp`` to ``final``, replacing an existing ``final``."""
    if final.exists() and not final.is_dir():
        raise StyleflowError(f"{final}: exists and is not a folder; choose another output folder")
    if final.exists():
        old = temporary_sibling(final)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)


def read_meta(frames_dir: str | os.PathLike[str]) -> dict:
    """The ``meta.json`` of a frames folder.

    Raises:
        StyleflowError: missing, unreadable or incomplete file.
    """
    path = Path(frames_dir) / META_NAME
    if not path.is_file():
        raise StyleflowError(f"{path}: no frame metadata; extract the frames with `styleflow frames`")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StyleflowError(f"{path}: not valid JSON ({exc}); extract the frames again") from None
    missing = [k for k in META_KEYS if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise StyleflowError(f"{path}: missing {', '.join(missing)}; extract the frames again")
    return meta


def frame_times(meta: dict[str, Any]) -> tuple[list[float], float]:
    """``(pts, end_time)`` of a frames folder's metadata, seconds: each frame's presentation time
    and when the last one stops showing (:func:`styleflow.io.soundtrack.clip_timing`, which the
    encoder times its output with). A ``meta.json`` written before timestamps were recorded (no
    ``pts``) gives evenly spaced times at its ``fps`` from its ``start``."""
    timing = clip_timing(meta)
    return list(timing.pts), timing.end


# --- reading frames back --------------------------------------------------------------------


class FrameCache:
    """Frames read on demand, the ``keep`` most recently used held in memory; all must have one size.

    The one frame cache of the project: the flow and mask stages read content frames through it,
    and the sequential stylisation its content frames and its stylised frames (which it also
    :meth:`put` s as it writes them). Frames are ``(H, W, 3)`` float32 RGB in [0, 1].

    Args:
        paths: the frame files in order (frame ``k`` is ``paths[k - 1]``), or frame number → file.
        keep: how many frames to hold (at least 2).
    """

    def __init__(self, paths: Sequence[Path] | Callable[[int], Path], keep: int) -> None:
        self.paths = paths
        self.keep = max(2, keep)
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.shape: tuple[int, ...] | None = None
        self._first: Path | None = None  # the file that set ``shape``

    def path(self, k: int) -> Path:
        """The file of 1-based frame ``k``."""
        return self.paths(k) if callable(self.paths) else self.paths[k - 1]

    def __call__(self, k: int) -> np.ndarray:
        """Frame ``k`` (1-based), from memory when held."""
        if k in self.cache:
            self.cache.move_to_end(k)
            return self.cache[k]
        img = read_image(self.path(k))
        self.put(k, img, self.path(k))
        return img

    def put(self, k: int, image: np.ndarray, source: Path | None = None) -> None:
        """Hold ``image`` as frame ``k`` (e.g. a frame just written, as it reads back)."""
        where = source or self.path(k)
        if self.shape is None:
            self.shape, self._first = image.shape, where
        elif image.shape != self.shape:
            raise StyleflowError(
                f"{where}: frame is {image.shape[1]}x{image.shape[0]} but "
                f"{self._first.name if self._first else 'the first frame'} is {self.shape[1]}x{self.shape[0]}; "
                "all frames must have one size (re-extract them with `styleflow frames`)"
            )
        self.cache[k] = image
        self.cache.move_to_end(k)
        while len(self.cache) > self.keep:
            self.cache.popitem(last=False)

"""Video → frames (rule ``frames``): extract numbered frames at a target height, with ``meta.json``.

Frames are written as ``frame_000001.png``, ``frame_000002.png`` ... (1-based, zero-padded to six
digits, so name order is time order) plus ``meta.json``::

    {"fps": 30.0,            # frames per second of the extracted sequence (source fps / step)
     "source_fps": 30.0, "source_width": 960, "source_height": 540,
     "width": 256, "height": 144,   # extracted size in pixels, both even
     "frame_count": 48, "start": 0, "step": 1, "max_frames": null, "source": "/path/clip.mp4"}

Extraction streams (one decoded frame in memory at a time) and writes into a hidden temporary
folder that is renamed to the destination only when complete. Encoding is :mod:`styleflow.io.encode`.
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
from styleflow.io.atomic import temporary_sibling, write_json
from styleflow.io.images import check_size, read_image, size_for_height
from styleflow.io.layout import frame_name
from styleflow.progress import frame_bar

# Silence libav's own messages about damaged input (we raise one clear error instead); read by
# OpenCV when its FFmpeg backend first starts, so set before any capture is opened.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

META_NAME = "meta.json"
META_KEYS = ("fps", "source_width", "source_height", "width", "height", "frame_count", "start", "step", "source")
#: Fallback when a container does not state its frame rate.
DEFAULT_FPS = 25.0


# --- extraction ------------------------------------------------------------------------------


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise StyleflowError(f"{name}: expected a whole number >= {minimum}, got {value!r}")
    return int(value)


def _open_video(video: Path) -> cv2.VideoCapture:
    if not video.exists():
        raise StyleflowError(f"{video}: no such video file")
    if video.is_dir():
        raise StyleflowError(f"{video}: is a folder, expected a video file (mp4, avi, mov, webm)")
    if video.stat().st_size == 0:
        raise StyleflowError(f"{video}: the file is empty, expected a video (mp4, avi, mov, webm)")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # we report failures ourselves
    try:
        cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not cap.isOpened():
        cap.release()
        raise StyleflowError(
            f"{video}: not a video that FFmpeg can read (corrupt, truncated or not a video); "
            "check the file or re-encode it, e.g. to H.264 mp4"
        )
    return cap


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
        video: any file OpenCV's FFmpeg backend reads (mp4, avi, mov, webm; H.264, MPEG-4, VP9 ...).
        out_dir: destination folder; created (replaced if it exists) only when extraction succeeds.
        height: output height in pixels; the width keeps the aspect ratio; both rounded to even.
        start: 0-based index of the first source frame to keep.
        step: keep every ``step``-th frame from ``start`` (the recorded fps is divided by it).
        max_frames: keep at most this many frames (None: all).
        progress: show a tqdm progress bar on stderr.
        min_frames: fewer frames than this is an error (video stages need a pair).

    Returns:
        The metadata written to ``out_dir/meta.json`` (see the module docstring).

    Raises:
        StyleflowError: missing/empty/non-video file, too few frames, a frame size change
            mid-stream, or bad options. Nothing is left under ``out_dir`` then.
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

    cap = _open_video(video)
    tmp = temporary_sibling(out_dir)
    try:
        source_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps_known = math.isfinite(source_fps) and 0.0 < source_fps <= 1000.0
        if not fps_known:
            source_fps = DEFAULT_FPS
        estimate = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        total = None
        if estimate > start:
            total = (estimate - start + step - 1) // step
            if max_frames is not None:
                total = min(total, max_frames)
        tmp.mkdir(parents=True)
        bar = frame_bar(total, f"frames {video.name}", progress)
        src_size: tuple[int, int] | None = None
        size: tuple[int, int] | None = None
        index = -1
        written = 0
        while max_frames is None or written < max_frames:
            index += 1
            keep = index >= start and (index - start) % step == 0
            if not keep:
                if not cap.grab():
                    break
                continue
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            if bgr.ndim == 2:
                bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
            if src_size is None:
                src_size = bgr.shape[:2]
                size = size_for_height(bgr.shape, height, even=True)
            elif bgr.shape[:2] != src_size:
                raise StyleflowError(
                    f"{video}: frame {index} is {bgr.shape[1]}x{bgr.shape[0]} but earlier frames are "
                    f"{src_size[1]}x{src_size[0]}; re-encode the video at one size"
                )
            assert size is not None
            if size != bgr.shape[:2]:
                shrink = size[0] * size[1] < bgr.shape[0] * bgr.shape[1]
                bgr = cv2.resize(bgr, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
            written += 1
            dest = tmp / frame_name(written)
            if not cv2.imwrite(str(dest), bgr):
                raise StyleflowError(f"{out_dir}: could not write {dest.name}; is the disk full or read-only?")
            bar.update(1)
        bar.close()
        complete = max_frames is not None and written >= max_frames
        if not complete and estimate > 0 and index < estimate - max(2, estimate // 20):
            raise StyleflowError(
                f"{video}: truncated or corrupt — the container announces {estimate} frames but only "
                f"{index} could be decoded; re-download or re-encode the video"
            )
        if written < min_frames:
            found = "no frames" if written == 0 else f"only {written} frame{'s' if written > 1 else ''}"
            where = f" from frame {start}" if start else ""
            raise StyleflowError(
                f"{video}: {found}{where} (step {step}); at least {min_frames} are needed — "
                "check --start/--step or that the file is a complete video"
            )
        assert src_size is not None and size is not None
        meta = {
            "fps": source_fps / step,
            "source_fps": source_fps,
            "fps_known": fps_known,
            "source_width": int(src_size[1]),
            "source_height": int(src_size[0]),
            "width": int(size[1]),
            "height": int(size[0]),
            "frame_count": written,
            "start": start,
            "step": step,
            "max_frames": max_frames,
            "source": str(video.resolve()),
        }
        write_json(tmp / META_NAME, meta)
        _replace_dir(tmp, out_dir)
        return meta
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        cap.release()


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

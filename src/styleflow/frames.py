"""Video ↔ frames: extract numbered frames at a target height, and encode frames as H.264 mp4.

Frames are written as ``frame_000001.png``, ``frame_000002.png`` ... (1-based, zero-padded to six
digits, so name order is time order) plus ``meta.json``::

    {"fps": 30.0,            # frames per second of the extracted sequence (source fps / step)
     "source_fps": 30.0, "source_width": 960, "source_height": 540,
     "width": 256, "height": 144,   # extracted size in pixels, both even
     "frame_count": 48, "start": 0, "step": 1, "max_frames": null, "source": "/path/clip.mp4"}

Extraction streams (one decoded frame in memory at a time) and writes into a hidden temporary
folder that is renamed to the destination only when complete. Encoding pipes raw RGB frames to the
FFmpeg binary shipped by ``imageio-ffmpeg`` (an argument list, never a shell line) and produces
H.264, yuv420p, ``+faststart`` mp4 that web browsers play.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import cv2
import numpy as np

from .atomic import atomic_path, temporary_sibling, write_json
from .errors import StyleflowError
from .images import check_size, size_for_height
from .layout import frame_name, list_frames

# Silence libav's own messages about damaged input (we raise one clear error instead); read by
# OpenCV when its FFmpeg backend first starts, so set before any capture is opened.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

META_NAME = "meta.json"
META_KEYS = ("fps", "source_width", "source_height", "width", "height", "frame_count", "start", "step", "source")
#: Fallback when a container does not state its frame rate.
DEFAULT_FPS = 25.0


def ffmpeg_exe() -> str:
    """Path of the FFmpeg binary (from ``imageio-ffmpeg``)."""
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a dependency
        raise StyleflowError("encoding needs the imageio-ffmpeg package; pip install imageio-ffmpeg") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # pragma: no cover
        raise StyleflowError(f"no FFmpeg binary found ({exc}); reinstall imageio-ffmpeg") from None


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
        bar = _progress(total, f"frames {video.name}", progress)
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


# --- encoding --------------------------------------------------------------------------------


def _frame_paths(frames: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(frames, (str, os.PathLike)):
        return list_frames(frames)
    paths = [Path(p) for p in frames]
    if not paths:
        raise StyleflowError("encode: no frames given")
    return paths


def _read_bgr(path: Path) -> np.ndarray:
    if not path.is_file():
        raise StyleflowError(f"{path}: no such frame")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise StyleflowError(f"{path}: not an image that OpenCV can read")
    return img


def encode_video(
    frames: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    fps: float,
    progress: bool = False,
    crf: int = 18,
) -> None:
    """Encode frames as an H.264 (yuv420p) mp4 that web browsers play.

    Args:
        frames: a folder of ``frame_NNNNNN.png`` (time order), or a list of image paths.
        out_path: the ``.mp4`` to write (atomically: a temporary sibling renamed on success).
        fps: frames per second (> 0).
        progress: show a tqdm progress bar.
        crf: x264 constant rate factor (0 lossless .. 51; 18 is visually near-lossless).

    Raises:
        StyleflowError: no frames, an unreadable frame, frames of different sizes, bad fps,
            or FFmpeg failing (its message is included).
    """
    _check_encode_args(out_path, fps)  # before touching the frames
    paths = _frame_paths(frames)

    def images() -> Iterator[tuple[np.ndarray, str]]:
        for path in paths:
            yield cv2.cvtColor(_read_bgr(path), cv2.COLOR_BGR2RGB), str(path)

    encode_arrays(images(), out_path, fps, progress=progress, total=len(paths), crf=crf)


def _check_encode_args(out_path: str | os.PathLike[str], fps: float) -> Path:
    out = Path(out_path)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 0 < fps <= 1000:
        raise StyleflowError(f"--fps {fps!r}: expected frames per second between 0 and 1000")
    if out.suffix.lower() != ".mp4":
        raise StyleflowError(f"{out}: the output must be an .mp4 file")
    if out.is_dir():
        raise StyleflowError(f"{out}: is a folder; give the name of the .mp4 file to write")
    return out


def encode_arrays(
    images: Iterable[np.ndarray | tuple[np.ndarray, str]],
    out_path: str | os.PathLike[str],
    fps: float,
    progress: bool = False,
    total: int | None = None,
    crf: int = 18,
) -> None:
    """Encode ``(H, W, 3)`` uint8 RGB arrays (streamed; optionally ``(array, name)`` pairs, the name
    used in error messages) as an H.264 yuv420p mp4, atomically. See :func:`encode_video`."""
    out = _check_encode_args(out_path, fps)
    it = iter(images)
    bar = _progress(total, f"encode {out.name}", progress)
    proc = None
    count = 0
    try:
        with atomic_path(out) as tmp:
            size: tuple[int, int] | None = None
            first_name = ""
            for item in it:
                img, name = item if isinstance(item, tuple) else (item, f"frame {count + 1}")
                img = np.asarray(img)
                if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                    raise StyleflowError(f"{name}: expected an (H, W, 3) uint8 RGB frame, got {img.dtype} {img.shape}")
                if size is None:
                    size, first_name = img.shape[:2], name
                    h, w = size
                    cmd = [
                        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{float(fps):.6g}",
                        "-i", "-", "-an",
                        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",  # yuv420p needs even sides
                        "-c:v", "libx264", "-preset", "medium", "-crf", str(int(crf)), "-pix_fmt", "yuv420p",
                        "-movflags", "+faststart", str(tmp),
                    ]
                    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE)
                elif img.shape[:2] != size:
                    raise StyleflowError(
                        f"{name}: frame is {img.shape[1]}x{img.shape[0]} but {Path(first_name).name} is "
                        f"{size[1]}x{size[0]}; all frames of a video must have the same size"
                    )
                assert proc is not None and proc.stdin is not None
                try:
                    proc.stdin.write(np.ascontiguousarray(img).tobytes())
                except BrokenPipeError:
                    break
                count += 1
                bar.update(1)
            if proc is None:
                raise StyleflowError(f"{out}: no frames to encode")
            assert proc.stdin is not None and proc.stderr is not None
            proc.stdin.close()
            err = proc.stderr.read().decode("utf-8", "replace")
            code = proc.wait()
            if code != 0:
                msg = " ".join(err.split())[-300:]
                raise StyleflowError(f"{out}: FFmpeg failed ({msg or f'exit status {code}'})")
    finally:
        bar.close()
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stderr):
                if stream and not stream.closed:
                    stream.close()


def probe_video(path: str | os.PathLike[str]) -> dict:
    """Codec, pixel format, size and fps of a video's first video stream (parsed from ``ffmpeg -i``).

    Returns ``{"codec": "h264", "pix_fmt": "yuv420p", "width": 256, "height": 144, "fps": 30.0}``.
    """
    p = Path(path)
    if not p.is_file():
        raise StyleflowError(f"{p}: no such video file")
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(p)], capture_output=True, text=True)
    for line in run.stderr.splitlines():
        if "Video:" not in line:
            continue
        m = re.search(r"Video:\s*(\w+)", line)
        pix = re.search(r"Video:[^,]*,\s*(\w+)", line)
        size = re.search(r"\b(\d{2,5})x(\d{2,5})\b", line)
        fps = re.search(r"([\d.]+)\s*fps", line)
        return {
            "codec": m.group(1) if m else None,
            "pix_fmt": pix.group(1) if pix else None,
            "width": int(size.group(1)) if size else None,
            "height": int(size.group(2)) if size else None,
            "fps": float(fps.group(1)) if fps else None,
        }
    raise StyleflowError(f"{p}: FFmpeg finds no video stream in it")


def _progress(total: int | None, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    # disable=None: draw only when stderr is a terminal (no bar debris in logs)
    return tqdm(total=total, desc=desc, unit="frame", disable=True if not enabled else None, leave=False,
                dynamic_ncols=True)

"""Frames → H.264 mp4 (rule ``encode``): the project's one video encoder.

Frames (files or ``(H, W, 3)`` uint8/float RGB arrays) are piped as raw RGB to the FFmpeg binary
shipped by ``imageio-ffmpeg`` (an argument list, never a shell line); the output is H.264,
yuv420p, ``+faststart`` mp4 that web browsers play, written atomically.
"""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.atomic import atomic_path
from styleflow.io.layout import list_frames
from styleflow.io.video import ffmpeg_exe
from styleflow.progress import frame_bar


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
    bar = frame_bar(total, f"encode {out.name}", progress)
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

"""Video files: the FFmpeg binary, probing a container (size, frame rate, frame count, rotation).

The project's one video decoder lives here and in :mod:`styleflow.io.frames` (extraction).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from styleflow.errors import StyleflowError


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

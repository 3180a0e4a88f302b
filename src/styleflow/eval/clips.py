"""Reading what the metrics measure: stylised and input clips (video files or folders of frames)
and the pipeline's flows of a prepared clip, consecutive or ``offset`` frames apart."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.eval.warping import clip_flows
from styleflow.io.flo import read_flow
from styleflow.io.images import read_image, resize
from styleflow.io.layout import FRAME_PATTERN, ClipPaths, list_frames
from styleflow.io.video import VideoReader

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".gif"}


def read_clip(path: str | os.PathLike[str], max_frames: int | None = None) -> list[np.ndarray]:
    """Frames of a clip as ``(H, W, 3)`` float32 RGB in [0, 1].

    ``path`` is a video file (decoded by :func:`read_video`) or a folder of
    images: ``frame_NNNNNN.png`` when present, else every PNG/JPEG in name order.
    """
    p = Path(path)
    if p.is_dir():
        if any(FRAME_PATTERN.match(q.name) for q in p.iterdir()):
            files = list_frames(p)
        else:
            files = sorted(q for q in p.iterdir() if q.suffix.lower() in (".png", ".jpg", ".jpeg", ".ppm", ".bmp"))
            if not files:
                raise StyleflowError(f"{p}: no image files in this folder; expected frame_NNNNNN.png or PNG/JPEG frames")
        files = files[:max_frames] if max_frames else files
        return [read_image(f) for f in files]
    if not p.is_file():
        raise StyleflowError(f"{p}: no such video file or folder of frames")
    return read_video(p, max_frames)


def read_video(path: str | os.PathLike[str], max_frames: int | None = None) -> list[np.ndarray]:
    """Decode a video file into ``(H, W, 3)`` float32 RGB frames in [0, 1].

    Uses the project's one decoder (:class:`styleflow.io.video.VideoReader`) with the same timing
    as frame extraction: pictures at their timestamps, a picture identical to the previous one (a
    held frame) skipped, so no pair of frames is a zero-motion repeat.
    """

    p = Path(path)
    frames: list[np.ndarray] = []
    with VideoReader(p) as reader:
        for frame in reader:
            frames.append(frame.rgb.astype(np.float32) / 255.0)
            if max_frames and len(frames) >= max_frames:
                break
    if not frames:
        why = reader.failure()
        raise StyleflowError(f"{p}: the video has no frames that FFmpeg can decode{f' ({why})' if why else ''}")
    return frames


def match_sizes(outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The input frames resized to the outputs' size (the flow is computed at the output's size)."""
    size = outputs[0].shape[:2]
    return [resize(f, size) if f.shape[:2] != size else f for f in inputs]


def read_clip_flows(flow_dir: str | os.PathLike[str], n: int, offset: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """The pipeline's own flows of a prepared clip, pairs (k, k + offset) for frames 1..n."""

    clip = ClipPaths(Path(os.devnull), Path(flow_dir), Path(os.devnull))
    return [(read_flow(clip.forward(k, k + offset)), read_flow(clip.backward(k + offset, k)))
            for k in range(1, n - offset + 1)]


def long_term_flows(
    inputs: Sequence[np.ndarray], offset: int, flow_dir: str | os.PathLike[str] | None = None,
    method: str = "dis", params: Mapping[str, Any] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Flows between input frames t and t + offset, computed directly (not composed from the
    consecutive flows, whose errors and occlusions add up over k steps): the pipeline's own files
    when its flow stage wrote that offset (``flow: offsets``), else estimated here with the same
    method on ``inputs`` (already at the outputs' size)."""
    n = len(inputs)
    if n <= offset:
        return []
    if flow_dir is not None:
        clip = ClipPaths(Path(os.devnull), Path(flow_dir), Path(os.devnull))
        if clip.forward(1, 1 + offset).is_file():
            return read_clip_flows(flow_dir, n, offset)
    return clip_flows(inputs, method, params, offset=offset)

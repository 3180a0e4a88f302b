"""Side-by-side videos: the content clip and every variant in a labelled grid, in sync.

Tiles are scaled up by a whole factor (nearest neighbour, so pixels and flicker stay visible) until
they are at least :data:`MIN_TILE_HEIGHT` pixels high, each gets a label bar on top, and the grid
is encoded by the project's encoder (:func:`styleflow.io.encode.encode_arrays`: H.264 mp4 that
browsers play), timed like the content clip and with its sound. :func:`player_html` wraps an mp4
in a self-contained HTML page (the video as a data URI) for the Snakemake report, whose single-page
viewer shows HTML results but offers videos only as downloads.
"""

from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import cv2
import numpy as np

from styleflow.errors import StyleflowError
from styleflow.eval.metrics import read_clip, read_video
from styleflow.io.atomic import write_text
from styleflow.io.encode import encode_arrays
from styleflow.io.frames import read_meta
from styleflow.io.images import resize, to_uint8

MIN_TILE_HEIGHT = 160
LABEL_HEIGHT = 22
GAP = 4
CRF = 18


def _label_bar(text: str, width: int) -> np.ndarray:
    """A ``(LABEL_HEIGHT, width, 3)`` uint8 bar with ``text`` in white, shrunk to fit."""
    bar = np.full((LABEL_HEIGHT, width, 3), 32, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = 0.5
    while scale > 0.25:
        (tw, th), _ = cv2.getTextSize(text, font, scale, 1)
        if tw <= width - 6:
            break
        scale -= 0.05
    (tw, th), _ = cv2.getTextSize(text, font, scale, 1)
    if tw > width - 6:  # still too long: cut it
        while text and cv2.getTextSize(text + "…", font, scale, 1)[0][0] > width - 6:
            text = text[:-1]
    x = max(3, (width - tw) // 2)
    cv2.putText(bar, text, (x, (LABEL_HEIGHT + th) // 2), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return bar


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, columns) for ``n`` tiles: as square as possible, wider than high."""
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    return rows, cols


def compose(tiles: Sequence[np.ndarray], labels: Sequence[str], scale: int = 1) -> np.ndarray:
    """One grid frame (uint8 RGB, even size) from same-size float tiles in [0, 1] and their labels."""
    h, w = tiles[0].shape[:2]
    th, tw = h * scale, w * scale
    rows, cols = grid_shape(len(tiles))
    H = rows * (th + LABEL_HEIGHT) + (rows - 1) * GAP
    W = cols * tw + (cols - 1) * GAP
    H, W = H + H % 2, W + W % 2
    out = np.full((H, W, 3), 16, np.uint8)
    for i, (tile, text) in enumerate(zip(tiles, labels)):
        r, c = divmod(i, cols)
        y, x = r * (th + LABEL_HEIGHT + GAP), c * (tw + GAP)
        img = to_uint8(tile)
        if scale != 1:
            img = cv2.resize(img, (tw, th), interpolation=cv2.INTER_NEAREST)
        out[y:y + LABEL_HEIGHT, x:x + tw] = _label_bar(text, tw)
        out[y + LABEL_HEIGHT:y + LABEL_HEIGHT + th, x:x + tw] = img
    return out


def encode_rgb(frames: Iterable[np.ndarray], out_path: str | os.PathLike[str], fps: float, crf: int = CRF) -> Path:
    """Encode uint8 RGB frames at ``fps`` as H.264 mp4, atomically (:func:`styleflow.io.encode.encode_arrays`)."""
    encode_arrays(frames, out_path, fps, crf=crf)
    return Path(out_path)


def side_by_side(
    content: Sequence[np.ndarray],
    variants: Mapping[str, Sequence[np.ndarray]],
    out_path: str | os.PathLike[str],
    fps: float | None = None,
    content_label: str = "content",
    *,
    meta: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    audio: bool = True,
) -> dict:
    """Write the labelled grid video of ``content`` and every clip of ``variants`` (label → frames).

    All clips are shown frame by frame in sync and must have the same number of frames; clips of
    another size are resized to the content's size. The grid is timed at ``fps``, or like the
    content clip whose ``meta.json`` is ``meta`` (its frame times, and its sound unless
    ``audio`` is False). Grid frames are composed one at a time. Returns a summary (size,
    frames, tiles, scale, fps, sound).
    """
    if not content:
        raise StyleflowError("side by side: the content clip has no frames")
    counts = {name: len(frames) for name, frames in variants.items()}
    bad = {k: v for k, v in counts.items() if v != len(content)}
    if bad:
        raise StyleflowError(
            f"side by side: the content clip has {len(content)} frames but "
            + ", ".join(f"{k} has {v}" for k, v in bad.items()) + "; re-encode the runs"
        )
    size = content[0].shape[:2]
    scale = max(1, math.ceil(MIN_TILE_HEIGHT / size[0]))
    labels = [content_label, *variants]
    shape: list[tuple[int, ...]] = []

    def frames() -> Iterator[np.ndarray]:
        for k in range(len(content)):
            tiles = [content[k]] + [resize(v[k], size) if v[k].shape[:2] != size else v[k] for v in variants.values()]
            frame = compose(tiles, labels, scale)
            shape[:] = [frame.shape]
            yield frame

    summary = encode_arrays(frames(), out_path, fps, meta=meta, audio=audio, total=len(content), crf=CRF)
    return {"frames": len(content), "width": shape[0][1], "height": shape[0][0],
            "tiles": labels, "scale": scale, "fps": summary["fps"], "audio": summary["audio"]}


def player_html(video: str | os.PathLike[str], out_path: str | os.PathLike[str], title: str, caption: str = "") -> Path:
    """A self-contained HTML page that plays ``video`` (embedded as a data URI), looped and muted."""
    data = base64.b64encode(Path(video).read_bytes()).decode("ascii")
    esc = html.escape
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:1.5em;color:#222}}"
        "video{max-width:100%;image-rendering:pixelated;background:#000}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        + (f"<p>{esc(caption)}</p>" if caption else "")
        + '<video id="sidebyside" controls autoplay muted loop playsinline preload="auto" '
        f'src="data:video/mp4;base64,{data}"></video>\n</body></html>\n'
    )
    out = Path(out_path)
    write_text(out, page)
    return out


def clip_fps(frames_dir: str | os.PathLike[str], default: float = 10.0) -> float:
    """Frame rate recorded in a prepared clip's ``meta.json`` (``default`` when absent)."""

    try:
        fps = float(read_meta(frames_dir)["fps"])
    except (StyleflowError, ValueError, TypeError):
        return default
    return fps if fps > 0 and math.isfinite(fps) else default


def grid_for_runs(
    content_dir: str | os.PathLike[str],
    videos: Mapping[str, str | os.PathLike[str]],
    out_mp4: str | os.PathLike[str],
    out_html: str | os.PathLike[str] | None = None,
    title: str = "side by side",
    audio: bool = True,
) -> dict:
    """The side-by-side video of a prepared clip's content frames and the runs' ``videos``
    (variant → mp4), timed like the clip (its ``meta.json``) with its sound unless ``audio`` is
    False; plus the report's player page when asked."""

    clips = {name: read_video(path) for name, path in videos.items()}
    n = min(len(c) for c in clips.values()) if clips else None
    content = read_clip(content_dir)[:n]
    try:
        meta: Mapping[str, Any] | None = read_meta(content_dir)
    except StyleflowError:  # a folder of frames that extraction did not make: its fps only
        meta = None
    summary = side_by_side(content, clips, out_mp4, clip_fps(content_dir), meta=meta, audio=audio)
    if out_html is not None:
        sound = " Unmute for the clip's sound." if summary["audio"] else ""
        player_html(out_mp4, out_html, title,
                    "Left to right, top to bottom: the content clip, then "
                    + ", ".join(videos) + ", frame by frame in sync." + sound)
    return summary

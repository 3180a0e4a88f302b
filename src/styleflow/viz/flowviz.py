"""Flow visualisation with the Middlebury colour wheel (Baker et al. 2011).

Hue encodes direction, saturation encodes magnitude (normalised by the largest magnitude, or a
given ``max_flow``); zero motion is white. The wheel is the 55-colour Middlebury one
(RY 15, YG 6, GC 4, CB 11, BM 13, MR 6), as in ``flowToColor`` / ``computeColor``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.encode import encode_arrays
from styleflow.io.flo import read_flow
from styleflow.io.frames import FrameCache, read_meta
from styleflow.io.images import to_uint8
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.motion.warp import warp

#: The wheel's segments: (colours, channel held at 255, channel ramped, ramp rising) — red→yellow
#: (R full, G up), yellow→green (G full, R down), green→cyan, cyan→blue, blue→magenta, magenta→red.
_SEGMENTS = ((15, 0, 1, True), (6, 1, 0, False), (4, 1, 2, True), (11, 2, 1, False), (13, 2, 0, True), (6, 0, 2, False))


def make_colorwheel() -> np.ndarray:
    """The Middlebury wheel: ``(55, 3)`` float32 RGB in [0, 255]."""
    wheel = np.zeros((sum(n for n, *_ in _SEGMENTS), 3), np.float32)
    col = 0
    for n, full, ramped, rising in _SEGMENTS:
        ramp = np.floor(255 * np.arange(n) / n)
        wheel[col:col + n, full] = 255
        wheel[col:col + n, ramped] = ramp if rising else 255 - ramp
        col += n
    return wheel


_WHEEL = make_colorwheel()


def flow_to_color(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Colour-code ``(H, W, 2)`` flow (pixels) as ``(H, W, 3)`` uint8 RGB.

    Args:
        flow: u (x) then v (y), pixels. Non-finite vectors are drawn black.
        max_flow: magnitude drawn fully saturated; default the largest finite magnitude.
    """
    u = flow[..., 0].astype(np.float64)
    v = flow[..., 1].astype(np.float64)
    bad = ~(np.isfinite(u) & np.isfinite(v))
    u = np.where(bad, 0.0, u)
    v = np.where(bad, 0.0, v)
    rad = np.sqrt(u * u + v * v)
    scale = float(max_flow) if max_flow else float(rad.max())
    if scale <= 0:
        scale = 1.0
    u, v, rad = u / scale, v / scale, rad / scale
    ncols = _WHEEL.shape[0]
    angle = np.arctan2(-v, -u) / np.pi
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(int)
    k1 = (k0 + 1) % ncols
    f = (fk - k0)[..., None]
    col = (1 - f) * _WHEEL[k0] / 255.0 + f * _WHEEL[k1] / 255.0
    inside = (rad <= 1)[..., None]
    r = np.minimum(rad, 1.0)[..., None]
    col = np.where(inside, 1 - r * (1 - col), col * 0.75)
    out = np.floor(255 * col).astype(np.uint8)
    out[bad] = 0
    return out


def _fps(frames_dir: Path, fps: float | None) -> float:
    if fps is not None:
        return float(fps)
    try:
        return float(read_meta(frames_dir)["fps"])
    except StyleflowError as exc:
        raise StyleflowError(f"{exc}; or give the fps explicitly") from None


#: A file or folder name.
PathLike = str | os.PathLike[str]

#: What a pair video draws for pair ``k → k+1``: (clip, frame files) → (k → (uint8 image, label)).
PairRenderer = Callable[[ClipPaths, list[Path]], Callable[[int], tuple[np.ndarray, str]]]


def _render_pair_video(frames_dir: PathLike, flow_dir: PathLike, out_mp4: PathLike, fps: float | None,
                       progress: bool, what: str, renderer: PairRenderer) -> None:
    """Encode one ``(H, W, 3)`` uint8 image per pair ``k → k+1`` (k = 1 … n−1) of the clip in
    ``frames_dir`` (flows in ``flow_dir``) into ``out_mp4`` at ``fps`` (default ``meta.json``'s);
    ``what`` names the video's purpose in the one-frame error."""
    frames_dir, flow_dir = Path(frames_dir), Path(flow_dir)
    fps = _fps(frames_dir, fps)
    paths = list_frames(frames_dir)
    if len(paths) < 2:
        raise StyleflowError(f"{frames_dir}: only one frame; nothing to {what}")
    draw = renderer(ClipPaths(frames_dir, flow_dir, flow_dir), paths)

    def images() -> Iterator[tuple[np.ndarray, str]]:
        for k in range(1, len(paths)):
            yield draw(k)

    encode_arrays(images(), out_mp4, fps, progress=progress, total=len(paths) - 1)


def _flow_colours(clip: ClipPaths, paths: list[Path]) -> Callable[[int], tuple[np.ndarray, str]]:
    """Pair ``k`` → the colour-coded ``forward(k, k+1)``, on the clip's one saturation scale."""
    scale = 0.0
    for k in range(1, len(paths)):
        f = read_flow(clip.forward(k, k + 1))
        mag = np.sqrt((np.nan_to_num(f) ** 2).sum(-1))
        scale = max(scale, float(np.percentile(mag, 99)))

    def draw(k: int) -> tuple[np.ndarray, str]:
        path = clip.forward(k, k + 1)
        return flow_to_color(read_flow(path), max_flow=scale or 1.0), str(path)

    return draw


def _warped_frames(clip: ClipPaths, paths: list[Path]) -> Callable[[int], tuple[np.ndarray, str]]:
    """Pair ``k`` → frame ``k`` warped by ``backward(k+1, k)``, black where its source is outside."""
    frames = FrameCache(paths, keep=2)

    def draw(k: int) -> tuple[np.ndarray, str]:
        path = clip.backward(k + 1, k)
        flow = read_flow(path)
        img = frames(k)
        if flow.shape[:2] != img.shape[:2]:
            raise StyleflowError(
                f"{path}: flow is {flow.shape[1]}x{flow.shape[0]} but the frames are "
                f"{img.shape[1]}x{img.shape[0]}; recompute the flows for these frames"
            )
        warped, inside = warp(img, flow)
        warped[~inside] = 0.0
        return to_uint8(warped), str(path)

    return draw


def render_flow_video(frames_dir: PathLike, flow_dir: PathLike, out_mp4: PathLike, fps: float | None = None,
                      progress: bool = False) -> None:
    """Middlebury colour-wheel video of the forward flows ``k → k+1``.

    One saturation scale for the whole clip (the largest 99th-percentile magnitude over all pairs),
    so colours are comparable between frames. ``fps`` defaults to ``frames_dir/meta.json``'s.
    """
    _render_pair_video(frames_dir, flow_dir, out_mp4, fps, progress, "visualise", _flow_colours)


def render_warped_video(frames_dir: PathLike, flow_dir: PathLike, out_mp4: PathLike, fps: float | None = None,
                        progress: bool = False) -> None:
    """Video of frame ``k`` warped onto frame ``k+1``'s grid by ``backward(k+1, k)``, for every k.

    Where the flow is right the video looks like frames 2..n; where it fails it tears, smears or
    ghosts. Pixels whose source falls outside frame k are black.
    """
    _render_pair_video(frames_dir, flow_dir, out_mp4, fps, progress, "warp", _warped_frames)

"""Whole-clip stages: flows and masks for every frame pair, scene cuts, and the stage videos.

File names come from :class:`styleflow.layout.ClipPaths`. For frames ``k`` and ``j = k + d``
(``d`` in ``offsets``; offset 1 is always included)::

    flow/forward_k_j.flo      flow k → j on frame k's grid
    flow/backward_j_k.flo     flow j → k on frame j's grid (warps frame k onto frame j)
    masks/reliable_j_k.pgm    consistency of j against k (temporal term of frame j, forward passes)
    masks/reliable_k_j.pgm    consistency of k against j (multi-pass backward passes)
    masks/cuts.json           scene cuts (see scenecut.py)

These functions are what the Snakemake rules and ``styleflow video`` call. Frames are read one
at a time (at most ``max(offsets) + 1`` in memory), so memory does not grow with the clip.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .atomic import write_json
from .consistency import consistency_mask, write_pgm
from .errors import StyleflowError
from .flow import FLOW_METHODS, compute_flow, method_settings
from .flowio import is_valid_flo, read_flo, write_flo
from .flowviz import flow_to_color
from .frames import encode_arrays, read_meta
from .images import read_image, to_uint8
from .layout import ClipPaths, list_frames
from .scenecut import CUTS_NAME, DEFAULT_THRESHOLD, consistent_fraction, read_cuts, spans_cut, write_cuts
from .warp import warp

SETTINGS_NAME = "flow_settings.json"

__all__ = [
    "compute_flows", "compute_masks", "read_cuts", "render_flow_video", "render_warped_video",
]


def _check_offsets(offsets: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(d) for d in offsets}))
    except (TypeError, ValueError):
        raise StyleflowError(f"flow offsets {offsets!r}: expected whole numbers >= 1") from None
    if not out or out[0] < 1 or any(isinstance(d, bool) or int(d) != d for d in offsets):
        raise StyleflowError(f"flow offsets {list(offsets)!r}: expected whole numbers >= 1, e.g. 1 or 1,2,4")
    return tuple(sorted(set(out) | {1}))  # consecutive flows are always needed (warping, cuts)


class _FrameCache:
    """Reads frames on demand, keeping the last few; checks that all have one size."""

    def __init__(self, paths: list[Path], keep: int) -> None:
        self.paths = paths
        self.keep = max(2, keep)
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.shape: tuple[int, ...] | None = None

    def __call__(self, k: int) -> np.ndarray:
        if k in self.cache:
            self.cache.move_to_end(k)
            return self.cache[k]
        img = read_image(self.paths[k - 1])
        if self.shape is None:
            self.shape = img.shape
        elif img.shape != self.shape:
            raise StyleflowError(
                f"{self.paths[k - 1]}: frame is {img.shape[1]}x{img.shape[0]} but "
                f"{self.paths[0].name} is {self.shape[1]}x{self.shape[0]}; all frames must have one size "
                "(re-extract them with `styleflow frames`)"
            )
        self.cache[k] = img
        while len(self.cache) > self.keep:
            self.cache.popitem(last=False)
        return img


def _pairs(n: int, offsets: tuple[int, ...]) -> list[tuple[int, int]]:
    return [(k, k + d) for k in range(1, n + 1) for d in offsets if k + d <= n]


def compute_flows(
    frames_dir: str | os.PathLike[str],
    flow_dir: str | os.PathLike[str],
    method: str = "dis",
    params: dict[str, Any] | None = None,
    offsets: Sequence[int] = (1,),
    progress: bool = True,
) -> None:
    """Forward and backward flow for every frame pair ``(k, k+d)``, ``d`` in ``offsets``.

    Writes ``forward(k, k+d)`` and ``backward(k+d, k)`` (.flo, atomically) and
    ``flow_dir/flow_settings.json`` (method and full settings). Resumes: a pair whose two files
    exist, are complete and have the frames' size is skipped — unless the recorded settings
    differ from this call's, in which case everything is recomputed.

    Raises:
        StyleflowError: fewer than 2 frames, frames of different sizes, unknown method or
            parameters, bad offsets.
    """
    if method not in FLOW_METHODS:
        raise StyleflowError(f"flow method {method!r}: unknown; choose one of {', '.join(FLOW_METHODS)}")
    params = dict(params or {})
    settings = {"method": method, "settings": method_settings(method, params), "params": params}
    offsets = _check_offsets(offsets)
    paths = list_frames(frames_dir)
    if len(paths) < 2:
        raise StyleflowError(f"{frames_dir}: only one frame; flow needs at least 2")
    clip = ClipPaths(Path(frames_dir), Path(flow_dir), Path(flow_dir))
    Path(flow_dir).mkdir(parents=True, exist_ok=True)
    settings_path = Path(flow_dir) / SETTINGS_NAME
    resume = _same_settings(settings_path, settings)
    frames = _FrameCache(paths, keep=max(offsets) + 1)
    shape = frames(1).shape[:2]
    pairs = _pairs(len(paths), offsets)
    from tqdm import tqdm

    bar = tqdm(pairs, desc="flow", unit="pair", disable=True if not progress else None,  # None: only on a TTY
               leave=False, dynamic_ncols=True)
    for k, j in bar:
        fwd, bwd = clip.forward(k, j), clip.backward(j, k)
        if resume and is_valid_flo(fwd, shape) and is_valid_flo(bwd, shape):
            continue
        a, b = frames(k), frames(j)
        write_flo(fwd, compute_flow(a, b, method, **params))
        write_flo(bwd, compute_flow(b, a, method, **params))
    write_json(settings_path, settings)


def _same_settings(path: Path, settings: dict) -> bool:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(settings, default=str))
    except (OSError, ValueError):
        return False


def _frame_count_from_flows(flow_dir: Path) -> int:
    import re

    pattern = re.compile(r"^forward_(\d{6})_(\d{6})\.flo$")
    n = 0
    for name in os.listdir(flow_dir):
        m = pattern.match(name)
        if m:
            n = max(n, int(m.group(2)))
    return n


def compute_masks(
    flow_dir: str | os.PathLike[str],
    masks_dir: str | os.PathLike[str],
    offsets: Sequence[int] = (1,),
    frames_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    cut_threshold: float = DEFAULT_THRESHOLD,
) -> None:
    """Consistency masks for every flow pair, both directions, and ``masks_dir/cuts.json``.

    For every ``k`` and ``j = k + d``: ``reliable(j, k)`` from ``backward(j, k)`` and
    ``forward(k, j)``, and ``reliable(k, j)`` from ``forward(k, j)`` and ``backward(j, k)``.
    Scene cuts are detected on the consecutive pairs (offset 1; see :mod:`styleflow.scenecut`);
    masks of pairs that span a cut are written all-zero.

    Args:
        frames_dir: the frames folder: gives the frame count and enables the photometric part of
            the scene-cut rule; without it the count is the largest frame number among
            ``flow_dir``'s forward flows and cuts use the masks alone.
        cut_threshold: consistent fraction below which a consecutive pair is a cut.

    Raises:
        StyleflowError: a missing or corrupt flow file (named), flows of different sizes.
    """
    flow_dir, masks_dir = Path(flow_dir), Path(masks_dir)
    offsets = _check_offsets(offsets)
    if not flow_dir.is_dir():
        raise StyleflowError(f"{flow_dir}: no such flow folder; compute the flows first")
    n = len(list_frames(frames_dir)) if frames_dir is not None else _frame_count_from_flows(flow_dir)
    if n < 2:
        raise StyleflowError(f"{flow_dir}: no forward_*.flo files; compute the flows first")
    clip = ClipPaths(Path(frames_dir or flow_dir), flow_dir, masks_dir)
    masks_dir.mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    bar = tqdm(total=len(_pairs(n, offsets)), desc="masks", unit="pair", disable=True if not progress else None,
               leave=False, dynamic_ncols=True)
    # Consecutive pairs first: they decide the cuts.
    frames = _FrameCache(list_frames(frames_dir), keep=2) if frames_dir is not None else None
    fractions: dict[int, float] = {}
    for k in range(1, n):
        fwd, bwd = read_flo(clip.forward(k, k + 1)), read_flo(clip.backward(k + 1, k))
        m = consistency_mask(bwd, fwd)
        if frames is not None:
            prev, cur = frames(k), frames(k + 1)
            if cur.shape[:2] != bwd.shape[:2]:
                raise StyleflowError(
                    f"{clip.backward(k + 1, k)}: flow is {bwd.shape[1]}x{bwd.shape[0]} but the frames are "
                    f"{cur.shape[1]}x{cur.shape[0]}; recompute the flows for these frames"
                )
            fractions[k + 1] = consistent_fraction(m, cur, prev, bwd)
        else:
            fractions[k + 1] = consistent_fraction(m)
        _store(clip, k + 1, k, m, None)
        _store(clip, k, k + 1, consistency_mask(fwd, bwd), None)
        bar.update(1)
    cuts = write_cuts(masks_dir / CUTS_NAME, fractions, n, cut_threshold, offsets, photometric=frames is not None)
    for k in range(1, n + 1):  # zero the consecutive masks at cuts
        if k + 1 in cuts:
            _store(clip, k + 1, k, None, cuts)
            _store(clip, k, k + 1, None, cuts)
    for k, j in _pairs(n, tuple(d for d in offsets if d != 1)):
        if spans_cut(k, j, cuts):
            _store(clip, j, k, None, cuts)
            _store(clip, k, j, None, cuts)
        else:
            fwd, bwd = read_flo(clip.forward(k, j)), read_flo(clip.backward(j, k))
            _store(clip, j, k, consistency_mask(bwd, fwd), None)
            _store(clip, k, j, consistency_mask(fwd, bwd), None)
        bar.update(1)
    bar.close()


def _store(clip: ClipPaths, j: int, i: int, mask: np.ndarray | None, cuts: list[int] | None) -> None:
    if mask is None:  # across a cut: nothing is reliable
        shape = read_flo(clip.backward(max(i, j), min(i, j))).shape[:2]
        mask = np.zeros(shape, np.uint8)
    write_pgm(clip.mask(j, i), mask)


def _fps(frames_dir: Path, fps: float | None) -> float:
    if fps is not None:
        return float(fps)
    try:
        return float(read_meta(frames_dir)["fps"])
    except StyleflowError as exc:
        raise StyleflowError(f"{exc}; or give the fps explicitly") from None


def render_flow_video(
    frames_dir: str | os.PathLike[str],
    flow_dir: str | os.PathLike[str],
    out_mp4: str | os.PathLike[str],
    fps: float | None = None,
    progress: bool = False,
) -> None:
    """Middlebury colour-wheel video of the forward flows ``k → k+1``.

    One saturation scale for the whole clip (the largest 99th-percentile magnitude over all pairs),
    so colours are comparable between frames. ``fps`` defaults to ``frames_dir/meta.json``'s.
    """
    frames_dir, flow_dir = Path(frames_dir), Path(flow_dir)
    fps = _fps(frames_dir, fps)
    n = len(list_frames(frames_dir))
    clip = ClipPaths(frames_dir, flow_dir, flow_dir)
    if n < 2:
        raise StyleflowError(f"{frames_dir}: only one frame; nothing to visualise")
    scale = 0.0
    for k in range(1, n):
        f = read_flo(clip.forward(k, k + 1))
        mag = np.sqrt((np.nan_to_num(f) ** 2).sum(-1))
        scale = max(scale, float(np.percentile(mag, 99)))

    def images() -> Iterator[tuple[np.ndarray, str]]:
        for k in range(1, n):
            path = clip.forward(k, k + 1)
            yield flow_to_color(read_flo(path), max_flow=scale or 1.0), str(path)

    encode_arrays(images(), out_mp4, fps, progress=progress, total=n - 1)


def render_warped_video(
    frames_dir: str | os.PathLike[str],
    flow_dir: str | os.PathLike[str],
    out_mp4: str | os.PathLike[str],
    fps: float | None = None,
    progress: bool = False,
) -> None:
    """Video of frame ``k`` warped onto frame ``k+1``'s grid by ``backward(k+1, k)``, for every k.

    Where the flow is right the video looks like frames 2..n; where it fails it tears, smears or
    ghosts. Pixels whose source falls outside frame k are black.
    """
    frames_dir, flow_dir = Path(frames_dir), Path(flow_dir)
    fps = _fps(frames_dir, fps)
    paths = list_frames(frames_dir)
    if len(paths) < 2:
        raise StyleflowError(f"{frames_dir}: only one frame; nothing to warp")
    clip = ClipPaths(frames_dir, flow_dir, flow_dir)
    frames = _FrameCache(paths, keep=2)

    def images() -> Iterator[tuple[np.ndarray, str]]:
        for k in range(1, len(paths)):
            path = clip.backward(k + 1, k)
            flow = read_flo(path)
            img = frames(k)
            if flow.shape[:2] != img.shape[:2]:
                raise StyleflowError(
                    f"{path}: flow is {flow.shape[1]}x{flow.shape[0]} but the frames are "
                    f"{img.shape[1]}x{img.shape[0]}; recompute the flows for these frames"
                )
            warped, inside = warp(img, flow)
            warped[~inside] = 0.0
            yield to_uint8(warped), str(path)

    encode_arrays(images(), out_mp4, fps, progress=progress, total=len(paths) - 1)

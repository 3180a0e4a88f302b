"""The flow stage over a clip (rule ``flow``), and the file layout that the flow and mask stages share.

File names come from :class:`styleflow.io.layout.ClipPaths`. For frames ``k`` and ``j = k + d``
(``d`` in ``offsets``; offset 1 is always included)::

    flow/forward_k_j.flo      flow k → j on frame k's grid
    flow/backward_j_k.flo     flow j → k on frame j's grid (warps frame k onto frame j)
    masks/reliable_j_k.pgm    consistency of j against k (temporal term of frame j, forward passes)
    masks/reliable_k_j.pgm    consistency of k against j (multi-pass backward passes)
    masks/cuts.json           scene cuts (see :mod:`styleflow.motion.cuts`)

These functions are what the Snakemake rules and ``styleflow video`` call. Frames are read one
at a time (at most ``max(offsets) + 1`` in memory), so memory does not grow with the clip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.flo import is_valid_flo, write_flo
from styleflow.io.frames import FrameCache
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.io.records import file_stamps, record_matches
from styleflow.motion.estimate import FLOW_METHODS, compute_flow, method_settings
from styleflow.progress import frame_bar

SETTINGS_NAME = "flow_settings.json"


def check_offsets(offsets: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(d) for d in offsets}))
    except (TypeError, ValueError):
        raise StyleflowError(f"flow offsets {offsets!r}: expected whole numbers >= 1") from None
    if not out or out[0] < 1 or any(isinstance(d, bool) or int(d) != d for d in offsets):
        raise StyleflowError(f"flow offsets {list(offsets)!r}: expected whole numbers >= 1, e.g. 1 or 1,2,4")
    return tuple(sorted(set(out) | {1}))  # consecutive flows are always needed (warping, cuts)


def frame_pairs(n: int, offsets: tuple[int, ...]) -> list[tuple[int, int]]:
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

    Writes ``forward(k, k+d)`` and ``backward(k+d, k)`` (.flo, atomically) and, last,
    ``flow_dir/flow_settings.json``: the record of the stage (method, full settings, parameters and
    the frames' names, sizes and times; :mod:`styleflow.io.records`). Resumes: a pair whose two
    files exist, are complete and have the frames' size is skipped — unless the recorded settings
    or frames differ from this call's, in which case everything is recomputed.

    Raises:
        StyleflowError: fewer than 2 frames, frames of different sizes, unknown method or
            parameters, bad offsets.
    """
    if method not in FLOW_METHODS:
        raise StyleflowError(f"flow method {method!r}: unknown; choose one of {', '.join(FLOW_METHODS)}")
    params = dict(params or {})
    offsets = check_offsets(offsets)
    paths = list_frames(frames_dir)
    if len(paths) < 2:
        raise StyleflowError(f"{frames_dir}: only one frame; flow needs at least 2")
    record = flow_record(paths, method, params)
    clip = ClipPaths(Path(frames_dir), Path(flow_dir), Path(flow_dir))
    Path(flow_dir).mkdir(parents=True, exist_ok=True)
    settings_path = Path(flow_dir) / SETTINGS_NAME
    resume = record_matches(settings_path, record)
    frames = FrameCache(paths, keep=max(offsets) + 1)
    shape = frames(1).shape[:2]
    pairs = frame_pairs(len(paths), offsets)
    bar = frame_bar(len(pairs), "flow", progress, unit="pair")
    for k, j in pairs:
        fwd, bwd = clip.forward(k, j), clip.backward(j, k)
        if not (resume and is_valid_flo(fwd, shape) and is_valid_flo(bwd, shape)):
            a, b = frames(k), frames(j)
            write_flo(fwd, compute_flow(a, b, method, **params))
            write_flo(bwd, compute_flow(b, a, method, **params))
        bar.update(1)
    bar.close()
    write_json(settings_path, record)


def flow_record(frames: Sequence[Path], method: str, params: dict[str, Any]) -> dict[str, Any]:
    """What a flow folder was made from (``flow_settings.json``): method, its full settings, the
    parameters given, and the frames (:func:`styleflow.io.records.file_stamps`)."""
    return {"method": method, "settings": method_settings(method, params), "params": params,
            "frames": file_stamps(frames)}


def frame_count_from_flows(flow_dir: Path) -> int:
    import re

    pattern = re.compile(r"^forward_(\d{6})_(\d{6})\.flo$")
    n = 0
    for name in os.listdir(flow_dir):
        m = pattern.match(name)
        if m:
            n = max(n, int(m.group(2)))
    return n

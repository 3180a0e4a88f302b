"""The flow stage over a clip (rule ``flow``), and the file layout that the flow and mask stages share.

File names come from :class:`styleflow.io.layout.ClipPaths`. For frames ``k`` and ``j = k + d``
(``d`` in ``offsets``; offset 1 is always included)::

    flow/forward_k_j.flo      flow k → j on frame k's grid
    flow/backward_j_k.flo     flow j → k on frame j's grid (warps frame k onto frame j)
                              (.png instead of .flo in the compact format: styleflow.io.flo)
    masks/reliable_j_k.pgm    consistency of j against k (temporal term of frame j, forward passes)
    masks/reliable_k_j.pgm    consistency of k against j (multi-pass backward passes)
    masks/cuts.json           scene cuts (see :mod:`styleflow.motion.cuts`)

These functions are what the Snakemake rules and ``styleflow video`` call. Frames are read one
at a time (at most ``max(offsets) + 1`` in memory), so memory does not grow with the clip.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.flo import FLOW_SUFFIXES, check_flow_format, is_valid_flow, write_flow
from styleflow.io.frames import FrameCache
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.io.records import file_stamps, record_matches
from styleflow.motion.estimate import FLOW_METHODS, compute_flow, method_settings
from styleflow.progress import frame_bar

SETTINGS_NAME = "flow_settings.json"
#: Names of flow files in a flow folder, either format: kind, frame numbers, suffix.
FLOW_FILE = re.compile(r"^(forward|backward)_(\d{6})_(\d{6})(\.flo|\.png)$")


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
    flow_format: str = "flo",
) -> None:
    """Forward and backward flow for every frame pair ``(k, k+d)``, ``d`` in ``offsets``.

    Writes ``forward(k, k+d)`` and ``backward(k+d, k)`` (atomically; ``flow_format`` ``flo``:
    Middlebury .flo, exact; ``png``: KITTI 16-bit PNG, 1/64 px, :mod:`styleflow.io.flo`) and,
    last, ``flow_dir/flow_settings.json``: the record of the stage (method, full settings,
    parameters, the format when not ``flo``, and the frames' names, sizes and times;
    :mod:`styleflow.io.records`). Resumes: a pair whose two files exist, are complete and have the
    frames' size is skipped — unless the recorded settings or frames differ from this call's, in
    which case everything is recomputed. Flow files of the other format are removed first.

    Raises:
        StyleflowError: fewer than 2 frames, frames of different sizes, unknown method, format or
            parameters, bad offsets.
    """
    if method not in FLOW_METHODS:
        raise StyleflowError(f"flow method {method!r}: unknown; choose one of {', '.join(FLOW_METHODS)}")
    check_flow_format(flow_format)
    params = dict(params or {})
    offsets = check_offsets(offsets)
    paths = list_frames(frames_dir)
    if len(paths) < 2:
        raise StyleflowError(f"{frames_dir}: only one frame; flow needs at least 2")
    record = flow_record(paths, method, params, flow_format)
    clip = ClipPaths(Path(frames_dir), Path(flow_dir), Path(flow_dir), flow_format=flow_format)
    Path(flow_dir).mkdir(parents=True, exist_ok=True)
    settings_path = Path(flow_dir) / SETTINGS_NAME
    resume = record_matches(settings_path, record)
    remove_flow_files(flow_dir, keep_suffix=FLOW_SUFFIXES[flow_format])  # readers find either format
    frames = FrameCache(paths, keep=max(offsets) + 1)
    shape = frames(1).shape[:2]
    pairs = frame_pairs(len(paths), offsets)
    bar = frame_bar(len(pairs), "flow", progress, unit="pair")
    for k, j in pairs:
        fwd, bwd = clip.forward(k, j), clip.backward(j, k)
        if not (resume and is_valid_flow(fwd, shape) and is_valid_flow(bwd, shape)):
            a, b = frames(k), frames(j)
            write_flow(fwd, compute_flow(a, b, method, **params))
            write_flow(bwd, compute_flow(b, a, method, **params))
        bar.update(1)
    bar.close()
    write_json(settings_path, record)


def flows_are_current(
    frames_dir: str | os.PathLike[str], flow_dir: str | os.PathLike[str], method: str = "dis",
    params: dict[str, Any] | None = None, flow_format: str = "flo",
) -> bool:
    """Whether ``flow_dir``'s record says it was made from ``frames_dir``'s current frames with
    these settings (the record only: flow files may be missing, e.g. after ``--drop-flow``)."""
    try:
        frames = list_frames(frames_dir)
    except StyleflowError:
        return False
    return record_matches(Path(flow_dir) / SETTINGS_NAME, flow_record(frames, method, dict(params or {}), flow_format))


def flow_record(frames: Sequence[Path], method: str, params: dict[str, Any], flow_format: str = "flo") -> dict[str, Any]:
    """What a flow folder was made from (``flow_settings.json``): method, its full settings, the
    parameters given, the file format unless it is the default ``flo`` (so folders made before
    the option existed stay current), and the frames (:func:`styleflow.io.records.file_stamps`)."""
    record = {"method": method, "settings": method_settings(method, params), "params": params,
              "frames": file_stamps(frames)}
    if flow_format != "flo":
        record["format"] = flow_format
    return record


def remove_flow_files(flow_dir: str | os.PathLike[str], keep_suffix: str | None = None) -> int:
    """Delete the flow files (``forward_*``/``backward_*``, .flo and .png) in ``flow_dir``, except
    those ending in ``keep_suffix``; ``flow_settings.json`` stays. Returns how many went.

    ``styleflow video --drop-flow`` frees a finished clip's flows this way: with the record kept, a
    later call recomputes only the pairs it needs and the masks made from them stay current."""
    removed = 0
    with os.scandir(flow_dir) as entries:
        for entry in entries:
            m = FLOW_FILE.match(entry.name)
            if m and m.group(4) != keep_suffix:
                os.unlink(entry.path)
                removed += 1
    return removed


def frame_count_from_flows(flow_dir: Path) -> int:
    """The largest frame number among ``flow_dir``'s forward flows (either format); 0 if none."""
    n = 0
    for name in os.listdir(flow_dir):
        m = FLOW_FILE.match(name)
        if m and m.group(1) == "forward":
            n = max(n, int(m.group(3)))
    return n

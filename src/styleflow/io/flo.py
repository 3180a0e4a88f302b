"""Middlebury ``.flo`` optical-flow files.

A flow field in memory is a NumPy array of shape ``(H, W, 2)``, dtype float32, in pixels:
channel 0 is the horizontal displacement u (towards +x, right), channel 1 the vertical
displacement v (towards +y, down).

On disk (Middlebury / Sintel / DeepFlow format, little-endian)::

    float32  202021.25        magic ("PIEH" in ASCII)
    int32    width
    int32    height
    float32  u, v interleaved, row by row: height * width * 2 values

Readers elsewhere (the reference implementation, flowiz, Sintel tools) read these files as is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.atomic import atomic_path

#: The float32 tag at the start of every .flo file.
FLO_MAGIC = 202021.25
_HEADER = 12
#: Largest side accepted when reading (guards against absurd headers in corrupt files).
MAX_FLO_SIDE = 100_000


def read_flo(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a Middlebury ``.flo`` file as ``(H, W, 2)`` float32 pixels (u, v).

    Raises:
        StyleflowError: the file is missing or empty, has the wrong magic number, a nonsensical
            size, or fewer/more bytes than its header announces (truncated or not a .flo file).
    """
    p = Path(path)
    if not p.exists():
        raise StyleflowError(f"{p}: no such flow file")
    if p.is_dir():
        raise StyleflowError(f"{p}: is a folder, expected a .flo flow file")
    data = p.read_bytes()
    if len(data) < _HEADER:
        what = "empty" if not data else f"only {len(data)} bytes"
        raise StyleflowError(f"{p}: the flow file is {what}; expected a Middlebury .flo file (recompute it)")
    magic = np.frombuffer(data, dtype="<f4", count=1)[0]
    if magic != np.float32(FLO_MAGIC):
        raise StyleflowError(
            f"{p}: not a Middlebury .flo file (magic number {magic!r}, expected {FLO_MAGIC}); "
            "recompute the flow or check the path"
        )
    width, height = (int(x) for x in np.frombuffer(data, dtype="<i4", count=2, offset=4))
    if not (0 < width <= MAX_FLO_SIDE and 0 < height <= MAX_FLO_SIDE):
        raise StyleflowError(f"{p}: corrupt .flo header (size {width}x{height}); recompute the flow")
    expected = _HEADER + 4 * 2 * width * height
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise StyleflowError(
            f"{p}: the .flo file is {state} ({len(data)} bytes, expected {expected} for "
            f"{width}x{height}); recompute the flow"
        )
    flow = np.frombuffer(data, dtype="<f4", offset=_HEADER).reshape(height, width, 2)
    return flow.astype(np.float32)  # native byte order, writable copy


def check_flow(flow: np.ndarray, what: str = "flow") -> np.ndarray:
    """Validate an ``(H, W, 2)`` flow array; return it as float32."""
    arr = np.asarray(flow)
    if arr.ndim != 3 or arr.shape[2] != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise StyleflowError(f"{what}: expected an (H, W, 2) flow array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise StyleflowError(f"{what}: expected numbers, got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def write_flo(path: str | os.PathLike[str], flow: np.ndarray) -> None:
    """Write ``(H, W, 2)`` flow (pixels) as a Middlebury ``.flo`` file, atomically."""
    p = Path(path)
    arr = check_flow(flow, str(p))
    height, width = arr.shape[:2]
    header = np.array([FLO_MAGIC], dtype="<f4").tobytes() + np.array([width, height], dtype="<i4").tobytes()
    with atomic_path(p) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(header)
            fh.write(np.ascontiguousarray(arr, dtype="<f4").tobytes())


def is_valid_flo(path: str | os.PathLike[str], shape: tuple[int, int] | None = None) -> bool:
    """True if ``path`` is a complete .flo file (of ``(H, W)`` ``shape`` when given).

    Checks only the header and the file length, so it is cheap enough for resuming a clip.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(_HEADER)
    except OSError:
        return False
    if len(head) < _HEADER or np.frombuffer(head, "<f4", 1)[0] != np.float32(FLO_MAGIC):
        return False
    width, height = (int(x) for x in np.frombuffer(head, "<i4", 2, 4))
    if width <= 0 or height <= 0 or size != _HEADER + 8 * width * height:
        return False
    return shape is None or (height, width) == tuple(shape[:2])

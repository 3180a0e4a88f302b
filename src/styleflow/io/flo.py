"""Optical-flow files: Middlebury ``.flo`` (exact, the default) and KITTI 16-bit PNG (compact).

A flow field in memory is a NumPy array of shape ``(H, W, 2)``, dtype float32, in pixels:
channel 0 is the horizontal displacement u (towards +x, right), channel 1 the vertical
displacement v (towards +y, down).

On disk (Middlebury / Sintel / DeepFlow format, little-endian)::

    float32  202021.25        magic ("PIEH" in ASCII)
    int32    width
    int32    height
    float32  u, v interleaved, row by row: height * width * 2 values

Readers elsewhere (the reference implementation, flowiz, Sintel tools) read these files as is.

The compact format (``.png``, flow ``format: png``) is the KITTI flow benchmark's encoding: a
16-bit, 3-channel, losslessly compressed PNG with R = u·64 + 32768, G = v·64 + 32768 (rounded to
the nearest integer) and B = 1 where the flow is valid, 0 where it is not. It holds flows in
[-512, 511.984] px to 1/64 px (reading back is off by at most 1/128 px per component) in about a
ninth of the bytes of a ``.flo`` file on real footage (docs/real-footage.md, "Long footage"). A non-finite vector
(NaN, ±inf) is written as invalid and reads back as NaN, as a ``.flo`` file would hold it; a
finite vector outside the range is refused (use ``.flo``). KITTI's devkit, flowiz and most flow
tools read these files.

:func:`read_flow`, :func:`write_flow` and :func:`is_valid_flow` pick the format by the file's
suffix (:data:`FLOW_SUFFIXES`); everything in styleflow that reads or writes a flow goes through
them.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.atomic import atomic_path

#: The float32 tag at the start of every .flo file.
FLO_MAGIC = 202021.25
_HEADER = 12
#: Largest side accepted when reading (guards against absurd headers in corrupt files).
MAX_FLO_SIDE = 100_000

#: Flow file formats by name (config ``flow.format``, ``--flow-format``) and their suffixes.
FLOW_SUFFIXES = {"flo": ".flo", "png": ".png"}
#: KITTI encoding: 1/64 px steps around 32768.
PNG_SCALE = 64.0
PNG_OFFSET = 32768
#: The largest u or v the PNG format holds, in px (the smallest is -512).
PNG_MAX_FLOW = (65535 - PNG_OFFSET) / PNG_SCALE
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
#: zlib level of the PNG writer: 3 is ~12 % smaller than OpenCV's default 1, ~50 ms per 256 px pair.
PNG_COMPRESSION = 3


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


# ---------------------------------------------------------------- KITTI 16-bit PNG


def flow_format(path: str | os.PathLike[str]) -> str:
    """The format of a flow file by its suffix: ``flo`` or ``png``.

    Raises:
        StyleflowError: any other suffix.
    """
    suffix = Path(path).suffix.lower()
    for name, suf in FLOW_SUFFIXES.items():
        if suffix == suf:
            return name
    raise StyleflowError(f"{path}: not a flow file name; expected a .flo (Middlebury) or .png (KITTI 16-bit) file")


def check_flow_format(name: str, what: str = "flow format") -> str:
    """``name`` if it is a known flow format, else a StyleflowError listing them."""
    if name not in FLOW_SUFFIXES:
        raise StyleflowError(f"{what} {name!r}: unknown; choose one of {', '.join(FLOW_SUFFIXES)}")
    return name


def encode_flow_png(flow: np.ndarray, what: str = "flow") -> np.ndarray:
    """``(H, W, 2)`` float flow (px) → ``(H, W, 3)`` uint16 in OpenCV's BGR order (B = valid,
    G = v, R = u; KITTI encoding). Non-finite vectors become invalid (B = 0, u = v = 0).

    Raises:
        StyleflowError: a finite component outside [-512, :data:`PNG_MAX_FLOW`] px (``what`` named).
    """
    arr = check_flow(flow, what)
    valid = np.isfinite(arr).all(axis=2)
    clean = np.where(valid[..., None], arr, 0.0)
    half_step = 0.5 / PNG_SCALE
    if clean.max() > PNG_MAX_FLOW + half_step or clean.min() < -PNG_OFFSET / PNG_SCALE - half_step:
        peak = float(np.abs(clean).max())
        raise StyleflowError(
            f"{what}: flow of {peak:.1f} px does not fit the PNG flow format (at most {PNG_MAX_FLOW:.0f} px); "
            "use the .flo format (flow format: flo)"
        )
    q = np.clip(np.rint(clean * PNG_SCALE) + PNG_OFFSET, 0, 65535).astype(np.uint16)
    return np.dstack([valid.astype(np.uint16), q[..., 1], q[..., 0]])


def decode_flow_png(img: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_flow_png`: ``(H, W, 2)`` float32 px, NaN where invalid."""
    flow = (img[..., [2, 1]].astype(np.float32) - PNG_OFFSET) / np.float32(PNG_SCALE)
    flow[img[..., 0] == 0] = np.nan
    return flow


def write_flow_png(path: str | os.PathLike[str], flow: np.ndarray) -> None:
    """Write ``(H, W, 2)`` flow (px) as a KITTI 16-bit PNG, atomically."""
    p = Path(path)
    ok, buf = cv2.imencode(".png", encode_flow_png(flow, str(p)), [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise StyleflowError(f"{p}: OpenCV could not encode the flow as PNG")
    with atomic_path(p) as tmp:
        tmp.write_bytes(buf.tobytes())


def read_flow_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a KITTI 16-bit PNG flow as ``(H, W, 2)`` float32 px (NaN where marked invalid).

    Raises:
        StyleflowError: missing, empty or undecodable file, or a PNG that is not 16-bit RGB.
    """
    p = Path(path)
    if not p.is_file():
        raise StyleflowError(f"{p}: {'is a folder, expected' if p.is_dir() else 'no such'} flow file")
    data = np.fromfile(p, np.uint8)
    complete = data.size > len(_PNG_END) and data[-len(_PNG_END):].tobytes() == _PNG_END
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if complete else None
    if img is None:
        what = "empty" if not data.size else "not a readable PNG (truncated or corrupt)"
        raise StyleflowError(f"{p}: the flow file is {what}; recompute the flow")
    if img.dtype != np.uint16 or img.ndim != 3 or img.shape[2] != 3:
        raise StyleflowError(
            f"{p}: not a KITTI flow PNG (expected 16-bit RGB, got {img.dtype} with shape {img.shape}); "
            "recompute the flow or check the path"
        )
    return decode_flow_png(img)


def is_valid_flow_png(path: str | os.PathLike[str], shape: tuple[int, int] | None = None) -> bool:
    """True if ``path`` looks like a complete 16-bit RGB PNG (of ``(H, W)`` ``shape`` when given).

    Reads the header and the last 12 bytes only (the IEND chunk; a truncated file has none)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(26)
            fh.seek(max(0, p.stat().st_size - 12))
            tail = fh.read(12)
    except OSError:
        return False
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR" or tail != _PNG_END:
        return False
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head[24] != 16 or head[25] != 2:  # bit depth 16, colour type RGB
        return False
    return shape is None or (height, width) == tuple(shape[:2])


# ---------------------------------------------------------------- either format, by suffix


def read_flow(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a ``.flo`` or KITTI ``.png`` flow file as ``(H, W, 2)`` float32 px (u, v)."""
    return read_flow_png(path) if flow_format(path) == "png" else read_flo(path)


def write_flow(path: str | os.PathLike[str], flow: np.ndarray) -> None:
    """Write ``(H, W, 2)`` flow (px) in the format of ``path``'s suffix (.flo or .png), atomically."""
    if flow_format(path) == "png":
        write_flow_png(path, flow)
    else:
        write_flo(path, flow)


def is_valid_flow(path: str | os.PathLike[str], shape: tuple[int, int] | None = None) -> bool:
    """:func:`is_valid_flo` or :func:`is_valid_flow_png`, by suffix (False for any other)."""
    suffix = Path(path).suffix.lower()
    if suffix == FLOW_SUFFIXES["png"]:
        return is_valid_flow_png(path, shape)
    return suffix == FLOW_SUFFIXES["flo"] and is_valid_flo(path, shape)

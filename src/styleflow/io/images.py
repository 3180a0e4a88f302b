"""Reading, writing and resizing images.

In memory an image is a NumPy array of shape ``(H, W, 3)``, dtype float32, RGB, values in
``[0, 1]``. Whatever is on disk — 8- or 16-bit, grayscale, RGB or RGBA — is converted to that
on reading, or rejected with a :class:`~styleflow.errors.StyleflowError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.atomic import atomic_path

#: Largest output height or width accepted, in pixels (memory grows with the pixel count).
MAX_SIDE = 8192

Image = np.ndarray  # (H, W, 3) float32 RGB in [0, 1]


def read_image(path: str | os.PathLike[str]) -> Image:
    """Read an image file as ``(H, W, 3)`` float32 RGB in ``[0, 1]``.

    Grayscale images are replicated to three channels; an alpha channel is composited over
    white; 16-bit images are scaled by 1/65535; the EXIF orientation of photos is applied.

    Raises:
        StyleflowError: the file is missing, is a folder, is empty or is not an image.
    """
    p = Path(path)
    if not p.exists():
        raise StyleflowError(f"{p}: no such file")
    if p.is_dir():
        raise StyleflowError(f"{p}: is a folder, expected an image file")
    if p.stat().st_size == 0:
        raise StyleflowError(f"{p}: the file is empty, expected an image (PNG, JPEG, ...)")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise StyleflowError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    # IMREAD_UNCHANGED keeps alpha but ignores the EXIF orientation (phone photos would come out
    # sideways); ANYCOLOR|ANYDEPTH applies it and keeps grayscale and 16 bits. Use the latter
    # unless the image has an alpha channel.
    raw = _decode(data, cv2.IMREAD_UNCHANGED)
    if raw is not None and not (raw.ndim == 3 and raw.shape[2] == 4):
        raw = _decode(data, cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    if raw is None:
        raise StyleflowError(f"{p}: not an image that OpenCV can read (PNG, JPEG, PPM, TIFF, ...)")
    return _normalise(raw, p)


def _decode(data: np.ndarray, flags: int) -> np.ndarray | None:
    """``cv2.imdecode`` without OpenCV's own warnings on stderr (our error says it in one line)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        return cv2.imdecode(data, flags)
    finally:
        cv2.utils.logging.setLogLevel(level)


def _normalise(raw: np.ndarray, p: Path) -> Image:
    if raw.size == 0 or raw.shape[0] == 0 or raw.shape[1] == 0:
        raise StyleflowError(f"{p}: the image has no pixels")
    if raw.dtype == np.uint8:
        img = raw.astype(np.float32) / 255.0
    elif raw.dtype == np.uint16:
        img = raw.astype(np.float32) / 65535.0
    elif raw.dtype in (np.float32, np.float64):
        img = np.clip(raw.astype(np.float32), 0.0, 1.0)
    else:
        raise StyleflowError(f"{p}: unsupported pixel type {raw.dtype}; save it as 8- or 16-bit PNG or JPEG")
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.repeat(img, 3, axis=2))
    if channels == 3:
        return np.ascontiguousarray(img[:, :, ::-1])
    if channels == 4:
        alpha = img[:, :, 3:4]
        rgb = img[:, :, 2::-1]
        return np.ascontiguousarray(rgb * alpha + (1.0 - alpha))
    raise StyleflowError(f"{p}: {channels} colour channels; expected grayscale, RGB or RGBA")


def write_image(path: str | os.PathLike[str], image: Image) -> None:
    """Write a ``(H, W, 3)`` float RGB image in ``[0, 1]`` as 8-bit, atomically.

    The format follows the suffix (``.png``, ``.jpg``, ``.ppm`` ...).
    """
    p = Path(path)
    data = to_uint8(image)
    with atomic_path(p) as tmp:
        try:
            ok = cv2.imwrite(str(tmp), data[:, :, ::-1])
        except cv2.error as exc:  # unknown suffix
            raise StyleflowError(f"{p}: cannot write this image format ({exc.err.strip()}); use .png or .jpg") from None
        if not ok:
            raise StyleflowError(f"{p}: could not write the image; use a .png or .jpg name in a writable folder")


def to_uint8(image: Image) -> np.ndarray:
    """``(H, W, 3)`` float in [0, 1] → uint8 in [0, 255], rounded."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def check_size(height: int, what: str = "--size") -> int:
    """Validate an output height in pixels; return it."""
    if not isinstance(height, (int, np.integer)) or isinstance(height, bool):
        raise StyleflowError(f"{what}: expected a whole number of pixels, got {height!r}")
    if height < 8:
        raise StyleflowError(f"{what} {height}: too small; use a height of at least 8 pixels")
    if height > MAX_SIDE:
        raise StyleflowError(f"{what} {height}: too large; the largest supported height is {MAX_SIDE} pixels")
    return int(height)


def size_for_height(shape: tuple[int, ...], height: int, even: bool = False) -> tuple[int, int]:
    """``(H, W)`` for an image of ``shape`` scaled to ``height``, keeping its aspect ratio.

    With ``even`` both sides are rounded to even numbers (video encoders need that).
    """
    h0, w0 = shape[0], shape[1]
    width = max(1, round(w0 * height / h0))
    if even:
        height = max(2, 2 * round(height / 2))
        width = max(2, 2 * round(width / 2))
    if width > MAX_SIDE:
        raise StyleflowError(
            f"height {height}: the width would be {width} pixels (aspect {w0}x{h0}); "
            f"the largest supported side is {MAX_SIDE}"
        )
    return height, width


def resize(image: Image, size: tuple[int, int]) -> Image:
    """Resize to ``(H, W)``: area averaging when shrinking, bicubic when enlarging."""
    h, w = size
    if (h, w) == image.shape[:2]:
        return image
    shrinking = h * w < image.shape[0] * image.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    out = cv2.resize(image, (w, h), interpolation=interp)
    if out.ndim == 2:
        out = out[:, :, None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def resize_to_height(image: Image, height: int, even: bool = False) -> Image:
    """Resize to ``height`` pixels, width keeping the aspect ratio."""
    return resize(image, size_for_height(image.shape, height, even=even))

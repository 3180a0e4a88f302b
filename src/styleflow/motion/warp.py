"""Backward warping with bilinear (default) or bicubic sampling.

To bring frame t onto frame t+1's grid, sample frame t at ``x + w_b(x)``, where ``w_b`` is the
backward flow (t+1 → t) on frame t+1's grid: ``out(x) = image(x + flow(x))``.
"""

from __future__ import annotations

import cv2
import numpy as np

from styleflow.errors import StyleflowError


def sample_points(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling coordinates ``(x + u, y + v)`` as two ``(H, W)`` float32 maps."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return gx + flow[..., 0], gy + flow[..., 1]


def inside_mask(flow: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: True where ``x + flow(x)`` lies inside the source image.

    Inside means within ``[0, W-1] x [0, H-1]``, the range where bilinear sampling needs no
    value from beyond the border.
    """
    h, w = flow.shape[:2]
    mx, my = sample_points(flow)
    return (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1) & np.isfinite(mx) & np.isfinite(my)


#: Sampling methods of :func:`warp`.
INTERPOLATIONS = ("bilinear", "bicubic")


def warp(image: np.ndarray, flow: np.ndarray, interpolation: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """Backward-warp ``image`` by ``flow``: ``out(x) = image(x + flow(x))``.

    Args:
        image: ``(H, W, C)`` or ``(H, W)`` array (any float or uint8 values; float32 result).
        flow: ``(H, W, 2)`` float pixels on the *output* grid (u then v); same H, W as image.
        interpolation: ``bilinear`` (exact float arithmetic, the default) or ``bicubic``
            (OpenCV's ``remap``, positions quantised to 1/32 pixel, clipped to the image's value
            range): bicubic keeps more of a stylised frame's fine texture, whose loss bilinear
            blurring would raise.

    Returns:
        ``(warped, inside)``: ``warped`` has ``image``'s shape, float32; ``inside`` is an ``(H, W)``
        bool array, False where ``x + flow(x)`` falls outside the source (there ``warped`` holds
        the nearest border value, which callers should not trust).
    """
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise StyleflowError(f"warp: expected an (H, W, 2) flow, got shape {flow.shape}")
    if image.shape[:2] != flow.shape[:2]:
        raise StyleflowError(
            f"warp: image is {image.shape[1]}x{image.shape[0]} but the flow is "
            f"{flow.shape[1]}x{flow.shape[0]}; compute the flow at the image's resolution"
        )
    if interpolation not in INTERPOLATIONS:
        raise StyleflowError(f"warp interpolation {interpolation!r}: expected {' or '.join(INTERPOLATIONS)}")
    flow = flow.astype(np.float32, copy=False)
    mx, my = sample_points(flow)
    h, w = flow.shape[:2]
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    src = np.asarray(image, dtype=np.float32)
    if interpolation == "bilinear":
        return bilinear(src, mx, my), inside
    return bicubic(src, mx, my), inside


def bilinear(image: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """Sample ``image`` ((H, W) or (H, W, C)) at float coordinates ``(mx, my)``, bilinear.

    Exact float arithmetic (OpenCV's ``remap`` quantises positions to 1/32 pixel). Coordinates
    outside the image are clamped to the border; NaN coordinates sample pixel (0, 0).
    """
    h, w = image.shape[:2]
    mx = np.nan_to_num(np.clip(mx, 0, w - 1), nan=0.0)
    my = np.nan_to_num(np.clip(my, 0, h - 1), nan=0.0)
    x0 = np.minimum(np.floor(mx).astype(np.intp), max(w - 2, 0))
    y0 = np.minimum(np.floor(my).astype(np.intp), max(h - 2, 0))
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    ax = (mx - x0).astype(np.float32)
    ay = (my - y0).astype(np.float32)
    if image.ndim == 3:
        ax = ax[..., None]
        ay = ay[..., None]
    top = image[y0, x0] * (1 - ax) + image[y0, x1] * ax
    bottom = image[y1, x0] * (1 - ax) + image[y1, x1] * ax
    return (top * (1 - ay) + bottom * ay).astype(np.float32, copy=False)


def bicubic(image: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """Sample ``image`` ((H, W) or (H, W, C) float32) at ``(mx, my)`` with OpenCV's bicubic
    ``remap``; the border replicated, the result clipped to the image's own value range (cubic
    weights overshoot at edges). NaN coordinates sample pixel (0, 0)."""

    mx = np.nan_to_num(mx, nan=0.0).astype(np.float32, copy=False)
    my = np.nan_to_num(my, nan=0.0).astype(np.float32, copy=False)
    out = cv2.remap(image, mx, my, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if image.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[..., None]
    return np.clip(out, image.min(), image.max()).astype(np.float32, copy=False)


def warp_tensor(images, flow):
    """Differentiable backward warp of a batch, as :func:`warp` (bilinear) does one image.

    Args:
        images: ``(B, C, H, W)`` float tensor.
        flow: ``(B, H, W, 2)`` float tensor of pixels on the output grid (u then v).
    Returns:
        ``(B, C, H, W)``: ``out(x) = images(x + flow(x))``, the border clamped outside the image
        (as :func:`bilinear`); gradients reach ``images`` (training losses through the warp).
    """
    import torch  # here: torch takes ~5 s and the workflow imports this module when it parses
    import torch.nn.functional as F

    b, _, h, w = images.shape
    if flow.shape != (b, h, w, 2):
        raise StyleflowError(f"warp_tensor: flow of shape {tuple(flow.shape)} for images of shape {tuple(images.shape)}")
    gy, gx = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    mx = (gx + flow[..., 0]).clamp(0, w - 1)
    my = (gy + flow[..., 1]).clamp(0, h - 1)
    # align_corners=True: -1 and 1 are the centres of the corner pixels, i.e. pixel 0 and W-1
    grid = torch.stack((2 * mx / max(w - 1, 1) - 1, 2 * my / max(h - 1, 1) - 1), dim=-1)
    return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="border", align_corners=True)

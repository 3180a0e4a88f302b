"""Content loss split by region: inside and outside a frame's consistency mask (issue 24, "ghosts").

The fixed-backbone content loss of :mod:`styleflow.eval.metrics` is a mean over the positions of
one feature map (``relu4_2``, 1/8 of the frame's size) of the squared feature difference between
output and content frame. :func:`content_loss_map` keeps it per position; :func:`region_losses`
averages that map with the mask's weights (the mask resized to the feature grid by area), so

    tracked     = Σ m·e / Σ m            (pixels the flow carried: mask 1)
    disoccluded = Σ (1 − m)·e / Σ (1 − m) (pixels it could not: mask 0)

and the mean of the map is exactly :meth:`LossMeter.__call__`'s content loss.

**The grid an image was optimised on.** The backbone's ``relu4_2`` features sit on a grid of
stride 8 px (three 2x2 max-poolings), and an optimised image fits the content's features *on that
grid*: the same fresh frame, cropped together with its content by a few pixels, measures 10–30 %
higher than on the grid it was optimised on (docs/ghosts.md, "Fourth round"). A frame that is the
previous result moved by the flow sits on another phase of the grid, so comparing it with a frame
optimised from scratch on its own grid counts that fit as a loss of faithfulness.
:func:`shifted_region_losses` measures both on the same :data:`GRID_SHIFTS` crops (each phase of
the grid once per axis) and averages, which compares what the eye compares.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from styleflow.enc.tensors import to_tensor
from styleflow.errors import StyleflowError
from styleflow.loss.meter import LossMeter

#: Crop offsets ``(dy, dx)`` of :func:`shifted_region_losses`: every residue 0–7 of the backbone's
#: stride-8 grid once per axis, (0, 0) included.
GRID_SHIFTS: tuple[tuple[int, int], ...] = tuple((i, 5 * i % 8) for i in range(8))
#: Pixels cropped from each axis by :func:`shifted_region_losses` (the largest offset + 1).
GRID_MARGIN = 8


@torch.no_grad()
def content_loss_map(meter: LossMeter, image: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``(h, w)`` float64 map of the content loss per feature position (layer-weighted, on the
    meter's feature scale); its mean is the meter's content loss of ``image`` against ``content``.

    Args:
        image, content: ``(H, W, 3)`` float RGB in [0, 1], the same size.
    """
    if image.shape != content.shape:
        raise StyleflowError(f"content loss map: image {image.shape} and content {content.shape} differ in size")
    feats = meter.features(to_tensor(image, meter.device))
    targets = meter.content_targets(to_tensor(content, meter.device))
    total: np.ndarray | None = None
    for e_t in meter.content_error_maps(feats, targets).values():
        e = e_t.float().cpu().numpy().astype(np.float64)
        if total is not None and e.shape != total.shape:  # several content layers: the first one's grid
            e = cv2.resize(e, (total.shape[1], total.shape[0]), interpolation=cv2.INTER_AREA)
        total = e if total is None else total + e
    assert total is not None, "the meter has no content layers"
    return total


def region_losses(loss_map: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Mean of ``loss_map`` ``(h, w)`` overall, over the tracked and over the disoccluded pixels.

    Args:
        loss_map: :func:`content_loss_map`'s output.
        mask: ``(H, W)`` reliability in [0, 1] on the frame's grid (1: tracked), resized by area.
    Returns:
        ``{"all", "tracked", "disoccluded", "disoccluded_fraction"}``; a region with no weight is NaN.
    """
    m = cv2.resize(mask.astype(np.float64), (loss_map.shape[1], loss_map.shape[0]), interpolation=cv2.INTER_AREA)
    m = np.clip(m, 0.0, 1.0)
    inv = 1.0 - m

    def mean(w: np.ndarray) -> float:
        s = float(w.sum())
        return float((w * loss_map).sum() / s) if s > 1e-9 else float("nan")

    return {"all": float(loss_map.mean()), "tracked": mean(m), "disoccluded": mean(inv),
            "disoccluded_fraction": float(inv.mean())}


def shifted_region_losses(meter: LossMeter, image: np.ndarray, content: np.ndarray, mask: np.ndarray | None = None,
                          shifts: tuple[tuple[int, int], ...] = GRID_SHIFTS,
                          margin: int = GRID_MARGIN) -> dict[str, float]:
    """:func:`region_losses` averaged over crops of ``image``, ``content`` and ``mask`` taken
    together at each offset of ``shifts``: the window ``[dy, H − margin + dy) x [dx, W − margin + dx)``.

    Args:
        image, content: ``(H, W, 3)`` float RGB in [0, 1], the same size, larger than ``margin``.
        mask: ``(H, W)`` reliability in [0, 1] (None: every pixel tracked).
        shifts: offsets ``(dy, dx)``, each in ``[0, margin]``.
    Returns:
        The keys of :func:`region_losses`, each the mean over the shifts (NaN-free shifts only).
    """
    h, w = image.shape[:2]
    if image.shape != content.shape or (mask is not None and mask.shape != (h, w)):
        raise StyleflowError(f"shifted region losses: image {image.shape}, content {content.shape} and mask "
                             f"{None if mask is None else mask.shape} differ in size")
    if min(h, w) <= margin or not shifts or any(not (0 <= dy <= margin and 0 <= dx <= margin) for dy, dx in shifts):
        raise StyleflowError(f"shifted region losses: offsets {shifts} with margin {margin} do not fit a {w}x{h} image")
    full = np.ones((h, w)) if mask is None else mask
    rows = []
    for dy, dx in shifts:
        win = (slice(dy, h - margin + dy), slice(dx, w - margin + dx))
        loss_map = content_loss_map(meter, np.ascontiguousarray(image[win]), np.ascontiguousarray(content[win]))
        rows.append(region_losses(loss_map, full[win]))
    out = {}
    for key in rows[0]:
        vals = [r[key] for r in rows if np.isfinite(r[key])]
        out[key] = float(np.mean(vals)) if vals else float("nan")
    return out

"""Per-pixel trust in the warped previous frame beyond the consistency mask (issue 24, docs/ghosts.md).

:func:`content_change_trust`: the consistency mask says where the flow is self-consistent; it does
not see where the *content* itself changed along the flow (flow errors inside objects, lighting,
motion blur). There the warped stylisation is stale, and the temporal term should hold it less:
``trust = c · exp(−(Δ/τ)²)`` with ``Δ`` the per-pixel mean absolute difference (over channels,
Gaussian-smoothed at 1 px) between the content frame and the previous content frame warped the
same way. :func:`change_weight` is the complement, ``1 − exp(−(Δ/τ)²)``: how much a pixel's
content changed, which gates the disocclusion fill (``fill_change``, :mod:`styleflow.video.fill`).

Images are ``(H, W, 3)`` float32 RGB in [0, 1], masks ``(H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["change_weight", "content_change", "content_change_trust"]


def content_change(content: np.ndarray, warped_content: np.ndarray) -> np.ndarray:
    """``Δ`` (H, W): mean absolute difference over channels of the content frame and the previous
    content frame warped onto it, Gaussian-smoothed (σ 1 px)."""
    d = np.abs(content.astype(np.float32) - warped_content.astype(np.float32)).mean(axis=2)
    return cv2.GaussianBlur(d, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)


def _unchanged(change: np.ndarray, tau: float) -> np.ndarray:
    """``exp(−(Δ/τ)²)``: ~1 where the content stayed the same along the flow, ~0 where it changed."""
    return np.exp(-np.square(change / np.float32(tau)))


def content_change_trust(mask: np.ndarray, change: np.ndarray, tau: float) -> np.ndarray:
    """``mask · exp(−(Δ/τ)²)`` (H, W) float32: the temporal term's per-pixel weight, lower where the
    content changed along the flow (``change``, :func:`content_change`) by more than about ``tau``
    (in [0, 1] intensity units)."""
    return (mask * _unchanged(change, tau)).astype(np.float32)


def change_weight(change: np.ndarray, tau: float) -> np.ndarray:
    """``1 − exp(−(Δ/τ)²)`` (H, W) float32: ~0 where the content stayed the same along the flow,
    ~1 where it changed by more than about ``tau`` ([0, 1] intensity units)."""
    return (1.0 - _unchanged(change, tau)).astype(np.float32)

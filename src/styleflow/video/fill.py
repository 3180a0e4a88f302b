"""What a later frame starts from where the flow could not carry the previous one (issue 24).

A ``prev_warped`` frame starts from the previous stylised frame warped onto its grid, ``w``. Where
the consistency mask ``c`` distrusts the flow (disocclusions, motion boundaries, the uncovered
border) that start is stale: it shows what *was* there. :func:`initial_image` fills those pixels
as the variant's ``disocclusion_fill`` says:

* ``warped``    — nothing: ``w`` everywhere (Ruder et al.'s code);
* ``content``   — ``c·w + (1 − c)·content``: the content's own, unstylised colours, which pull the
  global style statistics and made static regions drift (docs/long-clips.md);
* ``recolored`` — ``c·w + (1 − c)·r``, ``r`` the content recoloured to the statistics of the
  *neighbouring trusted stylised pixels* (:func:`recolor_to_neighbours`): the new content's shapes
  in the colours the painting has there, which the optimiser only has to texture.

With ``fill_change: τ`` the fill's weight ``1 − c`` is multiplied by how much the content changed
along the flow (:func:`styleflow.video.trust.change_weight`; 1 where the flow comes from outside the
previous frame): a distrusted pixel that shows the same content as before keeps ``w`` — it is no
ghost, and fresh colours there every frame cost iterations and make static regions drift.

Images are ``(H, W, 3)`` float32 RGB in [0, 1]; masks ``(H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

from styleflow.errors import StyleflowError

#: ``disocclusion_fill`` choices (the registry's option lists them).
FILLS = ("warped", "content", "recolored")

#: Neighbourhood of :func:`recolor_to_neighbours`: Gaussian σ as a fraction of the frame's height.
NEIGHBOURHOOD = 0.08

#: Largest contrast gain σ_s / σ_c (a flat content neighbourhood would otherwise amplify noise).
MAX_GAIN = 3.0

#: Weight (in pixels' worth of trusted mask) of the whole frame's statistics in every neighbourhood:
#: a hole larger than the neighbourhood falls back to the frame's trusted pixels' statistics.
GLOBAL_PRIOR = 1e-3


def _local_moments(image: np.ndarray, weight: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted local mean and standard deviation per channel, ``(H, W, 3)`` each (normalised
    Gaussian convolution, the whole frame's weighted moments as a prior)."""
    w = weight[..., None].astype(np.float64)
    x = image.astype(np.float64)

    def blur(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)

    total = max(float(w.sum()), 1e-9)
    g_mean = (w * x).sum(axis=(0, 1)) / total
    g_sq = (w * x * x).sum(axis=(0, 1)) / total
    prior = GLOBAL_PRIOR
    den = blur(weight.astype(np.float64))[..., None] + prior
    mean = (blur(w * x) + prior * g_mean) / den
    sq = (blur(w * x * x) + prior * g_sq) / den
    std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    return mean, std


def recolor_to_neighbours(content: np.ndarray, stylised: np.ndarray, trust: np.ndarray,
                          neighbourhood: float = NEIGHBOURHOOD) -> np.ndarray:
    """``content`` with, at every pixel, the mean and spread of the trusted stylised pixels around it.

    Per channel, ``r = μ_s + min(σ_s / σ_c, MAX_GAIN) · (content − μ_c)`` with ``μ, σ`` local means
    and standard deviations over a Gaussian neighbourhood of σ = ``neighbourhood`` × the frame's
    height: of ``stylised`` (s) weighted by ``trust`` (its stale pixels do not count), of
    ``content`` (c) over every pixel (the new object included, so a region brighter than its
    surroundings in the content stays brighter in the result, without its contrast blown up).

    Args:
        content: the frame's content ``(H, W, 3)``.
        stylised: the warped previous stylised frame, same shape.
        trust: ``(H, W)`` in [0, 1], the consistency mask (1: the warp is right there).
    Returns:
        ``(H, W, 3)`` float32 in [0, 1].
    """
    if content.shape != stylised.shape or trust.shape != content.shape[:2]:
        raise StyleflowError(f"recolour fill: content {content.shape}, stylised {stylised.shape} and mask "
                             f"{trust.shape} must have the same size")
    sigma = max(1.0, neighbourhood * content.shape[0])
    mu_s, sd_s = _local_moments(stylised, trust, sigma)
    mu_c, sd_c = _local_moments(content, np.ones_like(trust), sigma)
    gain = np.minimum(sd_s / np.maximum(sd_c, 1e-3), MAX_GAIN)
    out = mu_s + gain * (content.astype(np.float64) - mu_c)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def initial_image(fill: str, warped: np.ndarray, trust: np.ndarray, content: np.ndarray,
                  changed: np.ndarray | None = None) -> np.ndarray:
    """A ``prev_warped`` frame's start: ``warped`` where ``trust`` is 1, ``fill``'s image where it is 0.

    Args:
        fill: one of :data:`FILLS`.
        warped: the previous stylised frame warped onto this frame ``(H, W, 3)``.
        trust: the consistency mask times the warp's inside-the-frame mask ``(H, W)`` in [0, 1].
        content: this frame's content ``(H, W, 3)``.
        changed: ``(H, W)`` in [0, 1] or None: how much the content changed along the flow
            (:func:`styleflow.video.trust.change_weight`); the fill's weight is ``(1 − trust) ·
            changed`` (a distrusted pixel whose content is the same keeps the warped frame). None: ``1 − trust``.
    """
    if fill == "warped":
        return warped
    if fill == "content":
        other = content
    elif fill == "recolored":
        other = recolor_to_neighbours(content, warped, trust)
    else:
        raise StyleflowError(f"disocclusion_fill {fill!r}: expected one of {', '.join(FILLS)}")
    g = 1.0 - trust
    if changed is not None:
        if changed.shape != trust.shape:
            raise StyleflowError(f"disocclusion fill: change weights {changed.shape} and mask {trust.shape} differ in size")
        g = g * changed
    g = g[..., None]
    return ((1.0 - g) * warped + g * other).astype(np.float32)

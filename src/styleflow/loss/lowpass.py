"""A temporal loss that forgives what the warp destroys (issue 24, docs/ghosts.md).

Ruder et al.'s short-term loss (:func:`styleflow.loss.functional.temporal_loss`) holds every
trusted pixel at the previous result *warped*: an image resampled once per frame, so after k
frames the target is the painting blurred k times, and the content and style terms cannot
re-sharpen the strokes without the temporal term pulling them back. Here the difference
``d = x − warped`` is split at a scale of ``sigma`` px into its low-pass part (colour and structure:
what flickers) and the rest (the fine texture the resampling blurred); the low-pass part is
penalised fully, the rest with weight ``detail`` (0: not at all).

The low-pass part is a *normalised* Gaussian convolution over the trusted pixels,
``low = G_σ∗(c·d) / G_σ∗c``, so the differences at distrusted pixels (disocclusions, where ``c`` is
0) do not leak into their trusted neighbours' term. Tensors: images ``(1, 3, H, W)``, masks
``(1, 1, H, W)`` or ``(H, W)`` in [0, 1]; sigma in pixels of the image being optimised.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from styleflow.loss.functional import temporal_loss

__all__ = ["gaussian_blur", "lowpass_difference", "temporal_term_loss"]

#: kernel radius in units of sigma
RADIUS_SIGMAS = 3.0


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``x`` (B, C, H, W) with standard deviation ``sigma`` px,
    reflected borders (the radius is clipped to the image). ``sigma`` ≤ 0: ``x`` itself."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(RADIUS_SIGMAS * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    i = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(i * i) / (2.0 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    out = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def lowpass_difference(image: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """``G_σ∗(c·(x − w)) / G_σ∗c``: the trusted pixels' difference at the scale ``sigma`` px,
    (B, 3, H, W); 0 where no trusted pixel is near."""
    if mask.ndim == 2:
        mask = mask[None, None]
    num = gaussian_blur(mask * (image - warped), sigma)
    den = gaussian_blur(mask.expand(image.shape[0], 1, -1, -1).contiguous(), sigma)
    return num / den.clamp_min(1e-3)


def temporal_term_loss(image: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor, lowpass: float = 0.0,
                       detail: float = 0.0) -> torch.Tensor:
    """The temporal loss of one term: with ``lowpass`` 0, exactly Ruder et al.'s
    (:func:`~styleflow.loss.functional.temporal_loss`); else ``(1/D) Σ c·(low² + detail·(d − low)²)``
    with ``d = x − w`` and ``low`` its :func:`lowpass_difference` at ``lowpass`` px (``D = 3·H·W``)."""
    if lowpass <= 0:
        return temporal_loss(image, warped, mask)
    m = mask[None, None] if mask.ndim == 2 else mask
    low = lowpass_difference(image, warped, m, lowpass)
    err = low.pow(2)
    if detail > 0:
        err = err + detail * (image - warped - low).pow(2)
    return (m * err).sum() / image[0].numel() / image.shape[0]

"""Colour conversions for luminance-only style transfer (Gatys et al., "Preserving colour", 2016).

Images are ``(H, W, 3)`` float32 RGB in [0, 1]. The YIQ transform separates luminance ``Y`` from
chrominance ``I, Q``; stylising ``Y`` only and taking ``I, Q`` from the content keeps its colours.
"""

from __future__ import annotations

import numpy as np

_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float32,
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB → (H, W, 3) YIQ (Y in [0, 1])."""
    return image @ _RGB_TO_YIQ.T


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) YIQ → (H, W, 3) RGB, clipped to [0, 1]."""
    return np.clip(image @ _YIQ_TO_RGB.T, 0.0, 1.0).astype(np.float32)


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB → (H, W, 3) gray image whose three channels are the luminance Y."""
    y = image @ _RGB_TO_YIQ[0]
    return np.repeat(y[:, :, None], 3, axis=2).astype(np.float32)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Style luminance (3-channel gray) shifted and scaled to the content's mean and std."""
    ys, yc = luminance(style), luminance(content)
    out = (ys - ys.mean()) * (yc.std() / max(float(ys.std()), 1e-6)) + yc.mean()
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def recolor(stylised_luminance: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Combine the stylised image's luminance with the content's chrominance → RGB."""
    yiq = rgb_to_yiq(content)
    yiq[:, :, 0] = stylised_luminance @ _RGB_TO_YIQ[0]
    return yiq_to_rgb(yiq)


def transfer_colors(image: np.ndarray, palettes: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """``image`` with the colour statistics of ``palettes`` (linear colour transfer, Cholesky form;
    Gatys et al. 2017, "Controlling perceptual factors"): ``out = A (x − μ_x) + μ_p`` with
    ``A = L_p L_x⁻¹``, ``L`` the Cholesky factors of the RGB covariances. Several palettes blend
    their mean and covariance with ``weights``. Images (H, W, 3) float32 RGB in [0, 1]; the
    result is clipped to [0, 1].
    """
    weights = [1.0] * len(palettes) if weights is None else list(weights)
    total = float(sum(weights))
    x = image.reshape(-1, 3).astype(np.float64)
    mean_p = np.zeros(3)
    second_p = np.zeros((3, 3))
    for p, w in zip(palettes, weights):
        q = p.reshape(-1, 3).astype(np.float64)
        mean_p += (w / total) * q.mean(0)
        second_p += (w / total) * (q.T @ q) / len(q)
    cov_p = second_p - np.outer(mean_p, mean_p)
    mean_x = x.mean(0)
    cov_x = np.cov(x.T, bias=True)
    eye = 1e-5 * np.eye(3)
    a = np.linalg.cholesky(cov_p + eye) @ np.linalg.inv(np.linalg.cholesky(cov_x + eye))
    out = (x - mean_x) @ a.T + mean_p
    return np.clip(out, 0.0, 1.0).reshape(image.shape).astype(np.float32)

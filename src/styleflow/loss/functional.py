"""Loss functions of Gatys et al. (content, Gram style, total variation) and Ruder et al. (temporal).

All functions are pure: tensors in, scalar tensor out. Feature maps are ``(B, C, H, W)``;
images are ``(B, 3, H, W)`` RGB in [0, 1]. The Gram matrix is :func:`styleflow.loss.gram.gram`
(re-exported here).
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F

from styleflow.loss.gram import gram

__all__ = ["content_loss", "gram", "style_loss", "temporal_loss", "total_variation"]


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between feature maps of the same shape."""
    return F.mse_loss(features, target)


def style_loss(
    features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
    scale: float = 1.0,
) -> torch.Tensor:
    """``Σ_l w_l · mean((s·G(F_l) − G_l)²)`` over the layers in ``layer_weights``.

    ``scale`` ``s`` brings the features' Grams to the targets' range (the loss meter's ``s2`` for
    Caffe-preprocessed weights; 1 otherwise). Features ``(1, C, H, W)``, targets ``(1, C, C)``.
    """
    total = None
    for name, weight in layer_weights.items():
        term = weight * F.mse_loss(scale * gram(features[name]), target_grams[name])
        total = term if total is None else total + term
    assert total is not None, "no style layers"
    return total


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels (horizontal plus vertical)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


def temporal_loss(image: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Ruder et al.'s short-term loss ``(1/D) Σ c·(x − w)²``.

    Args:
        image: the frame being optimised, (B, 3, H, W).
        warped: the previous stylised frame warped onto this frame's grid, (B, 3, H, W).
        mask: reliability ``c`` in [0, 1], (B, 1, H, W) or (H, W); broadcast over channels.
    Returns:
        The sum over pixels and channels divided by ``D = 3·H·W`` (B = 1).
    """
    if mask.ndim == 2:
        mask = mask[None, None]
    return (mask * (image - warped).pow(2)).sum() / image[0].numel() / image.shape[0]

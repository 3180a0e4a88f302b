"""Style targets: the blended Gram matrices of one or more style images, per content size.

A run with several style images (``style_weights``) matches the weighted mean of their Grams,
``G_l = Σ_s w_s · G_l(S_s)`` with the weights normalised to sum 1. The style images are scaled to
a height that depends on the content's size (the caller's rule, e.g. ``style_scale`` × the
content's height) and the targets are computed once per content size (a video's frames share one).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from styleflow.enc.tensors import to_tensor
from styleflow.errors import StyleflowError
from styleflow.io.images import resize, size_for_height
from styleflow.loss.gram import gram

#: ``(1, 3, H, W)`` image tensor → {layer: (1, C, h, w) features}
FeatureFn = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]


def blend_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """Blend weights of ``count`` style images, normalised to sum 1 (None: equal weights).

    Raises:
        StyleflowError: a count mismatch, a negative or non-finite weight, or a zero sum.
    """
    w = [float(x) for x in weights] if weights is not None else [1.0] * count
    if len(w) != count:
        raise StyleflowError(f"--style-weights: {len(w)} weights for {count} style images")
    if any(not math.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
        raise StyleflowError(f"--style-weights {w}: expected non-negative numbers with a positive sum")
    total = sum(w)
    return [x / total for x in w]


class StyleTargets:
    """Blended Gram targets ``{layer: (1, C, C)}`` of style images, cached per content size.

    Args:
        styles: style images, ``(H, W, 3)`` float32 RGB in [0, 1] (at least one).
        weights: their blend weights (:func:`blend_weights`).
        layers: the style layers.
        features: the backbone as the losses see it (:data:`FeatureFn`).
        device: where the tensors go.
        height: content size (H, W) → the height the style images are scaled to.
        factor: multiplies every Gram (e.g. the square of the backbone's feature scale).
        prepare: applied to each scaled style image before its features are taken, or None
            (e.g. luminance matching for colour-preserving runs); read at computation time.
    """

    def __init__(
        self,
        styles: Sequence[np.ndarray],
        weights: Sequence[float] | None,
        layers: Sequence[str],
        features: FeatureFn,
        device: torch.device | str,
        *,
        height: Callable[[tuple[int, int]], int],
        factor: float = 1.0,
        prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        if not styles:
            raise StyleflowError("at least one style image is needed")
        self.styles = list(styles)
        self.weights = blend_weights(weights, len(self.styles))
        self.layers = list(layers)
        self._features = features
        self._device = device
        self._height = height
        self._factor = factor
        self._prepare = prepare
        self._cache: dict[tuple[int, int], dict[str, torch.Tensor]] = {}

    @property
    def sizes(self) -> set[tuple[int, int]]:
        """The content sizes whose targets have been computed."""
        return set(self._cache)

    def __call__(self, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """The targets for a content image of ``size`` (H, W); computed on the first call."""
        if size not in self._cache:
            height = self._height(size)
            blended: dict[str, torch.Tensor] = {}
            with torch.no_grad():
                for style, weight in zip(self.styles, self.weights):
                    if weight == 0:
                        continue
                    img = resize(style, size_for_height(style.shape, height))
                    if self._prepare is not None:
                        img = self._prepare(img)
                    feats = self._features(to_tensor(img, self._device))
                    for name in self.layers:
                        g = (weight * self._factor) * gram(feats[name])
                        blended[name] = g if name not in blended else blended[name] + g
            self._cache[size] = blended
        return self._cache[size]

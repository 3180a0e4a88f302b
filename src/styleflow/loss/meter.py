"""The one loss meter: content and style losses of images with one backbone, one set of layer
weights and one set of style targets.

The optimiser's objective (:class:`styleflow.optim.stylizer.Stylizer`), the metrics' fixed-backbone
losses (:mod:`styleflow.eval.metrics`) and the layer figure's per-layer losses
(:mod:`styleflow.viz.layer_figure`) are all this meter with other layers and weights, so the
three cannot drift apart.

Definitions (:mod:`styleflow.loss.functional`): content ``Σ_l w_l · mean((F_l − P_l)²)``, style
``Σ_l w_l · mean((G_l − A_l)²)`` with ``G = F Fᵀ / (C·H·W)`` (:func:`styleflow.loss.gram.gram`).
Features are on the torchvision-normalised scale: the backbone returns them unscaled and the
meter folds the scale ``s`` in as a number (content × s², Gram × s²), which saves a pass over
every feature map and its gradient. Images are ``(H, W, 3)`` float32 RGB in [0, 1]; tensors
``(1, 3, H, W)`` channels-last on the meter's device.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from styleflow.enc.tensors import to_tensor
from styleflow.enc.vgg import VGGFeatures, needed_layers
from styleflow.enc.weights import load_backbone
from styleflow.loss import functional
from styleflow.loss.gram import gram
from styleflow.loss.targets import StyleTargets, blend_weights


class LossMeter:
    """Content and style losses against content features and blended style Grams.

    Args:
        model: the backbone (:class:`~styleflow.enc.vgg.VGGFeatures`) with every layer below.
        content_layers, style_layers: layer → weight.
        styles: style images (none: the meter measures no style loss).
        style_weights: their blend weights (normalised to sum 1).
        device: where the model lives.
        style_height: content size (H, W) → height the style images are scaled to (default: the
            content's height).
        prepare_style: applied to each scaled style image before its Grams are taken (or None).
    """

    def __init__(
        self,
        model: VGGFeatures,
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        styles: Sequence[np.ndarray] = (),
        style_weights: Sequence[float] | None = None,
        *,
        device: torch.device | str = "cpu",
        style_height: Callable[[tuple[int, int]], int] | None = None,
        prepare_style: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        self.model = model
        self.device = torch.device(device)
        self.content_layers = dict(content_layers)
        self.style_layers = dict(style_layers)
        #: the backbone's feature scale, squared: applied to the losses as a number
        self.s2 = float(model.scale) ** 2
        #: autocast dtype of the backbone's forward (None: float32)
        self.amp_dtype: torch.dtype | None = None
        self.targets: StyleTargets | None = None
        if styles:
            self.targets = StyleTargets(styles, style_weights, list(self.style_layers), self.features, self.device,
                                        height=style_height or (lambda size: size[0]), factor=self.s2,
                                        prepare=prepare_style)  # fmt: skip

    @classmethod
    def load(
        cls,
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        styles: Sequence[np.ndarray] = (),
        style_weights: Sequence[float] | None = None,
        *,
        weights: str = "auto",
        backbone: str = "auto",
        pooling: str = "max",
        device: torch.device | str = "cpu",
        **kwargs: Any,
    ) -> "LossMeter":
        """A meter on a backbone loaded for exactly these layers (:func:`~styleflow.enc.weights.load_backbone`)."""
        if styles:
            blend_weights(style_weights, len(styles))  # a bad weight list fails before the weights load
        model = load_backbone(needed_layers(content_layers, style_layers), weights=weights, arch=backbone,
                              pooling=pooling, device=device)  # fmt: skip
        return cls(model, content_layers, style_layers, styles, style_weights, device=device, **kwargs)

    @property
    def styles(self) -> list[np.ndarray]:
        return self.targets.styles if self.targets is not None else []

    @property
    def style_weights(self) -> list[float]:
        """The blend weights, normalised to sum 1."""
        return self.targets.weights if self.targets is not None else []

    @property
    def backbone_info(self) -> dict[str, str | None]:
        """Which backbone and weights file measure the losses."""
        return self.model.info.as_dict()

    @property
    def info(self) -> dict[str, Any]:
        """:attr:`backbone_info` plus the layers and their weights."""
        return {**self.backbone_info, "content_layers": dict(self.content_layers), "style_layers": dict(self.style_layers)}

    # ------------------------------------------------------------------ tensors
    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Backbone activations of ``x`` (1, 3, H, W): float32, channels-last, *unscaled* (the
        losses apply :attr:`s2`).

        With :attr:`amp_dtype` set, only the backbone runs in it (autocast); Grams, losses and the
        image stay float32.
        """
        x = x.contiguous(memory_format=torch.channels_last)
        if self.amp_dtype is None:
            return self.model(x, scaled=False)
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype):
            feats = self.model(x, scaled=False)
        return {k: v.float() for k, v in feats.items()}

    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Features of the content image (1, 3, H, W) at the content layers."""
        with torch.no_grad():
            feats = self.features(content)
        return {name: feats[name] for name in self.content_layers}

    def style_targets(self, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Blended Gram targets for a content image of ``size`` (H, W), cached per size."""
        assert self.targets is not None, "this meter has no style images"
        return self.targets(size)

    def content_loss(self, feats: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Layer-weighted content loss (scalar tensor, differentiable)."""
        return sum(w * functional.content_loss(feats[n], targets[n]) for n, w in self.content_layers.items()) * self.s2  # type: ignore[return-value]

    def content_error_maps(self, feats: Mapping[str, torch.Tensor],
                           targets: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per content layer, the squared feature error averaged over channels, ``(h_l, w_l)``, times
        the layer's weight and the feature scale: the sum of their means is :meth:`content_loss`."""
        return {n: (feats[n] - targets[n]).pow(2).mean(dim=1)[0] * (w * self.s2) for n, w in self.content_layers.items()}

    def masked_content_loss(self, feats: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                            masks: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Content loss over the pixels ``masks`` weigh: ``Σ_l Σ m_l·e_l / Σ m_l`` with ``e_l`` of
        :meth:`content_error_maps` and ``m_l`` ``(h_l, w_l)`` weights on layer l's grid (all 1: the
        :meth:`content_loss`). A layer whose mask weighs nothing adds 0."""
        total = None
        for n, e in self.content_error_maps(feats, targets).items():
            m = masks[n]
            term = (m * e).sum() / m.sum().clamp_min(1e-6)
            total = term if total is None else total + term
        return total  # type: ignore[return-value]

    def style_loss(self, feats: Mapping[str, torch.Tensor], grams: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Layer-weighted style loss against Gram targets (scalar tensor, differentiable)."""
        return functional.style_loss(feats, grams, self.style_layers, scale=self.s2)

    # ------------------------------------------------------------------ images
    @torch.no_grad()
    def __call__(self, image: np.ndarray, content: np.ndarray | None = None) -> tuple[float, float]:
        """``(content_loss, style_loss)`` of ``image`` (H, W, 3): NaN where there is nothing to
        compare (no ``content``, no style images)."""
        feats = self.features(to_tensor(image, self.device))
        c = s = float("nan")
        if content is not None:
            c = float(self.content_loss(feats, self.content_targets(to_tensor(content, self.device))))
        if self.targets is not None:
            s = float(self.style_loss(feats, self.targets(tuple(image.shape[:2]))))  # type: ignore[arg-type]
        return c, s

    @torch.no_grad()
    def layer_losses(self, image: np.ndarray, content: np.ndarray) -> dict[str, float]:
        """Unweighted losses of ``image`` at each layer: ``{"style relu1_1": …, …, "content relu1_1": …}``
        (style layers first), against ``content`` (H, W, 3) and the style targets at its size."""
        feats = self.features(to_tensor(image, self.device))
        targets = self.content_targets(to_tensor(content, self.device))
        out: dict[str, float] = {}
        if self.targets is not None:
            grams = self.targets(tuple(content.shape[:2]))  # type: ignore[arg-type]
            for n in self.style_layers:
                out[f"style {n}"] = float(F.mse_loss(self.s2 * gram(feats[n]), grams[n]))
        for n in self.content_layers:
            out[f"content {n}"] = float(functional.content_loss(feats[n], targets[n]) * self.s2)
        return out

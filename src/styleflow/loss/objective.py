"""The one objective of the project: a weighted sum of loss terms, shared by the optimisation
(:meth:`styleflow.optim.stylizer.Stylizer._losses`) and feed-forward training
(:func:`styleflow.ff.train.train`)::

    total = α·content + β·style + β·w_floor·style_floor + tv·TV + γ·temporal + λ·stability + κ·keyframe
            + κ_s·keyframe_style + κ_f·keyframe_feature

Each caller computes the parts its setting has (the optimisation: content and style of one image,
TV when its weight is > 0, the style floor's hinge, its temporal terms; training: content and style
of a batch, TV, the output temporal loss, the stability term, the L1 distance to optimised keyframes
with ``--keyframes`` and the Gram and feature distances to them) and :meth:`Objective.total` sums them
in :data:`TERMS` order (a float sum depends on its order: the order is part of the definition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch

#: The terms, in the order they are summed.
TERMS = ("content", "style", "style_floor", "tv", "temporal", "stability", "keyframe", "keyframe_style",
         "keyframe_feature")


@dataclass(frozen=True)
class Objective:
    """Weights of the terms (α ``content_weight``, β ``style_weight`` ...).

    ``temporal_weight`` None: the temporal part is summed as given (the optimisation weights each
    of its temporal terms, one γ per earlier frame, before summing them). ``style_floor_weight``
    multiplies β (the style floor pulls ``1 + style_floor_weight`` times harder above the floor).
    """

    content_weight: float
    style_weight: float
    tv_weight: float = 0.0
    temporal_weight: float | None = None
    stability_weight: float = 0.0
    style_floor_weight: float = 0.0
    keyframe_weight: float = 0.0
    keyframe_style_weight: float = 0.0
    keyframe_feature_weight: float = 0.0
    weights: dict[str, float | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", {
            "content": self.content_weight, "style": self.style_weight,
            "style_floor": self.style_floor_weight * self.style_weight, "tv": self.tv_weight,
            "temporal": self.temporal_weight, "stability": self.stability_weight,
            "keyframe": self.keyframe_weight, "keyframe_style": self.keyframe_style_weight,
            "keyframe_feature": self.keyframe_feature_weight,
        })

    def total(self, parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``Σ weight · part`` over the :data:`TERMS` present in ``parts`` (other keys, such as a
        monitored ``watched_content``, are not terms), in :data:`TERMS` order."""
        total: torch.Tensor | None = None
        for name in TERMS:
            if name not in parts:
                continue
            weight = self.weights[name]
            term = parts[name] if weight is None else weight * parts[name]
            total = term if total is None else total + term
        assert total is not None, "no loss terms"
        return total

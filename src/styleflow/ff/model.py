"""The model file of a trained network: weights plus everything that made them.

A model file is a ``torch.save`` dict::

    {"format": "styleflow-feedforward", "format_version": 1, "architecture": ARCHITECTURE,
     "net": {"width": 32, "blocks": 5}, "state_dict": {...},
     "record": {styles (paths + hashes), settings, backbone and weights file, training data
                (paths + hashes), steps done, seconds, versions}}

Written atomically (:mod:`styleflow.io.atomic`); :func:`load_model` turns every way a file can be
wrong (missing, truncated, not a model, another architecture or size) into one
:class:`~styleflow.errors.StyleflowError` line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from styleflow.errors import StyleflowError
from styleflow.ff.net import ARCHITECTURE, NetConfig, TransformNet
from styleflow.io.atomic import atomic_path

FORMAT = "styleflow-feedforward"
FORMAT_VERSION = 1


@dataclass
class Model:
    """A trained network and its record."""

    net: TransformNet
    record: dict[str, Any]
    path: Path | None = None

    @property
    def style_files(self) -> list[str]:
        return [s["path"] for s in self.record.get("styles", [])]


def save_model(path: str | os.PathLike[str], net: TransformNet, record: dict[str, Any]) -> Path:
    """Write ``net`` (weights on the CPU, float32) and ``record`` to ``path`` atomically."""
    out = Path(path)
    record = json.loads(json.dumps(record, default=str))  # plain types only: weights_only loading
    blob = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "architecture": ARCHITECTURE,
        "net": net.config.as_dict(),
        "state_dict": {k: v.detach().to("cpu", torch.float32) for k, v in net.state_dict().items()},
        "record": record,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.save(blob, tmp)
    return out


def read_blob(path: str | os.PathLike[str], what: str = "model") -> dict[str, Any]:
    """The dict inside a model or checkpoint file, or a one-line error saying what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise StyleflowError(f"{p}: no such {what} file (train one with `styleflow train`)")
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle garbage, a text file ...
        raise StyleflowError(f"{p}: not a readable {what} file ({type(exc).__name__}); is it truncated? "
                             f"train it again with `styleflow train`") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise StyleflowError(f"{p}: not a styleflow feed-forward {what} (made by `styleflow train`)")
    if blob.get("format_version") != FORMAT_VERSION:
        raise StyleflowError(f"{p}: {what} format version {blob.get('format_version')!r}, this styleflow reads "
                             f"{FORMAT_VERSION}; retrain it or use the styleflow version that made it")
    return blob


def net_from_blob(blob: dict[str, Any], path: Path) -> TransformNet:
    if blob.get("architecture") != ARCHITECTURE:
        raise StyleflowError(f"{path}: network architecture {blob.get('architecture')!r}, expected {ARCHITECTURE!r}")
    try:
        net = TransformNet(NetConfig(**blob["net"]))
        net.load_state_dict(blob["state_dict"])
    except (TypeError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise StyleflowError(f"{path}: the weights do not fit the network it names ({first})") from None
    return net


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> Model:
    """Load a model file onto ``device`` in eval mode."""
    p = Path(path)
    blob = read_blob(p)
    net = net_from_blob(blob, p).to(device).eval()
    net.requires_grad_(False)
    return Model(net, dict(blob.get("record") or {}), p)

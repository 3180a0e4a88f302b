"""Images ↔ backbone tensors.

Images are NumPy ``(H, W, 3)`` float32 RGB in [0, 1] (:mod:`styleflow.io.images`); the backbone
takes ``(1, 3, H, W)`` tensors, channels-last (its own layout, see :func:`styleflow.enc.weights.load_backbone`).
"""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(image: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """(H, W, 3) float32 → (1, 3, H, W) channels-last tensor on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    return t.to(device).contiguous(memory_format=torch.channels_last)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor → (H, W, 3) float32, clipped to [0, 1]."""
    return t.detach().clamp(0, 1)[0].permute(1, 2, 0).contiguous().cpu().numpy().astype(np.float32)

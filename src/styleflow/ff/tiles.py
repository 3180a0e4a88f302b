"""The network on frames too large to run whole: overlapping tiles, one set of normalisation
statistics, no seams.

Two things would show tile borders: the receptive field (a pixel near a tile's edge sees the tile's
reflection padding instead of its neighbours), and instance normalisation (each tile would be
normalised by its own mean and variance, so flat sky and busy foreground tiles come out in
different tones). :func:`apply_tiled` removes both:

* **statistics** — every :class:`~torch.nn.InstanceNorm2d` is first *recorded* on the whole frame,
  or, when that would not fit the budget either, on a copy scaled down to the largest size that
  does, then *applied* with those frozen statistics in every tile
  (``F.instance_norm(..., use_input_stats=False)``). Statistics from a smaller copy shift the
  tone slightly but alike everywhere, so still no seam: on a real 720p frame with the copy at 0.67
  of the pixels (what 1080p gets on a CPU), the output moved by 0.0024 on average (0.6 of an
  8-bit level; 99 % of values within 0.011, at most 0.029) against the whole-frame result;
* **halo** — each tile is computed with :func:`halo` extra pixels on every side (the network's
  receptive-field radius, rounded up to the stride 4) and only its core is kept; cores start at
  multiples of 4, so the stride-2 convolutions and the nearest upsampling see the same grid as on
  the whole frame. With statistics from the whole frame a tiled result equals the whole-frame
  result to float rounding (``tests/test_tiles.py``).

Memory: one tile's activations instead of the frame's. A ``width=32`` network needs about
24 x 32 x H x W bytes whole (1.6 GB at 1080p); its tiles (:func:`tile_side`) take at most half
the budget. Whole frames are also batched only as far as the budget allows (:func:`frames_per_pass`).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from styleflow.ff.net import TransformNet

#: Bytes of activations per pixel and channel of ``width`` when the network runs on a whole frame
#: (about six full-resolution float32 maps of ``width`` channels alive at once).
BYTES_PER_PIXEL_CHANNEL = 24
#: Activation budget of a whole frame before it is tiled: CPU bytes; on CUDA a quarter of the GPU.
CPU_BUDGET = 2**30
#: Smallest core side of a tile in pixels.
MIN_TILE = 64


def halo(net: TransformNet) -> int:
    """Receptive-field radius of ``net`` in input pixels, rounded up to a multiple of 4: 9x9 conv 4,
    two stride-2 3x3 convs 1 + 2, two 3x3 convs per residual block at 1/4 scale 8 each, the
    upsampling convs 2 + 1, the 9x9 head 4, and 4 for the nearest upsampling's rounding."""
    r = 4 + 1 + 2 + 8 * net.config.blocks + 2 + 1 + 4 + 4
    return 4 * math.ceil(r / 4)


def activation_bytes(net: TransformNet, height: int, width: int) -> int:
    """Estimated activation memory of ``net`` on a whole ``height`` x ``width`` frame."""
    return BYTES_PER_PIXEL_CHANNEL * net.config.width * height * width


def budget(device: torch.device) -> int:
    """Bytes of activations a whole frame may take on ``device`` (CPU: :data:`CPU_BUDGET`; CUDA:
    a quarter of the GPU's memory)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory // 4
    return CPU_BUDGET


def tile_side(net: TransformNet, device: torch.device) -> int:
    """Core side of the tiles on ``device``: the largest multiple of 4 whose tile, halo included,
    takes at most half the budget (716 px for ``width=32, blocks=5`` on a CPU)."""
    side = math.isqrt(budget(device) // 2 // (BYTES_PER_PIXEL_CHANNEL * net.config.width)) - 2 * halo(net)
    return max(MIN_TILE, side - side % 4)


def frames_per_pass(net: TransformNet, height: int, width: int, device: torch.device) -> int:
    """How many whole frames of this size one forward pass may take within the budget (0: the
    frame needs tiles)."""
    return budget(device) // max(1, activation_bytes(net, height, width))


def needs_tiles(net: TransformNet, height: int, width: int, device: torch.device) -> bool:
    """Whether a frame of this size goes through :func:`apply_tiled` on ``device``."""
    return activation_bytes(net, height, width) > budget(device)


@contextmanager
def frozen_instance_norms(net: nn.Module, source: torch.Tensor) -> Iterator[None]:
    """Within the block every :class:`~torch.nn.InstanceNorm2d` of ``net`` normalises with the
    per-channel mean and (biased) variance it saw on ``source`` ``(1, 3, h, w)``."""
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    stats: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].float()
        stats[module] = (x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False))

    hooks = [m.register_forward_pre_hook(record) for m in norms]
    try:
        with torch.no_grad():
            net(source)
    finally:
        for h in hooks:
            h.remove()

    def frozen(module: nn.InstanceNorm2d):
        mean, var = stats[module]

        def forward(x: torch.Tensor) -> torch.Tensor:
            return F.instance_norm(x, mean.to(x.dtype), var.to(x.dtype), module.weight, module.bias,
                                   use_input_stats=False, momentum=0.0, eps=module.eps)
        return forward

    for m in norms:
        m.forward = frozen(m)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for m in norms:
            del m.forward  # back to the class's forward


def _starts(size: int, tile: int) -> list[int]:
    """Core starts along one axis: multiples of 4, ``tile`` apart, covering ``size``."""
    return list(range(0, size, tile)) if size > 0 else []


def apply_tiled(net: TransformNet, x: torch.Tensor, tile: int | None = None, stats_pixels: int | None = None) -> torch.Tensor:
    """``net`` on one frame ``x`` ``(1, 3, H, W)`` in [0, 1], tile by tile; returns ``(1, 3, H, W)``.

    ``tile``: core side in pixels (rounded down to a multiple of 4, at least 16; None:
    :func:`tile_side`). Statistics come
    from ``x`` itself when it has at most ``stats_pixels`` pixels, else from ``x`` scaled down to
    that many (area averaging); None: as many as :func:`budget` allows on ``x``'s device. Call
    under ``torch.no_grad()``.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"apply_tiled takes one frame (1, 3, H, W), got {tuple(x.shape)}")
    _, _, h, w = x.shape
    if stats_pixels is None:
        stats_pixels = budget(x.device) // (BYTES_PER_PIXEL_CHANNEL * net.config.width)
    tile = tile_side(net, x.device) if tile is None else max(16, tile - tile % 4)
    source = x
    if h * w > stats_pixels:
        scale = math.sqrt(stats_pixels / (h * w))
        source = F.interpolate(x, size=(max(8, round(h * scale)), max(8, round(w * scale))), mode="area")
    pad = halo(net)
    out = torch.empty_like(x, dtype=torch.float32)
    with frozen_instance_norms(net, source):
        for top in _starts(h, tile):
            for left in _starts(w, tile):
                bottom, right = min(h, top + tile), min(w, left + tile)
                t0, l0 = max(0, top - pad), max(0, left - pad)
                t1, l1 = min(h, bottom + pad), min(w, right + pad)
                y = net(x[:, :, t0:t1, l0:l1])
                out[:, :, top:bottom, left:right] = y[:, :, top - t0:bottom - t0, left - l0:right - l0].float()
    return out

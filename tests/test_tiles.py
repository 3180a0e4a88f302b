"""The network in tiles (styleflow.ff.tiles): the same frame as whole, no seams, on a frame
whose tiles would show one (flat sky on one side, busy texture on the other)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleflow.ff.net import NetConfig, TransformNet
from styleflow.ff.tiles import activation_bytes, apply_tiled, halo, needs_tiles


@pytest.fixture(scope="module")
def net() -> TransformNet:
    torch.manual_seed(0)
    n = TransformNet(NetConfig(width=8, blocks=1)).eval()
    with torch.no_grad():  # non-trivial affine parameters, so tones differ visibly between tiles
        for m in n.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return n


def _frame(h: int, w: int) -> torch.Tensor:
    rng = np.random.default_rng(3)
    img = np.empty((h, w, 3), np.float32)
    img[:, : w // 2] = (0.55, 0.7, 0.95)  # flat sky
    img[:, w // 2 :] = rng.random((h, w - w // 2, 3))  # busy texture
    return torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()


def _naive_tiles(net: TransformNet, x: torch.Tensor, tile: int) -> torch.Tensor:
    out = torch.empty_like(x)
    for top in range(0, x.shape[2], tile):
        for left in range(0, x.shape[3], tile):
            out[:, :, top:top + tile, left:left + tile] = net(x[:, :, top:top + tile, left:left + tile])
    return out


@torch.no_grad()
def test_tiles_equal_the_whole_frame_where_naive_tiles_show_seams(net):
    x = _frame(64, 96)
    whole = net(x)
    tiled = apply_tiled(net, x, tile=32, stats_pixels=64 * 96)
    assert (tiled - whole).abs().max() < 1e-4
    naive = _naive_tiles(net, x, 32)
    assert (naive - whole).abs().max() > 0.05  # the test frame would show seams if tiles had them


@torch.no_grad()
def test_odd_sizes_are_exact_too(net):
    x = _frame(61, 90)
    assert (apply_tiled(net, x, tile=32, stats_pixels=61 * 90) - net(x)).abs().max() < 1e-4


@torch.no_grad()
def test_statistics_from_a_smaller_copy_shift_the_tone_without_seams(net):
    """A large frame's statistics come from a scaled-down copy: small, even differences (a
    smooth frame, as real footage is; pixel noise would lose variance in the copy)."""
    yy, xx = np.mgrid[0:64, 0:96].astype(np.float32)
    img = np.stack([0.5 + 0.4 * np.sin(xx / 9 + c) * np.cos(yy / 11) for c in range(3)], axis=-1)
    img[:, :40] = (0.55, 0.7, 0.95)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()
    err = (apply_tiled(net, x, tile=32, stats_pixels=int(64 * 96 * 0.67)) - net(x)).abs()
    assert err.mean() < 0.03 and err.max() < 0.25
    assert err[..., [31, 32, 63, 64]].mean() < 2 * err.mean() + 1e-3  # no seam at the tile borders


def test_budget_and_halo():
    big = TransformNet(NetConfig(width=32, blocks=5))
    assert halo(big) % 4 == 0 and halo(big) >= 54
    assert activation_bytes(big, 1080, 1920) > 1.5e9  # 1080p goes in tiles on a CPU ...
    assert needs_tiles(big, 1080, 1920, torch.device("cpu"))
    assert not needs_tiles(big, 720, 1280, torch.device("cpu"))  # ... 720p whole


def test_batches_and_tiles_follow_the_budget(monkeypatch):
    import styleflow.ff.tiles as T

    net = TransformNet(NetConfig(width=32, blocks=5))
    cpu = torch.device("cpu")
    assert T.frames_per_pass(net, 1080, 1920, cpu) == 0  # tiles
    assert T.frames_per_pass(net, 256, 456, cpu) >= 4  # the usual batch of 4 whole frames
    side = T.tile_side(net, cpu)
    assert side % 4 == 0 and T.activation_bytes(net, side + 2 * halo(net), side + 2 * halo(net)) <= T.CPU_BUDGET // 2
    monkeypatch.setattr(T, "CPU_BUDGET", 10)
    assert T.tile_side(net, cpu) == T.MIN_TILE

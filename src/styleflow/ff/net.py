"""Johnson et al.'s image transformation network, with the later fixes that matter.

Encoder (9x9 conv, two stride-2 3x3 convs), ``blocks`` residual blocks, decoder (two
nearest-neighbour 2x upsamplings, each followed by a 3x3 conv — Odena et al. 2016: no checkerboard
artefacts of transposed convolutions), 9x9 conv to RGB. Instance normalisation (Ulyanov et al.
2016) after every conv but the last, reflection padding everywhere (no border artefacts). Johnson's
full model is ``width=32, blocks=5`` (1.7 M parameters); ``width=16, blocks=3`` trains in minutes
on a CPU.

Input and output: ``(B, 3, H, W)`` RGB in [0, 1] (output through a sigmoid, so always in range);
any H, W (the decoder crops back to the input size when H or W is not a multiple of 4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from styleflow.errors import StyleflowError

#: Name of the architecture, recorded in model files (a file of another architecture is refused).
ARCHITECTURE = "johnson2016-in-nearest"


@dataclass(frozen=True)
class NetConfig:
    """Size of the network: ``width`` channels after the first conv (x2, x4 deeper), ``blocks``
    residual blocks at the lowest resolution."""

    width: int = 32
    blocks: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.width, int) or not 4 <= self.width <= 256:
            raise StyleflowError(f"network width {self.width!r}: expected a whole number from 4 to 256")
        if not isinstance(self.blocks, int) or not 0 <= self.blocks <= 16:
            raise StyleflowError(f"network blocks {self.blocks!r}: expected a whole number from 0 to 16")

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _conv(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(c_in, c_out, k, stride))


def _conv_in_relu(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(_conv(c_in, c_out, k, stride), nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """Two 3x3 conv + instance norm layers with an identity shortcut (no ReLU after the sum)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            _conv_in_relu(channels, channels, 3),
            _conv(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x + self.body(x)


class UpsampleConv(nn.Module):
    """Nearest-neighbour 2x upsampling, then conv + instance norm + ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = _conv_in_relu(c_in, c_out, 3)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:  # type: ignore[override]
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class TransformNet(nn.Module):
    """The image transformation network; see the module docstring."""

    def __init__(self, config: NetConfig | None = None):
        super().__init__()
        self.config = config or NetConfig()
        w = self.config.width
        self.encoder = nn.Sequential(_conv_in_relu(3, w, 9), _conv_in_relu(w, 2 * w, 3, 2), _conv_in_relu(2 * w, 4 * w, 3, 2))
        self.residual = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(self.config.blocks)])
        self.up1 = UpsampleConv(4 * w, 2 * w)
        self.up2 = UpsampleConv(2 * w, w)
        self.head = _conv(w, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``x``: (B, 3, H, W) RGB in [0, 1] → (B, 3, H, W) stylised RGB in (0, 1)."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise StyleflowError(f"the network takes (B, 3, H, W) RGB batches, got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if min(h, w) < 8:
            raise StyleflowError(f"image of {w}x{h} pixels is too small for the network (at least 8x8)")
        half = ((h + 1) // 2, (w + 1) // 2)
        y = self.encoder(x)
        y = self.residual(y)
        y = self.up2(self.up1(y, half), (h, w))
        return torch.sigmoid(self.head(y).float())


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())

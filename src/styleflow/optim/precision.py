"""Precision and device policy of the optimiser.

``device: auto`` is CUDA when there is a GPU, else the CPU. ``precision: auto`` is bfloat16 for
the backbone where the hardware computes it natively (faster than float32), float32 elsewhere.
Mixed precision is kept only if, at the start image, loss and gradient agree with float32's
(:func:`agrees_with_float32`); otherwise the stylizer falls back to float32 for good.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from styleflow.errors import StyleflowError

#: Mixed precision (``settings.precision``) is used only if, at the start image, the loss differs
#: from float32's by at most ``PRECISION_TOLERANCE`` (relative) and the gradient's cosine
#: similarity to float32's is at least ``PRECISION_MIN_COSINE``; otherwise the stylizer falls back
#: to float32 for good (with a warning when bfloat16/float16 was asked for explicitly; ``auto``
#: only records it). Measured with bfloat16 and the first convolution in float32: the cosine is
#: 0.997-0.998 on real frames at 192-256 px, where runs follow float32's loss per iteration; flat
#: synthetic images (the tests') give 0.98, where L-BFGS stalled for 10+ iterations at a time, and
#: fall back (docs/performance.md, "Mixed precision").
PRECISION_TOLERANCE = 1e-2
PRECISION_MIN_COSINE = 0.99

#: precision name → autocast dtype of the backbone (None: plain float32)
PRECISIONS: dict[str, torch.dtype | None] = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions natively (so faster than float32): a CPU
    with AVX512-BF16 or AMX through oneDNN, or a CUDA GPU with bfloat16 support (Ampere or newer).
    Elsewhere bfloat16 is emulated and slower than float32."""
    if device.type == "cuda":
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:  # torch < 2.4: no emulation flag
            return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(p()) for p in probes if p is not None)


def auto_precision(device: torch.device) -> str:
    """What ``precision: auto`` means on ``device``: ``bfloat16`` if :func:`native_bfloat16`,
    else ``float32``."""
    return "bfloat16" if native_bfloat16(device) else "float32"


def amp_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a ``precision`` setting (``auto`` resolved for ``device``)."""
    return PRECISIONS[auto_precision(device) if precision == "auto" else precision]


def precision_name(dtype: torch.dtype | None) -> str:
    """``None`` → ``float32``, ``torch.bfloat16`` → ``bfloat16`` ..."""
    return {v: k for k, v in PRECISIONS.items()}[dtype]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise StyleflowError(f"--device {device}: no CUDA GPU is available here; use --device cpu or auto")
    try:
        return torch.device(device)
    except RuntimeError:
        raise StyleflowError(f"--device {device!r}: expected auto, cpu or cuda[:N]") from None


def agrees_with_float32(
    reference: tuple[float, torch.Tensor], low: tuple[float, torch.Tensor]
) -> tuple[bool, float, float]:
    """Compare (loss, flat gradient) in float32 and in low precision at the same image.

    Returns ``(ok, relative loss difference, gradient cosine)``; ``ok`` by
    :data:`PRECISION_TOLERANCE` and :data:`PRECISION_MIN_COSINE`.
    """
    (ref, g_ref), (val, g_low) = reference, low
    rel = abs(val - ref) / max(abs(ref), 1e-30)
    cos = float(F.cosine_similarity(g_ref, g_low, dim=0))
    return math.isfinite(val) and rel <= PRECISION_TOLERANCE and cos >= PRECISION_MIN_COSINE, rel, cos

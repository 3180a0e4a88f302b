"""Precision and device policy of the optimiser.

``device: auto`` is CUDA when there is a GPU, else the CPU. ``precision: auto`` (:func:`choose_auto`)
is float32 where the hardware has no native bfloat16 (:func:`native_bfloat16`: emulated, slower);
bfloat16 on a CUDA GPU that has it (Ampere or newer: faster, no timing needed); and on a CPU whose
flags show AVX512-BF16 or AMX, whichever of the two a short timing of the backbone at the job's
size (:func:`time_backbone`) finds faster: the flag alone does not say (a Zen 4 EPYC runs bfloat16
at twice its float32 rate, an Intel Xeon with the same flag at 0.6 of it). The decision is cached
per process, device and size bucket (:func:`size_bucket`), so a clip pays for it once.
Mixed precision is kept only if, at the start image, loss and gradient agree with float32's
(:func:`agrees_with_float32`); otherwise the stylizer falls back to float32 for good.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from styleflow.errors import StyleflowError

if TYPE_CHECKING:
    from styleflow.loss.meter import LossMeter

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
    """The hardware rule alone: ``bfloat16`` if :func:`native_bfloat16`, else ``float32``. On a
    CPU that is only the candidate: :func:`choose_auto` times it against float32."""
    return "bfloat16" if native_bfloat16(device) else "float32"


# ---------------------------------------------------------------------- precision: auto by timing

#: ``auto`` on a CPU keeps bfloat16 only if a backbone pass in it is at least this many times
#: faster than in float32: a tie goes to float32, the more accurate (and timing noise on a busy
#: machine is a few per cent).
BF16_MIN_SPEEDUP = 1.05

#: The timing runs at the job's size up to this many pixels; a larger size is timed at this area
#: (same aspect ratio), which caps its cost at ~2.6 s (6 passes at 128x192, one thread, on the
#: Xeon host under load 4.3 on 2 cores). Larger sizes move the ratio further the same way
#: (bfloat16/float32 time there: 1.39 at 128x192, 1.54 at 256x384, 1.71 at 384x576;
#: docs/performance.md), so the crop's verdict holds for them.
TIMING_MAX_PIXELS = 128 * 192

#: Timed forward+backward passes per precision, after one warm-up pass each; interleaved
#: (float32, bfloat16, float32, ...) so a load change hits both; the fastest pass counts.
TIMING_PASSES = 2

#: Size buckets per doubling of the pixel count (2: sizes within a factor √2 in area share a decision).
BUCKETS_PER_OCTAVE = 2


@dataclass(frozen=True)
class PrecisionChoice:
    """What a ``precision`` setting resolved to on a device, and how.

    ``asked``: the setting (``auto``, ``float32`` ...); ``chosen``: the precision the backbone
    starts in (the accuracy check may still turn it to float32: the records' ``precision`` says what
    ran); ``by``: ``setting`` (explicit), ``no native bfloat16``, ``capability`` (CUDA) or
    ``timing`` (CPU with native bfloat16); ``seconds_per_pass``: with ``timing``, seconds of one
    backbone forward+backward pass by precision; ``timed_at``: the (H, W) timed.
    """

    asked: str
    chosen: str
    by: str
    seconds_per_pass: dict[str, float] = field(default_factory=dict)
    timed_at: tuple[int, int] | None = None

    def as_record(self) -> dict[str, Any]:
        """JSON-able, for the image and clip records (``precision_choice``)."""
        return {"asked": self.asked, "chosen": self.chosen, "by": self.by,
                "seconds_per_pass": {k: round(v, 4) for k, v in self.seconds_per_pass.items()} or None,
                "timed_at": list(self.timed_at) if self.timed_at else None}


#: Seconds per backbone pass at an (H, W), by precision name (``float32``, ``bfloat16``).
Measure = Callable[[tuple[int, int]], dict[str, float]]

#: The process's ``auto`` decisions by timing: (device, size bucket) → choice.
_TIMED: dict[tuple[str, int], PrecisionChoice] = {}


def needs_timing(device: torch.device) -> bool:
    """Whether ``precision: auto`` on ``device`` is decided by timing (a CPU with native bfloat16)."""
    return device.type == "cpu" and native_bfloat16(device)


def size_bucket(size: tuple[int, int]) -> int:
    """The cache bucket of an image size (H, W): ``round(BUCKETS_PER_OCTAVE · log2(pixels))``,
    pixels capped at :data:`TIMING_MAX_PIXELS` (every larger size is timed alike)."""
    return round(BUCKETS_PER_OCTAVE * math.log2(max(1, min(size[0] * size[1], TIMING_MAX_PIXELS))))


def timing_size(size: tuple[int, int]) -> tuple[int, int]:
    """The (H, W) the timing runs at: ``size``, or the same aspect ratio at :data:`TIMING_MAX_PIXELS`."""
    h, w = size
    if h * w <= TIMING_MAX_PIXELS:
        return h, w
    f = math.sqrt(TIMING_MAX_PIXELS / (h * w))
    return max(16, int(h * f)), max(16, int(w * f))


def hardware_choice(device: torch.device) -> PrecisionChoice | None:
    """``precision: auto`` where the hardware alone decides: no native bfloat16 → float32; CUDA
    with it → bfloat16 (the capability rule). None on a CPU with it (:func:`needs_timing`)."""
    if not native_bfloat16(device):
        return PrecisionChoice("auto", "float32", "no native bfloat16")
    return None if needs_timing(device) else PrecisionChoice("auto", "bfloat16", "capability")


def choose_auto(device: torch.device, size: tuple[int, int], measure: Measure) -> PrecisionChoice:
    """Resolve ``precision: auto`` on ``device`` for content of ``size`` (H, W).

    :func:`hardware_choice` where that decides (``measure`` is not called); on a CPU with native
    bfloat16, ``measure(timing_size(size))`` → seconds per pass by precision, and bfloat16 only if
    it is :data:`BF16_MIN_SPEEDUP` times faster; cached per (device, :func:`size_bucket`) for the
    rest of the process.
    """
    fixed = hardware_choice(device)
    if fixed is not None:
        return fixed
    key = (str(device), size_bucket(size))
    if key not in _TIMED:
        shape = timing_size(size)
        seconds = measure(shape)
        faster = seconds["bfloat16"] * BF16_MIN_SPEEDUP < seconds["float32"]
        _TIMED[key] = PrecisionChoice("auto", "bfloat16" if faster else "float32", "timing",
                                      {k: float(seconds[k]) for k in ("float32", "bfloat16")}, shape)
    return _TIMED[key]


def forget_timings() -> None:
    """Drop the process's cached ``auto`` decisions (tests; a machine whose load changed for good)."""
    _TIMED.clear()


def time_backbone(meter: LossMeter, size: tuple[int, int], passes: int = TIMING_PASSES) -> dict[str, float]:
    """Seconds of one forward+backward pass of ``meter``'s backbone (its layers, as the losses run
    it: :meth:`~styleflow.loss.meter.LossMeter.features`) on a seeded noise image of ``size``
    (H, W), in float32 and under bfloat16 autocast: the fastest of ``passes`` after one warm-up
    each, interleaved. ``meter.amp_dtype`` is restored afterwards."""
    x0 = torch.rand((1, 3, *size), generator=torch.Generator().manual_seed(0)).to(meter.device)
    dtypes = {"float32": None, "bfloat16": torch.bfloat16}
    best = {name: math.inf for name in dtypes}
    saved = meter.amp_dtype

    def one_pass(dtype: torch.dtype | None) -> float:
        x = x0.clone().requires_grad_(True)
        meter.amp_dtype = dtype
        if meter.device.type == "cuda":
            torch.cuda.synchronize(meter.device)
        t = time.perf_counter()
        sum(f.float().square().mean() for f in meter.features(x).values()).backward()  # type: ignore[union-attr]
        if meter.device.type == "cuda":
            torch.cuda.synchronize(meter.device)
        return time.perf_counter() - t

    try:
        for round_ in range(passes + 1):  # round 0 is the warm-up
            for name, dtype in dtypes.items():
                seconds = one_pass(dtype)
                if round_ > 0:
                    best[name] = min(best[name], seconds)
    finally:
        meter.amp_dtype = saved
    return best


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


class BackbonePrecision:
    """A stylizer's backbone precision over its life: what the ``precision`` setting resolved to
    (:attr:`choice`), the accuracy check once per image size, and why it fell back (:attr:`note`).

    Sets ``meter.amp_dtype`` (None: float32). ``auto`` where a timing decides starts in float32
    and waits for :meth:`choose` with a size.
    """

    def __init__(self, asked: str, device: torch.device, meter: LossMeter):
        self.asked, self.device, self.meter = asked, device, meter
        #: why mixed precision was turned off (None: it was not)
        self.note: str | None = None
        #: what the setting resolved to (None: ``auto`` waits for a size to time at)
        self.choice = PrecisionChoice(asked, asked, "setting") if asked != "auto" else hardware_choice(device)
        meter.amp_dtype = PRECISIONS[self.choice.chosen if self.choice else "float32"]
        self._checked: set[tuple[int, int]] = set()

    def choose(self, size: tuple[int, int]) -> None:
        """Resolve ``auto`` for content of ``size`` (H, W) where that takes a timing
        (:func:`choose_auto`, with :func:`time_backbone` on the meter); nothing to do for an
        explicit setting, where the hardware decided, or after a fallback."""
        if self.asked != "auto" or self.note is not None or not needs_timing(self.device):
            return
        self.choice = choose_auto(self.device, size, lambda shape: time_backbone(self.meter, shape))
        self.meter.amp_dtype = PRECISIONS[self.choice.chosen]

    def check(self, size: tuple[int, int], evaluate: Callable[[], tuple[float, torch.Tensor]]) -> None:
        """Once per image ``size``: keep mixed precision only if ``evaluate()`` (loss, flat
        gradient at the start image) agrees with its float32 run (:func:`agrees_with_float32`);
        else fall back to float32 for good, with a warning when it was asked for explicitly."""
        low = self.meter.amp_dtype
        if low is None or size in self._checked:
            return
        self._checked.add(size)
        results = []
        for dtype in (None, low):
            self.meter.amp_dtype = dtype
            try:
                results.append(evaluate())
            finally:
                self.meter.amp_dtype = low
        ok, rel, cos = agrees_with_float32(results[0], results[1])
        if not ok:
            self.note = (f"precision {precision_name(low)}: loss off by {rel:.2%}, gradient cosine {cos:.4f} "
                         f"against float32 at {size[1]}x{size[0]}; using float32")
            if self.asked != "auto":  # asked for explicitly: say so (auto: the records say float32)
                warnings.warn(self.note, stacklevel=3)  # where the stylizer's optimisation checked
            self.meter.amp_dtype = None

"""The optimisation at the heart of Gatys et al.: make an image whose VGG features match a content
image and whose Gram matrices match one or more style images.

:class:`Stylizer` loads the backbone once and caches the style targets per image size, so a video
(many frames of one size) computes them once. :meth:`Stylizer.stylize` optimises one image:
optionally coarse-to-fine, with L-BFGS or Adam, an iteration budget, stopping on convergence, a
divergence guard, and optional temporal terms (Ruder et al.) supplied by the video code.

Shapes and units: images are NumPy ``(H, W, 3)`` float32 RGB in [0, 1]; tensors are
``(1, 3, H, W)`` on the stylizer's device; masks are ``(H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from styleflow.color import transfer as colors
from styleflow.enc.vgg import needed_layers
from styleflow.enc.weights import load_backbone
from styleflow.errors import StyleflowError
from styleflow.io.images import resize, size_for_height
from styleflow.loss.functional import content_loss, temporal_loss, total_variation
from styleflow.options.settings import StyleSettings

#: Iterations after an optimiser (re)start before a loss blow-up counts as divergence, and before
#: the convergence test (``tol``) applies: L-BFGS without line search takes a tiny first step,
#: can overshoot by many orders of magnitude in the next ones, and then recovers.
WARMUP_ITERATIONS = 10

#: Coarse levels whose shorter side would fall below this many pixels are skipped.
MIN_LEVEL_SIDE = 32

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

_PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


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


@dataclass
class TemporalTerm:
    """One temporal constraint: stay close to ``warped`` where ``mask`` is high.

    ``warped``: (H, W, 3) the earlier stylised frame warped onto this frame's grid;
    ``mask``: (H, W) reliability in [0, 1]; ``weight``: γ for this term.
    """

    warped: np.ndarray
    mask: np.ndarray
    weight: float


@dataclass
class StyleResult:
    """The outcome of one optimisation (losses are unweighted, measured at the returned image)."""

    image: np.ndarray
    losses: dict[str, float]
    iterations: int
    converged: bool
    restores: int
    seconds: float
    levels: list[dict[str, float | int | bool]] = field(default_factory=list)


ProgressCallback = Callable[[dict], None]


class _HostLosses(Mapping[str, float]):
    """Loss parts held as device scalars, converted to floats only when read (a progress bar that
    is switched off never forces a device→host copy)."""

    def __init__(self, parts: Mapping[str, torch.Tensor]):
        self._parts = parts

    def __getitem__(self, key: str) -> float:
        return float(self._parts[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)


def to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) float32 → (1, 3, H, W) channels-last tensor on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    return t.to(device).contiguous(memory_format=torch.channels_last)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor → (H, W, 3) float32 in [0, 1]."""
    return t.detach().clamp(0, 1)[0].permute(1, 2, 0).contiguous().cpu().numpy().astype(np.float32)


class _ChannelsLastGram(torch.autograd.Function):
    """``G = F Fᵀ / (C·H·W)`` (as :func:`styleflow.loss.functional.gram`) for channels-last features.

    The (1, C, H, W) channels-last tensor is an (H·W, C) matrix without a copy. The backward is one
    product, ``dF = F (dG + dGᵀ) / n``, instead of autograd's two. On the CPU both products go
    through oneDNN (the Gram as the weight gradient of a 1×1 convolution, ``dF`` as a 1×1
    convolution), which runs ~2.5x faster than ``bmm`` where MKL's sgemm takes its AVX2 path
    (AMD CPUs); elsewhere (CUDA, batches) it is ``bmm``.
    """

    @staticmethod
    def forward(ctx, features: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        b, c, h, w = features.shape
        ctx.save_for_backward(features)
        n = c * h * w
        if _onednn(features):
            weight = features.new_empty((c, c, 1, 1)).contiguous(memory_format=torch.channels_last)
            g = torch.ops.aten.convolution_backward(
                features, features, weight, None, (1, 1), (0, 0), (1, 1), False, (0, 0), 1, (False, True, False)
            )[1]
            return g.reshape(1, c, c) / n
        flat = features.permute(0, 2, 3, 1).reshape(b, h * w, c)  # a view when channels-last
        return torch.bmm(flat.transpose(1, 2), flat) / n

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (features,) = ctx.saved_tensors
        b, c, h, w = features.shape
        sym = (grad + grad.transpose(1, 2)) / (c * h * w)
        if _onednn(features):
            return F.conv2d(features, sym.reshape(c, c, 1, 1))  # sym is symmetric: F·symᵀ = F·sym
        flat = features.permute(0, 2, 3, 1).reshape(b, h * w, c)
        return torch.bmm(flat, sym).reshape(b, h, w, c).permute(0, 3, 1, 2)


def _onednn(features: torch.Tensor) -> bool:
    return (
        features.device.type == "cpu" and features.shape[0] == 1 and features.dtype == torch.float32
        and features.is_contiguous(memory_format=torch.channels_last) and torch.backends.mkldnn.is_available()
    )


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix ``(B, C, C)`` of ``(B, C, H, W)`` features, fastest on channels-last tensors."""
    return _ChannelsLastGram.apply(features)


def level_sizes(size: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """Sizes from coarsest to finest, each about half the next; too-small levels are dropped."""
    h, w = size
    out = []
    for k in range(levels - 1, 0, -1):
        lh, lw = round(h / 2**k), round(w / 2**k)
        if min(lh, lw) >= MIN_LEVEL_SIDE:
            out.append((lh, lw))
    out.append((h, w))
    return out


class Stylizer:
    """Stylise images of any size towards a fixed set of style images.

    Args:
        settings: losses, layers, optimiser, budgets (:class:`StyleSettings`).
        styles: style images, (H, W, 3) float32 RGB in [0, 1].
        style_weights: blend weights of the styles' Gram targets (normalised to sum 1).
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    def __init__(
        self,
        settings: StyleSettings,
        styles: Sequence[np.ndarray],
        style_weights: Sequence[float] | None = None,
        device: str | torch.device = "auto",
    ):
        if not styles:
            raise StyleflowError("at least one style image is needed")
        weights = list(style_weights) if style_weights is not None else [1.0] * len(styles)
        if len(weights) != len(styles):
            raise StyleflowError(f"--style-weights: {len(weights)} weights for {len(styles)} style images")
        if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise StyleflowError(f"--style-weights {weights}: expected non-negative numbers with a positive sum")
        self.settings = settings
        self.styles = list(styles)
        self.style_weights = [w / sum(weights) for w in weights]
        self.device = resolve_device(device)
        self.model = load_backbone(
            needed_layers(settings.content_layers, settings.style_layers),
            weights=settings.weights,
            arch=settings.backbone,
            pooling=settings.pooling,
            device=self.device,
        )
        self._grams: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
        self._luminance_reference: np.ndarray | None = None
        # The backbone's feature scale (caffe weights) is applied to the losses as a number —
        # content loss × s², Gram × s² — instead of to every feature map and its gradient.
        self._s2 = float(self.model.scale) ** 2
        #: autocast dtype of the backbone's forward (None: float32); see :meth:`_check_precision`
        precision = auto_precision(self.device) if settings.precision == "auto" else settings.precision
        self.amp_dtype: torch.dtype | None = _PRECISIONS[precision]
        self._precision_checked: set[tuple[int, int]] = set()
        #: why mixed precision was turned off (None: it was not)
        self.precision_note: str | None = None

    @property
    def precision(self) -> str:
        """The precision the backbone actually runs in (``float32`` after a failed check)."""
        return {v: k for k, v in _PRECISIONS.items()}[self.amp_dtype]

    @property
    def backbone_info(self) -> dict[str, str | None]:
        """Which backbone and weights file this stylizer uses (recorded with every result)."""
        return self.model.info.as_dict()

    # ------------------------------------------------------------------ targets
    def style_targets(self, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Blended Gram targets for a content image of ``size`` (H, W); computed once per size."""
        if size not in self._grams:
            height = max(MIN_LEVEL_SIDE, round(size[0] * self.settings.style_scale))
            blended: dict[str, torch.Tensor] = {}
            with torch.no_grad():
                for style, weight in zip(self.styles, self.style_weights):
                    if weight == 0:
                        continue
                    img = resize(style, size_for_height(style.shape, height))
                    if self.settings.preserve_colors and self._luminance_reference is not None:
                        img = colors.match_luminance(img, self._luminance_reference)
                    feats = self.features(to_tensor(img, self.device))
                    for name in self.settings.style_layers:
                        g = (weight * self._s2) * gram(feats[name])
                        blended[name] = g if name not in blended else blended[name] + g
            self._grams[size] = blended
        return self._grams[size]

    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            feats = self.features(content)
        return {name: feats[name] for name in self.settings.content_layers}

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Backbone activations of ``x`` (1, 3, H, W): float32, channels-last, *unscaled* (the
        losses apply the backbone's feature scale, see ``_s2``).

        With mixed precision on, only the backbone runs in ``amp_dtype`` (autocast); Grams,
        losses, the image and the optimiser's state stay float32.
        """
        x = x.contiguous(memory_format=torch.channels_last)
        if self.amp_dtype is None:
            return self.model(x, scaled=False)
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype):
            feats = self.model(x, scaled=False)
        return {k: v.float() for k, v in feats.items()}

    def _content_style(
        self, feats: dict[str, torch.Tensor], content_targets: dict[str, torch.Tensor], grams: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Unweighted content and style losses (as :mod:`styleflow.loss.functional` defines them)."""
        s = self.settings
        c = sum(w * content_loss(feats[n], content_targets[n]) for n, w in s.content_layers.items()) * self._s2
        st = sum(w * F.mse_loss(self._s2 * gram(feats[n]), grams[n]) for n, w in s.style_layers.items())
        return c, st  # type: ignore[return-value]

    def objective(self, image: np.ndarray, content: np.ndarray) -> dict[str, float]:
        """Unweighted content and style losses of ``image`` against ``content`` and the styles,
        and ``objective = content_weight · content + style_weight · style`` (no TV, no temporal
        term): the same definition for any run with these settings. Images (H, W, 3) in [0, 1].
        """
        s = self.settings
        with torch.no_grad():
            c_img = to_tensor(content, self.device)
            targets = self.content_targets(c_img)
            grams = self.style_targets(tuple(content.shape[:2]))  # type: ignore[arg-type]
            c, st = self._content_style(self.features(to_tensor(image, self.device)), targets, grams)
        c, st = float(c), float(st)  # type: ignore[arg-type]
        return {"content": c, "style": st, "objective": s.content_weight * c + s.style_weight * st}

    def _check_precision(
        self,
        x: torch.Tensor,
        content_targets: dict[str, torch.Tensor],
        grams: dict[str, torch.Tensor],
        terms: list[tuple[torch.Tensor, torch.Tensor, float]],
    ) -> None:
        """Once per image size: keep mixed precision only if loss and gradient at ``x`` agree with
        float32's (:data:`PRECISION_TOLERANCE`, :data:`PRECISION_MIN_COSINE`); else fall back to
        float32 for good."""
        size = tuple(x.shape[-2:])
        if self.amp_dtype is None or size in self._precision_checked:
            return
        self._precision_checked.add(size)  # type: ignore[arg-type]
        low_dtype = self.amp_dtype
        results = []
        for dtype in (None, low_dtype):
            probe = x.detach().clone().requires_grad_(True)
            self.amp_dtype = dtype
            try:
                total, _ = self._losses(probe, content_targets, grams, terms)
                total.backward()
            finally:
                self.amp_dtype = low_dtype
            results.append((float(total.detach()), probe.grad.flatten()))  # type: ignore[union-attr]
        (ref, g_ref), (low, g_low) = results
        rel = abs(low - ref) / max(abs(ref), 1e-30)
        cos = float(F.cosine_similarity(g_ref, g_low, dim=0))
        if not (math.isfinite(low) and rel <= PRECISION_TOLERANCE and cos >= PRECISION_MIN_COSINE):
            self.precision_note = (f"precision {self.precision}: loss off by {rel:.2%}, gradient cosine {cos:.4f} "
                                   f"against float32 at {size[1]}x{size[0]}; using float32")
            if self.settings.precision != "auto":  # asked for explicitly: say so (auto: the records say float32)
                import warnings

                warnings.warn(self.precision_note, stacklevel=2)
            self.amp_dtype = None

    # ------------------------------------------------------------------ optimisation
    def stylize(
        self,
        content: np.ndarray,
        init: np.ndarray | None = None,
        temporal: Sequence[TemporalTerm] = (),
        iterations: int | None = None,
        coarse_to_fine: int | None = None,
        callback: ProgressCallback | None = None,
        warm: bool = False,
    ) -> StyleResult:
        """Optimise one image.

        Args:
            content: (H, W, 3) content image; the output has its size.
            init: (H, W, 3) starting image; None → from ``settings.init`` (content or seeded noise).
            temporal: temporal terms (video); their images and masks have the content's size.
            iterations: budget at full size (default ``settings.iterations``).
            coarse_to_fine: pyramid levels (default ``settings.coarse_to_fine``).
            callback: called after every iteration with a dict (level, levels, iteration, budget, losses).
            warm: ``init`` is already a stylisation (e.g. the previous video frame, warped): stop
                with ``settings.warm_tol`` / ``warm_window`` instead of ``tol`` / ``window``.
        """
        s = self.settings
        start = time.perf_counter()
        budget = s.iterations if iterations is None else iterations
        levels = level_sizes(content.shape[:2], s.coarse_to_fine if coarse_to_fine is None else coarse_to_fine)
        if s.preserve_colors:
            original_content = content
            if self._luminance_reference is None:
                self._luminance_reference = content
            content = colors.luminance(content)
            init = None if init is None else colors.luminance(init)
            temporal = [TemporalTerm(colors.luminance(t.warped), t.mask, t.weight) for t in temporal]
        if init is None:
            if s.init == "random":
                gen = torch.Generator().manual_seed(s.seed)
                init = torch.rand(content.shape, generator=gen).numpy().astype(np.float32)
            elif s.init == "image":
                raise StyleflowError("init 'image' needs an initial image (--init-image)")
            else:
                init = content
        if s.recolor_start and not warm and not s.preserve_colors:
            init = colors.transfer_colors(init, self.styles, self.style_weights)
        if init.shape != content.shape:
            raise StyleflowError(f"the initial image is {init.shape[1]}x{init.shape[0]}, the content {content.shape[1]}x{content.shape[0]}")

        x: torch.Tensor | None = None
        total_iters, restores, converged = 0, 0, False
        level_records: list[dict[str, float | int | bool]] = []
        losses: dict[str, float] = {}
        for index, size in enumerate(levels):
            final = index == len(levels) - 1
            level_budget = budget if final or s.coarse_iterations is None else s.coarse_iterations
            if x is None:
                start_img = to_tensor(resize(init, size), self.device)
            else:
                start_img = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
                start_img = start_img.clamp(0, 1).contiguous(memory_format=torch.channels_last)
            terms = [
                (
                    to_tensor(resize(t.warped, size), self.device),
                    torch.from_numpy(np.ascontiguousarray(_resize_mask(t.mask, size))).to(self.device)[None, None],
                    t.weight,
                )
                for t in temporal
                if t.weight > 0
            ]
            x, info = self._optimise(
                to_tensor(resize(content, size), self.device), start_img, terms, level_budget,
                callback=callback, level=index + 1, levels=len(levels), warm=warm,
            )
            total_iters += int(info["iterations"])
            restores += int(info["restores"])
            converged = bool(info["converged"])
            losses = info["losses"]  # type: ignore[assignment]
            level_records.append({"height": size[0], "width": size[1], "iterations": info["iterations"], "converged": info["converged"]})

        image = to_numpy(x)  # type: ignore[arg-type]
        if s.preserve_colors:
            image = colors.recolor(image, original_content)
        return StyleResult(image, losses, total_iters, converged, restores, time.perf_counter() - start, level_records)

    def _losses(
        self,
        x: torch.Tensor,
        content_targets: dict[str, torch.Tensor],
        grams: dict[str, torch.Tensor],
        terms: list[tuple[torch.Tensor, torch.Tensor, float]],
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        s = self.settings
        c, st = self._content_style(self.features(x), content_targets, grams)
        parts: dict[str, torch.Tensor] = {"content": c, "style": st}  # type: ignore[dict-item]
        total = s.content_weight * c + s.style_weight * st
        if s.tv_weight > 0:
            parts["tv"] = total_variation(x)
            total = total + s.tv_weight * parts["tv"]
        if terms:
            t_sum = None
            for warped, mask, weight in terms:
                term = weight * temporal_loss(x, warped, mask)
                t_sum = term if t_sum is None else t_sum + term
            parts["temporal"] = t_sum  # type: ignore[assignment]
            total = total + t_sum
        parts["total"] = total
        return total, parts

    def _new_optimizer(self, x: torch.Tensor) -> torch.optim.Optimizer:
        s = self.settings
        if s.optimizer == "lbfgs":
            return torch.optim.LBFGS(
                [x], lr=s.lr or 1.0, max_iter=1, history_size=100, tolerance_grad=0.0, tolerance_change=0.0
            )
        return torch.optim.Adam([x], lr=s.lr or 0.02)

    def _optimise(
        self,
        content: torch.Tensor,
        start: torch.Tensor,
        terms: list[tuple[torch.Tensor, torch.Tensor, float]],
        budget: int,
        callback: ProgressCallback | None,
        level: int,
        levels: int,
        warm: bool = False,
    ) -> tuple[torch.Tensor, dict[str, object]]:
        """Run one pyramid level; return the best iterate and a record.

        Device traffic: per evaluation the loss value comes to the host once (L-BFGS reads it
        anyway, and the divergence guard and the convergence test need it); the best iterate and
        its loss parts stay on the device (copied in place) and become floats once, at the end —
        or when a ``callback`` reads them (its ``losses`` mapping converts on access).
        """
        s = self.settings
        tol, window = s.stop_rule(warm)
        content_targets = self.content_targets(content)
        grams = self.style_targets(tuple(content.shape[-2:]))  # type: ignore[arg-type]
        x = start.detach().contiguous().clone().requires_grad_(True)  # L-BFGS needs a flat view
        self._check_precision(x, content_targets, grams, terms)
        opt = self._new_optimizer(x)
        best_x = x.detach().clone()
        best: dict[str, object] = {"loss": math.inf, "parts": {}}
        state = {"blowup": False, "since_reset": 0}
        history: list[float] = []

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            total, parts = self._losses(x, content_targets, grams, terms)
            value = float(total.detach())  # the one host sync per evaluation (L-BFGS needs it too)
            warm = state["since_reset"] >= WARMUP_ITERATIONS  # L-BFGS overshoots while it learns the scale
            if not math.isfinite(value) or (warm and value > s.divergence_factor * best["loss"]):  # type: ignore[operator]
                state["blowup"] = True
            elif value < best["loss"]:  # type: ignore[operator]
                best_x.copy_(x.detach())
                best.update(loss=value, parts={k: v.detach() for k, v in parts.items()})
            total.backward()
            if s.clamp:
                _drop_blocked_gradient(x)
            return total

        def parts_as_floats() -> dict[str, float]:
            return {k: float(v) for k, v in best["parts"].items()}  # type: ignore[union-attr]

        def parts_lazily() -> Mapping[str, float]:
            return _HostLosses(best["parts"])  # type: ignore[arg-type]

        if budget == 0:
            with torch.no_grad():
                _, parts = self._losses(x, content_targets, grams, terms)
            return x.detach(), {"iterations": 0, "restores": 0, "converged": False,
                                "losses": {k: float(v) for k, v in parts.items()}}

        restores, converged, done = 0, False, 0
        for it in range(1, budget + 1):
            if s.clamp:
                x_before = x.detach().clone()
            if s.optimizer == "lbfgs":
                opt.step(closure)
            else:
                closure()
                opt.step()
            if s.clamp:
                _project(x, x_before, opt)
            done = it
            state["since_reset"] += 1
            if state["blowup"]:
                restores += 1
                state["blowup"] = False
                state["since_reset"] = 0
                with torch.no_grad():
                    x.copy_(best_x)
                opt = self._new_optimizer(x)
                if callback:
                    callback({"event": "restore", "level": level, "iteration": it, "restores": restores})
                if restores > 5:
                    break
            history.append(best["loss"])  # type: ignore[arg-type]
            if callback:
                callback({"event": "iteration", "level": level, "levels": levels, "iteration": it,
                          "budget": budget, "losses": parts_lazily()})
            # The window must lie after the warm-up of the last (re)start: L-BFGS's first steps are
            # tiny or overshoot, the best loss stalls for several iterations, and a window over that
            # stall would call it convergence before anything happened.
            if tol > 0 and state["since_reset"] >= WARMUP_ITERATIONS + window:
                old = history[-window - 1]
                if (old - best["loss"]) <= tol * abs(best["loss"]):  # type: ignore[operator,arg-type]
                    converged = True
                    break
        if not best["parts"]:  # every evaluation diverged: keep the start
            raise StyleflowError("the optimisation diverged at every step; lower the style weight or the learning rate")
        return best_x, {"iterations": done, "restores": restores, "converged": converged, "losses": parts_as_floats()}


def _drop_blocked_gradient(x: torch.Tensor) -> None:
    """Zero the gradient of pixels held at a bound that it would push further out (x = 0 with
    a positive gradient, x = 1 with a negative one): those pixels are fixed for this step, and
    L-BFGS's curvature pairs then describe only the free pixels (an active-set projected method).
    """
    g = x.grad
    if g is not None:
        with torch.no_grad():
            g.masked_fill_(((x <= 0) & (g > 0)) | ((x >= 1) & (g < 0)), 0.0)


def _project(x: torch.Tensor, before: torch.Tensor, opt: torch.optim.Optimizer) -> None:
    """Clamp ``x`` to [0, 1] after an optimiser step taken from ``before``.

    Every evaluated point, the best iterate and the result are then images the user can get (the
    PyTorch tutorial's clamp). For L-BFGS, the step it stored (``d · t``, the ``s`` of its next
    curvature pair) is replaced by the step actually taken, so the pair stays consistent with the
    gradients it is paired with; without that the projected steps corrupt its curvature estimate.
    """
    with torch.no_grad():
        x.clamp_(0, 1)
        if isinstance(opt, torch.optim.LBFGS):
            state = opt.state.get(x, {})
            t = state.get("t")
            if isinstance(state.get("d"), torch.Tensor) and t:
                state["d"] = (x - before).flatten().div_(t)


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) mask in [0, 1] → (h, w) by area averaging (or bilinear when enlarging)."""
    m = np.asarray(mask, dtype=np.float32)
    if m.shape == tuple(size):
        return m
    import cv2

    interp = cv2.INTER_AREA if size[0] < m.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(m, (size[1], size[0]), interpolation=interp).astype(np.float32)

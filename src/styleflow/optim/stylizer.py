"""The optimisation at the heart of Gatys et al.: make an image whose VGG features match a content
image and whose Gram matrices match one or more style images.

:class:`Stylizer` loads the backbone once and caches the style targets per image size, so a video
(many frames of one size) computes them once; its content and style terms are the project's one
:class:`~styleflow.loss.meter.LossMeter` (:attr:`Stylizer.meter`, which also holds the style
targets). Precision and device policy live in :mod:`~styleflow.optim.precision`, the pyramid in
:mod:`~styleflow.optim.pyramid`, the [0, 1] projection in :mod:`~styleflow.optim.projection`, the
weighted sum of the terms in :mod:`~styleflow.loss.objective`, one level's L-BFGS/Adam loop with its
stopping rules and divergence restores in :mod:`~styleflow.optim.descent`.
:meth:`Stylizer.stylize` optimises one image: optionally coarse-to-fine, with an iteration budget,
and optional temporal terms (Ruder et al.) supplied by the video code.

Shapes and units: images are NumPy ``(H, W, 3)`` float32 RGB in [0, 1]; tensors are
``(1, 3, H, W)`` on the stylizer's device; masks are ``(H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from styleflow.color import transfer as colors
from styleflow.enc.tensors import to_numpy, to_tensor
from styleflow.errors import StyleflowError
from styleflow.io.images import resize
from styleflow.loss.functional import total_variation
from styleflow.loss.lowpass import temporal_term_loss
from styleflow.loss.meter import LossMeter
from styleflow.loss.objective import Objective
from styleflow.optim import precision as _precision
from styleflow.optim.descent import WARMUP_ITERATIONS, ProgressCallback, descend
from styleflow.optim.precision import auto_precision, native_bfloat16, resolve_device  # noqa: F401 (public here too)
from styleflow.optim.pyramid import MIN_LEVEL_SIDE, level_sizes, resize_mask, resolve_levels
from styleflow.options.registry import temporal_on
from styleflow.options.settings import StyleSettings

__all__ = ["MIN_LEVEL_SIDE", "WARMUP_ITERATIONS", "StyleResult", "Stylizer", "TemporalTerm", "level_sizes",
           "resolve_device", "to_numpy", "to_tensor"]  # WARMUP_ITERATIONS: styleflow.optim.descent's


@dataclass
class TemporalTerm:
    """One temporal constraint: stay close to ``warped`` where ``mask`` is high.

    ``warped``: (H, W, 3) the earlier stylised frame warped onto this frame's grid;
    ``mask``: (H, W) reliability in [0, 1]; ``weight``: γ for this term; ``lowpass``, ``detail``:
    penalise the difference only at the scale ``lowpass`` px, its finer rest times ``detail``
    (:func:`styleflow.loss.lowpass.temporal_term_loss`; 0: Ruder et al.'s full-resolution loss).
    """

    warped: np.ndarray
    mask: np.ndarray
    weight: float
    lowpass: float = 0.0
    detail: float = 0.0


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
        self.settings = settings
        self.device = resolve_device(device)
        self._luminance_reference: np.ndarray | None = None
        #: the objective's content and style terms, and the style targets (incl. blends)
        self.meter = LossMeter.load(
            settings.content_layers, settings.style_layers, styles, style_weights,
            weights=settings.weights, backbone=settings.backbone, pooling=settings.pooling, device=self.device,
            style_height=self._style_height, prepare_style=self._prepare_style,
        )
        self.style_weights = self.meter.style_weights
        #: the backbone's precision: choice, accuracy check, fallback (sets ``meter.amp_dtype``)
        self.precision_policy = _precision.BackbonePrecision(settings.precision, self.device, self.meter)
        #: L-BFGS curvature memory of the last full-size optimisation per image size (``carry``)
        self._curvature: dict[tuple[int, int], dict[str, object]] = {}

    @property
    def precision(self) -> str:
        """The precision the backbone actually runs in (``float32`` after a failed check)."""
        return _precision.precision_name(self.meter.amp_dtype)

    @property
    def precision_record(self) -> dict[str, object] | None:
        """:attr:`precision_choice` as the image and clip records hold it (``precision_choice``)."""
        choice = self.precision_policy.choice  # what the ``precision`` setting resolved to
        return choice.as_record() if choice else None

    def choose_precision(self) -> None:
        """Resolve ``precision: auto`` where that takes a timing (a CPU with native bfloat16; one
        decision per machine, whatever the image size:
        :meth:`~styleflow.optim.precision.BackbonePrecision.choose`). :meth:`stylize` and
        :meth:`loss_function` call it."""
        self.precision_policy.choose()

    @property
    def backbone_info(self) -> dict[str, str | None]:
        """Which backbone and weights file this stylizer uses (recorded with every result)."""
        return self.meter.backbone_info

    # ------------------------------------------------------------------ targets
    def _style_height(self, size: tuple[int, int]) -> int:
        return max(MIN_LEVEL_SIDE, round(size[0] * self.settings.style_scale))

    def _prepare_style(self, img: np.ndarray) -> np.ndarray:
        if self.settings.preserve_colors and self._luminance_reference is not None:
            return colors.match_luminance(img, self._luminance_reference)
        return img

    def objective(self, image: np.ndarray, content: np.ndarray) -> dict[str, float]:
        """Unweighted content and style losses of ``image`` against ``content`` and the styles,
        and ``objective = content_weight · content + style_weight · style`` (no TV, no temporal
        term): the same definition for any run with these settings. Images (H, W, 3) in [0, 1].
        """
        s = self.settings
        c, st = self.meter(image, content)
        return {"content": c, "style": st, "objective": s.content_weight * c + s.style_weight * st}

    def loss_function(self, content: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
        """The total loss one optimisation iteration of ``content`` (H, W, 3) at full size
        evaluates (content + style (+ TV), no temporal terms), as a function of the image tensor
        ``x`` (1, 3, H, W) → scalar tensor with its graph (call ``.backward()`` for the gradient).

        Targets are computed once, here, after ``precision: auto`` is resolved
        (:meth:`choose_precision`) and the mixed-precision check for this size has run, so :attr:`precision`
        afterwards is what a run at this size uses. For timing an iteration
        (``bench/``) without reaching into the optimiser.
        """
        self.choose_precision()
        c = to_tensor(content, self.device)
        targets = self.meter.content_targets(c)
        grams = self.meter.style_targets(tuple(content.shape[:2]))  # type: ignore[arg-type]
        self._check_precision(c.detach().clone().requires_grad_(True), targets, grams, [])
        return lambda x: self._losses(x, targets, grams, [])[0]

    def _check_precision(
        self,
        x: torch.Tensor,
        content_targets: dict[str, torch.Tensor],
        grams: dict[str, torch.Tensor],
        terms: list[tuple[torch.Tensor, torch.Tensor, float, float, float]],
    ) -> None:
        """Once per image size: keep mixed precision only if loss and gradient at ``x`` agree with
        float32's (:meth:`styleflow.optim.precision.BackbonePrecision.check`); else fall back to
        float32 for good."""

        def evaluate() -> tuple[float, torch.Tensor]:
            probe = x.detach().clone().requires_grad_(True)
            total, _ = self._losses(probe, content_targets, grams, terms)
            total.backward()
            return float(total.detach()), probe.grad.flatten()  # type: ignore[union-attr]

        self.precision_policy.check(tuple(x.shape[-2:]), evaluate)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ optimisation
    def stylize(
        self,
        content: np.ndarray,
        init: np.ndarray | None = None,
        temporal: Sequence[TemporalTerm] = (),
        iterations: int | None = None,
        coarse_to_fine: int | str | None = None,
        callback: ProgressCallback | None = None,
        warm: bool = False,
        style_floor: tuple[float, float] | None = None,
        watch: np.ndarray | None = None,
        carry: bool = False,
    ) -> StyleResult:
        """Optimise one image.

        Args:
            content: (H, W, 3) content image; the output has its size.
            init: (H, W, 3) starting image; None → from ``settings.init`` (content or seeded noise).
            temporal: temporal terms (video); their images and masks have the content's size.
            iterations: budget at full size (default ``settings.iterations``).
            coarse_to_fine: pyramid levels, or ``"auto"`` (:func:`~styleflow.optim.pyramid.auto_levels`;
                default ``settings.coarse_to_fine``).
            callback: called after every iteration with a dict (level, levels, iteration, budget, losses).
            warm: ``init`` is already a stylisation (e.g. the previous video frame, warped): stop
                with ``settings.warm_tol`` / ``warm_window`` instead of ``tol`` / ``window``.
            style_floor: ``(target, weight)``: at full size, add
                ``weight · style_weight · max(0, style − target)`` to the objective, i.e. the style
                term pulls ``1 + weight`` times harder while the (unweighted) style loss is above
                ``target`` and as usual below it (video: keep later frames as stylised as the first).
            watch: ``(H, W)`` weights in [0, 1]: the convergence test also waits for the content loss
                over these pixels (:meth:`LossMeter.masked_content_loss`, at the best iterate) to
                improve by less than the tolerance over the window (video: ``1 −`` the consistency
                mask, the pixels no temporal term holds; the total, which the temporal term
                dominates, cannot see them). None or all-zero: the total alone decides.
            carry: L-BFGS starts with the curvature memory (its stored step/gradient pairs and
                scale) that the last ``carry`` optimisation of this size ended with, instead of
                learning it again from a tiny first step (video: consecutive frames are nearly the
                same problem); the memory is kept for the next call. Full-size level only.
        """
        s = self.settings
        start = time.perf_counter()
        self.choose_precision()
        budget = s.iterations if iterations is None else iterations
        setting = s.coarse_to_fine if coarse_to_fine is None else coarse_to_fine
        levels = level_sizes(content.shape[:2], resolve_levels(setting, content.shape[:2]))
        if s.preserve_colors:
            original_content = content
            if self._luminance_reference is None:
                self._luminance_reference = content
            content = colors.luminance(content)
            init = None if init is None else colors.luminance(init)
            temporal = [replace(t, warped=colors.luminance(t.warped)) for t in temporal]
        if init is None:
            if s.init == "random":
                gen = torch.Generator().manual_seed(s.seed)
                init = torch.rand(content.shape, generator=gen).numpy().astype(np.float32)
            elif s.init == "image":
                raise StyleflowError("init 'image' needs an initial image (--init-image)")
            else:
                init = content
        if s.recolor_start and not warm and not s.preserve_colors:
            init = colors.transfer_colors(init, self.meter.styles, self.style_weights)
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
                    torch.from_numpy(np.ascontiguousarray(resize_mask(t.mask, size))).to(self.device)[None, None],
                    t.weight,
                    t.lowpass * size[0] / content.shape[0],  # the scale in pixels of this level
                    t.detail,
                )
                for t in temporal
                if temporal_on(t.weight)
            ]
            watch_level = None
            if watch is not None and final and float(watch.max()) > 0:
                watch_level = torch.from_numpy(np.ascontiguousarray(resize_mask(watch, size))).to(self.device)[None, None]
            x, info = self._optimise(
                to_tensor(resize(content, size), self.device), start_img, terms, level_budget,
                callback=callback, level=index + 1, levels=len(levels), warm=warm,
                style_floor=style_floor if final else None, watch=watch_level, carry=carry and final,
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
        terms: list[tuple[torch.Tensor, torch.Tensor, float, float, float]],
        style_floor: tuple[float, float] | None = None,
        watch: dict[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss parts of ``x`` (1, 3, H, W) and their total (:class:`~styleflow.loss.objective.Objective`):
        content and style; the style floor's hinge ``max(0, style − target)`` (a stronger style pull
        only above the floor); TV when its weight is > 0; the temporal terms, each weighted by its
        γ; ``watched_content`` (monitored only: no gradient flows into the total from it)."""
        s = self.settings
        feats = self.meter.features(x)
        c, st = self.meter.content_loss(feats, content_targets), self.meter.style_loss(feats, grams)
        parts: dict[str, torch.Tensor] = {"content": c, "style": st}  # type: ignore[dict-item]
        if watch is not None:
            with torch.no_grad():
                parts["watched_content"] = self.meter.masked_content_loss(
                    {n: feats[n].detach() for n in watch}, content_targets, watch)
        floor_weight = 0.0
        if style_floor is not None:
            target, floor_weight = style_floor
            parts["style_floor"] = torch.relu(st - target)
        if s.tv_weight > 0:
            parts["tv"] = total_variation(x)
        if terms:
            t_sum = None
            for warped, mask, weight, lowpass, detail in terms:
                term = weight * temporal_term_loss(x, warped, mask, lowpass, detail)
                t_sum = term if t_sum is None else t_sum + term
            parts["temporal"] = t_sum  # type: ignore[assignment]
        objective = Objective(s.content_weight, s.style_weight, tv_weight=s.tv_weight, style_floor_weight=floor_weight)
        parts["total"] = total = objective.total(parts)
        return total, parts

    def _optimise(
        self,
        content: torch.Tensor,
        start: torch.Tensor,
        terms: list[tuple[torch.Tensor, torch.Tensor, float, float, float]],
        budget: int,
        callback: ProgressCallback | None,
        level: int,
        levels: int,
        warm: bool = False,
        style_floor: tuple[float, float] | None = None,
        watch: torch.Tensor | None = None,
        carry: bool = False,
    ) -> tuple[torch.Tensor, dict[str, object]]:
        """Run one pyramid level (:func:`styleflow.optim.descent.descend` on :meth:`_losses`);
        return the best iterate and a record. Targets of this size, the precision check, and the
        watch mask on each content layer's grid (area average) are prepared here."""
        content_targets = self.meter.content_targets(content)
        grams = self.meter.style_targets(tuple(content.shape[-2:]))  # type: ignore[arg-type]
        self._check_precision(start.detach().contiguous(), content_targets, grams, terms)
        watched = None
        if watch is not None:
            watched = {n: F.adaptive_avg_pool2d(watch, t.shape[-2:])[0, 0] for n, t in content_targets.items()}

        def losses(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            return self._losses(x, content_targets, grams, terms, style_floor, watched)

        return descend(self.settings, losses, start, budget, warm=warm, watching=watched is not None,
                       callback=callback, level=level, levels=levels, memory=self._curvature if carry else None)

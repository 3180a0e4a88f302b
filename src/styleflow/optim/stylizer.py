"""The optimisation at the heart of Gatys et al.: make an image whose VGG features match a content
image and whose Gram matrices match one or more style images.

:class:`Stylizer` loads the backbone once and caches the style targets per image size, so a video
(many frames of one size) computes them once; its content and style terms are the project's one
:class:`~styleflow.loss.meter.LossMeter` (:attr:`Stylizer.meter`, which also holds the style
targets). Precision and device policy live in :mod:`~styleflow.optim.precision`, the pyramid in
:mod:`~styleflow.optim.pyramid`, the [0, 1] projection in :mod:`~styleflow.optim.projection`.
:meth:`Stylizer.stylize` optimises one image:
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
from styleflow.enc.tensors import to_numpy, to_tensor
from styleflow.errors import StyleflowError
from styleflow.io.images import resize
from styleflow.loss.functional import temporal_loss, total_variation
from styleflow.loss.meter import LossMeter
from styleflow.optim import precision as _precision
from styleflow.optim.lbfgs_history import history_size
from styleflow.optim.precision import auto_precision, native_bfloat16, resolve_device  # noqa: F401 (public here too)
from styleflow.optim.projection import drop_blocked_gradient, project
from styleflow.optim.warmstart import seed_lbfgs, stalled
from styleflow.optim.pyramid import MIN_LEVEL_SIDE, level_sizes, resize_mask, resolve_levels
from styleflow.options.settings import StyleSettings

#: Iterations after an optimiser (re)start before a loss blow-up counts as divergence, and before
#: the convergence test (``tol``) applies: L-BFGS without line search takes a tiny first step,
#: can overshoot by many orders of magnitude in the next ones, and then recovers.
WARMUP_ITERATIONS = 10

#: Optimiser restarts after a divergence before the level gives up.
MAX_RESTORES = 5

__all__ = ["MIN_LEVEL_SIDE", "WARMUP_ITERATIONS", "StyleResult", "Stylizer", "TemporalTerm", "level_sizes",
           "resolve_device", "to_numpy", "to_tensor"]


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
        self.model = self.meter.model
        self.styles = self.meter.styles
        self.style_weights = self.meter.style_weights
        #: the backbone's precision: choice, accuracy check, fallback (sets ``meter.amp_dtype``)
        self.precision_policy = _precision.BackbonePrecision(settings.precision, self.device, self.meter)
        #: L-BFGS curvature memory of the last full-size optimisation per image size (``carry``)
        self._curvature: dict[tuple[int, int], dict[str, object]] = {}

    @property
    def amp_dtype(self) -> torch.dtype | None:
        """Autocast dtype of the backbone's forward (None: float32); see :meth:`_check_precision`."""
        return self.meter.amp_dtype

    @amp_dtype.setter
    def amp_dtype(self, dtype: torch.dtype | None) -> None:
        self.meter.amp_dtype = dtype

    @property
    def precision(self) -> str:
        """The precision the backbone actually runs in (``float32`` after a failed check)."""
        return _precision.precision_name(self.amp_dtype)

    @property
    def precision_choice(self) -> _precision.PrecisionChoice | None:
        """What the ``precision`` setting resolved to (None: ``auto`` waits for a size to time at)."""
        return self.precision_policy.choice

    @property
    def precision_note(self) -> str | None:
        """Why mixed precision was turned off (None: it was not)."""
        return self.precision_policy.note

    @property
    def precision_record(self) -> dict[str, object] | None:
        """:attr:`precision_choice` as the image and clip records hold it (``precision_choice``)."""
        return self.precision_choice.as_record() if self.precision_choice else None

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

    def style_targets(self, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Blended Gram targets for a content image of ``size`` (H, W); computed once per size."""
        return self.meter.style_targets(size)

    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.meter.content_targets(content)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Backbone activations of ``x`` (1, 3, H, W) as the losses see them (:meth:`LossMeter.features`)."""
        return self.meter.features(x)

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
        targets = self.content_targets(c)
        grams = self.style_targets(tuple(content.shape[:2]))  # type: ignore[arg-type]
        self._check_precision(c.detach().clone().requires_grad_(True), targets, grams, [])
        return lambda x: self._losses(x, targets, grams, [])[0]

    def _check_precision(
        self,
        x: torch.Tensor,
        content_targets: dict[str, torch.Tensor],
        grams: dict[str, torch.Tensor],
        terms: list[tuple[torch.Tensor, torch.Tensor, float]],
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
                    torch.from_numpy(np.ascontiguousarray(resize_mask(t.mask, size))).to(self.device)[None, None],
                    t.weight,
                )
                for t in temporal
                if t.weight > 0
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
        terms: list[tuple[torch.Tensor, torch.Tensor, float]],
        style_floor: tuple[float, float] | None = None,
        watch: dict[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        s = self.settings
        feats = self.features(x)
        c, st = self.meter.content_loss(feats, content_targets), self.meter.style_loss(feats, grams)
        parts: dict[str, torch.Tensor] = {"content": c, "style": st}  # type: ignore[dict-item]
        if watch is not None:  # monitored only (no gradient flows into the objective from it)
            with torch.no_grad():
                parts["watched_content"] = self.meter.masked_content_loss(
                    {n: feats[n].detach() for n in watch}, content_targets, watch)
        total = s.content_weight * c + s.style_weight * st
        if style_floor is not None:  # hinge: a stronger style pull only above the floor
            target, weight = style_floor
            parts["style_floor"] = torch.relu(st - target)
            total = total + weight * s.style_weight * parts["style_floor"]
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
                [x], lr=s.lr or 1.0, max_iter=1, history_size=history_size(x.numel()),  # trimmed at large sizes
                tolerance_grad=0.0, tolerance_change=0.0,
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
        style_floor: tuple[float, float] | None = None,
        watch: torch.Tensor | None = None,
        carry: bool = False,
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
        watched = None  # the watch mask on each content layer's grid (area average)
        if watch is not None:
            watched = {n: F.adaptive_avg_pool2d(watch, t.shape[-2:])[0, 0] for n, t in content_targets.items()}
        opt = self._new_optimizer(x)
        size = tuple(x.shape[-2:])
        carry = carry and isinstance(opt, torch.optim.LBFGS)
        if carry and size in self._curvature:
            seed_lbfgs(opt, x, self._curvature[size])
        best_x = x.detach().clone()
        best: dict[str, object] = {"loss": math.inf, "parts": {}}
        state = {"blowup": False, "since_reset": 0}
        history: list[float] = []
        watch_history: list[float] = []  # the watched content loss at the best iterate, per iteration

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            total, parts = self._losses(x, content_targets, grams, terms, style_floor, watched)
            value = float(total.detach())  # the one host sync per evaluation (L-BFGS needs it too)
            warm = state["since_reset"] >= WARMUP_ITERATIONS  # L-BFGS overshoots while it learns the scale
            if not math.isfinite(value) or (warm and value > s.divergence_factor * best["loss"]):  # type: ignore[operator]
                state["blowup"] = True
            elif value < best["loss"]:  # type: ignore[operator]
                best_x.copy_(x.detach())
                best.update(loss=value, parts={k: v.detach() for k, v in parts.items()})
            total.backward()
            if s.clamp:
                drop_blocked_gradient(x)
            return total

        def parts_as_floats() -> dict[str, float]:
            return {k: float(v) for k, v in best["parts"].items()}  # type: ignore[union-attr]

        def parts_lazily() -> Mapping[str, float]:
            return _HostLosses(best["parts"])  # type: ignore[arg-type]

        if budget == 0:
            with torch.no_grad():
                _, parts = self._losses(x, content_targets, grams, terms, style_floor, watched)
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
                project(x, x_before, opt)
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
                if restores > MAX_RESTORES:
                    break
            history.append(best["loss"])  # type: ignore[arg-type]
            if watched is not None and best["parts"]:
                watch_history.append(float(best["parts"]["watched_content"]))  # type: ignore[index]
            if callback:
                callback({"event": "iteration", "level": level, "levels": levels, "iteration": it,
                          "budget": budget, "losses": parts_lazily()})
            # The window must lie after the warm-up of the last (re)start: L-BFGS's first steps are
            # tiny or overshoot, the best loss stalls for several iterations, and a window over that
            # stall would call it convergence before anything happened.
            if tol > 0 and state["since_reset"] >= WARMUP_ITERATIONS + window:
                old = history[-window - 1]
                if (old - best["loss"]) <= tol * abs(best["loss"]) and stalled(watch_history, window, tol):  # type: ignore[operator,arg-type]
                    converged = True
                    break
        if carry and isinstance(opt, torch.optim.LBFGS) and opt.state[x].get("old_dirs"):
            self._curvature[size] = {k: opt.state[x][k] for k in ("old_dirs", "old_stps", "ro", "H_diag")}  # type: ignore[index]
        if not best["parts"]:  # every evaluation diverged: keep the start
            raise StyleflowError("the optimisation diverged at every step; lower the style weight or the learning rate")
        return best_x, {"iterations": done, "restores": restores, "converged": converged, "losses": parts_as_floats()}


"""One pyramid level of the optimisation: the L-BFGS (or Adam) loop, its stopping rules and its
divergence restores, for :meth:`styleflow.optim.stylizer.Stylizer.stylize`.

:func:`descend` minimises a loss function of the image tensor ``x`` (1, 3, H, W) in [0, 1] from a
start, for at most ``budget`` iterations. It keeps the best iterate; a non-finite loss, or (after
:data:`WARMUP_ITERATIONS`) one above ``divergence_factor`` times the best, restores the best iterate
and restarts the optimiser (at most :data:`MAX_RESTORES` times); it stops early when the best loss
improved by at most ``tol`` (a fraction) over the last ``window`` iterations, and the watched
content loss too (:func:`styleflow.optim.warmstart.stalled`). The bookkeeping of one level is a
:class:`LevelState`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import torch

from styleflow.errors import StyleflowError
from styleflow.optim.lbfgs_history import history_size
from styleflow.optim.projection import drop_blocked_gradient, project
from styleflow.optim.warmstart import seed_lbfgs, stalled

#: Iterations after an optimiser (re)start before a loss blow-up counts as divergence, and before
#: the convergence test (``tol``) applies: L-BFGS without line search takes a tiny first step,
#: can overshoot by many orders of magnitude in the next ones, and then recovers.
WARMUP_ITERATIONS = 10

#: Optimiser restarts after a divergence before the level gives up.
MAX_RESTORES = 5

#: A loss function: image tensor (1, 3, H, W) → (total with its graph, loss parts as device scalars).
LossFunction = Callable[[torch.Tensor], "tuple[torch.Tensor, dict[str, torch.Tensor]]"]
ProgressCallback = Callable[[dict], None]


class HostLosses(Mapping[str, float]):
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


def new_optimizer(settings: Any, x: torch.Tensor) -> torch.optim.Optimizer:
    """A fresh optimiser of ``x`` as ``settings`` (a StyleSettings) say: one L-BFGS iteration per
    step (no line search, history trimmed at large sizes), or Adam."""
    if settings.optimizer == "lbfgs":
        return torch.optim.LBFGS(
            [x], lr=settings.lr or 1.0, max_iter=1, history_size=history_size(x.numel()),
            tolerance_grad=0.0, tolerance_change=0.0,
        )
    return torch.optim.Adam([x], lr=settings.lr or 0.02)


@dataclass
class LevelState:
    """The bookkeeping of one level: the best iterate and its loss parts (kept on the device,
    copied in place), the divergence flag, the iterations since the last (re)start, and the best
    loss (and the watched content loss at the best iterate) after every iteration."""

    best_x: torch.Tensor
    divergence_factor: float
    best_loss: float = math.inf
    best_parts: dict[str, torch.Tensor] = field(default_factory=dict)
    blowup: bool = False
    since_reset: int = 0
    history: list[float] = field(default_factory=list)
    watch_history: list[float] = field(default_factory=list)

    def observe(self, value: float, x: torch.Tensor, parts: Mapping[str, torch.Tensor]) -> None:
        """One evaluation's loss ``value`` at ``x``: a blow-up, a new best, or neither."""
        warm = self.since_reset >= WARMUP_ITERATIONS  # L-BFGS overshoots while it learns the scale
        if not math.isfinite(value) or (warm and value > self.divergence_factor * self.best_loss):
            self.blowup = True
        elif value < self.best_loss:
            self.best_x.copy_(x.detach())
            self.best_loss = value
            self.best_parts = {k: v.detach() for k, v in parts.items()}

    def record_iteration(self, watching: bool) -> None:
        self.history.append(self.best_loss)
        if watching and self.best_parts:
            self.watch_history.append(float(self.best_parts["watched_content"]))

    def converged(self, tol: float, window: int) -> bool:
        """The stopping rule. The window must lie after the warm-up of the last (re)start: L-BFGS's
        first steps are tiny or overshoot, the best loss stalls for several iterations, and a window
        over that stall would call it convergence before anything happened."""
        if tol > 0 and self.since_reset >= WARMUP_ITERATIONS + window:
            old = self.history[-window - 1]
            return (old - self.best_loss) <= tol * abs(self.best_loss) and stalled(self.watch_history, window, tol)
        return False


def descend(
    settings: Any,
    losses: LossFunction,
    start: torch.Tensor,
    budget: int,
    *,
    warm: bool = False,
    watching: bool = False,
    callback: ProgressCallback | None = None,
    level: int = 1,
    levels: int = 1,
    memory: dict[tuple[int, int], dict[str, object]] | None = None,
) -> tuple[torch.Tensor, dict[str, object]]:
    """Minimise ``losses`` from ``start`` (1, 3, H, W); return the best iterate and a record
    ``{"iterations", "restores", "converged", "losses"}`` (the best iterate's parts as floats).

    ``settings``: a StyleSettings (optimiser, lr, ``stop_rule(warm)``, clamp, divergence factor).
    ``watching``: the parts hold ``watched_content``, which the stopping rule also waits for.
    ``memory``: L-BFGS curvature memory per image size (``carry``): the optimiser starts from the
    memory of this size when there is one, and the memory is updated at the end.

    Device traffic: per evaluation the loss value comes to the host once (L-BFGS reads it
    anyway, and the divergence guard and the convergence test need it); the best iterate and
    its loss parts stay on the device and become floats once, at the end — or when a
    ``callback`` reads them (its ``losses`` mapping converts on access).
    """
    s = settings
    tol, window = s.stop_rule(warm)
    x = start.detach().contiguous().clone().requires_grad_(True)  # L-BFGS needs a flat view
    if budget == 0:
        with torch.no_grad():
            _, parts = losses(x)
        return x.detach(), {"iterations": 0, "restores": 0, "converged": False,
                            "losses": {k: float(v) for k, v in parts.items()}}
    opt = new_optimizer(s, x)
    size = tuple(x.shape[-2:])
    carry = memory is not None and isinstance(opt, torch.optim.LBFGS)
    if carry and size in memory:  # type: ignore[operator]
        seed_lbfgs(opt, x, memory[size])  # type: ignore[arg-type,index]
    state = LevelState(best_x=x.detach().clone(), divergence_factor=s.divergence_factor)

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        total, parts = losses(x)
        state.observe(float(total.detach()), x, parts)  # the one host sync per evaluation
        total.backward()
        if s.clamp:
            drop_blocked_gradient(x)
        return total

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
        state.since_reset += 1
        if state.blowup:
            restores += 1
            state.blowup = False
            state.since_reset = 0
            with torch.no_grad():
                x.copy_(state.best_x)
            opt = new_optimizer(s, x)
            if callback:
                callback({"event": "restore", "level": level, "iteration": it, "restores": restores})
            if restores > MAX_RESTORES:
                break
        state.record_iteration(watching)
        if callback:
            callback({"event": "iteration", "level": level, "levels": levels, "iteration": it,
                      "budget": budget, "losses": HostLosses(state.best_parts)})
        if state.converged(tol, window):
            converged = True
            break
    if carry and isinstance(opt, torch.optim.LBFGS) and opt.state[x].get("old_dirs"):
        memory[size] = {k: opt.state[x][k] for k in ("old_dirs", "old_stps", "ro", "H_diag")}  # type: ignore[index]
    if not state.best_parts:  # every evaluation diverged: keep the start
        raise StyleflowError("the optimisation diverged at every step; lower the style weight or the learning rate")
    return state.best_x, {"iterations": done, "restores": restores, "converged": converged,
                          "losses": {k: float(v) for k, v in state.best_parts.items()}}

"""Helpers of warm starts (later video frames) in :class:`styleflow.optim.stylizer.Stylizer`
(issue 24, docs/ghosts.md): a convergence test for a watched series of losses, and seeding a fresh
L-BFGS with the curvature memory of a previous, nearly identical problem."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch


def seed_lbfgs(opt: torch.optim.LBFGS, x: torch.Tensor, memory: Mapping[str, object]) -> None:
    """Start ``opt`` (a fresh L-BFGS on ``x``) from another run's curvature memory: its first step
    is then a quasi-Newton step of full length instead of a tiny gradient step. The previous step
    is recorded as zero, so no curvature pair is formed across the two problems."""
    flat = x.detach().flatten()
    opt.state[x].update({  # type: ignore[index]
        "func_evals": 0, "n_iter": 1, "d": torch.zeros_like(flat), "t": 0.0,
        "old_dirs": [v.clone() for v in memory["old_dirs"]],  # type: ignore[attr-defined]
        "old_stps": [v.clone() for v in memory["old_stps"]],  # type: ignore[attr-defined]
        "ro": list(memory["ro"]),  # type: ignore[call-overload]
        "H_diag": memory["H_diag"], "prev_flat_grad": torch.zeros_like(flat), "prev_loss": None,
    })


def stalled(history: Sequence[float], window: int, tol: float) -> bool:
    """True when ``history`` (one value per iteration; empty: nothing is watched) improved by at
    most ``tol`` (a fraction of its last value) over its last ``window`` iterations."""
    if not history:
        return True
    if len(history) <= window:
        return False
    return history[-window - 1] - history[-1] <= tol * abs(history[-1])

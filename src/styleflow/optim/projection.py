"""Keeping the optimised image in [0, 1] (``settings.clamp``): an active-set projected method.

Pixels held at a bound are fixed for a step (:func:`drop_blocked_gradient`), and every step is
projected back onto [0, 1] with L-BFGS's stored step corrected to the one taken (:func:`project`).
Images are ``(1, 3, H, W)`` tensors.
"""

from __future__ import annotations

import torch


def drop_blocked_gradient(x: torch.Tensor) -> None:
    """Zero the gradient of pixels held at a bound that it would push further out (x = 0 with
    a positive gradient, x = 1 with a negative one): those pixels are fixed for this step, and
    L-BFGS's curvature pairs then describe only the free pixels (an active-set projected method).
    """
    g = x.grad
    if g is not None:
        with torch.no_grad():
            g.masked_fill_(((x <= 0) & (g > 0)) | ((x >= 1) & (g < 0)), 0.0)


def project(x: torch.Tensor, before: torch.Tensor, opt: torch.optim.Optimizer) -> None:
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

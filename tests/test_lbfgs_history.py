"""L-BFGS keeps fewer correction pairs at large sizes (styleflow.optim.lbfgs_history)."""

from __future__ import annotations

import numpy as np
import torch

import styleflow.optim.lbfgs_history as H
from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import settings_from


def test_history_is_full_at_small_sizes_and_trimmed_under_the_budget_at_large_ones():
    assert H.history_size(3 * 256 * 456) == 100
    assert H.history_size(3 * 720 * 1280) == 48
    big = H.history_size(3 * 1080 * 1920)
    assert big == 21 and 2 * big * 3 * 1080 * 1920 * 4 <= H.HISTORY_BYTES
    assert H.history_size(3 * 4320 * 7680) == H.MIN_HISTORY  # 8K: the floor


def test_the_stylizer_uses_the_trimmed_history(monkeypatch):
    sizes: list[int] = []

    class Spy(torch.optim.LBFGS):
        def __init__(self, params, **kw):
            sizes.append(kw["history_size"])
            super().__init__(params, **kw)

    monkeypatch.setattr(torch.optim, "LBFGS", Spy)
    monkeypatch.setattr(H, "HISTORY_BYTES", 2 * 12 * 3 * 24 * 32 * 4)  # room for 12 pairs at 24x32
    settings = settings_from("gatys", {"weights": "random", "backbone": "vgg16", "precision": "float32",
                                       "coarse_to_fine": 1, "tol": 0.0})
    rng = np.random.default_rng(0)
    stylizer = Stylizer(settings, [rng.random((32, 32, 3), dtype=np.float32)], device="cpu")
    result = stylizer.stylize(rng.random((24, 32, 3), dtype=np.float32), iterations=15)
    assert sizes == [12] and result.iterations == 15 and np.isfinite(result.image).all()

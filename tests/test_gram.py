"""The optimiser's Gram matrix, both branches, against the plain formula ``G = F Fᵀ / (C·H·W)``.

The fast Gram has two branches: oneDNN on the CPU (batch 1, float32, channels-last) and ``bmm``
elsewhere (CUDA, batches, other dtypes). On a CPU-only machine the ``bmm`` branch would never run in
the optimiser, so both are forced here through the module's switch ``use_fast_path(features)``, and
each is checked - values and gradients (``torch.autograd.gradcheck`` in float64) - against the
reference formula.
"""

from __future__ import annotations

import pytest
import torch

from styleflow.loss import gram as gram_module
from styleflow.loss.gram import gram

#: the switch the tests monkeypatch to force a branch
SWITCH = (gram_module, "use_fast_path")


def plain(features: torch.Tensor) -> torch.Tensor:
    """The formula written out here: (B, C, H, W) → (B, C, C), ``F Fᵀ / (C·H·W)``."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def features(b: int, c: int, h: int, w: int, dtype: torch.dtype, channels_last: bool = True) -> torch.Tensor:
    x = torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(b * 1000 + c), dtype=dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


@pytest.fixture(params=["fast", "fallback"])
def branch(request, monkeypatch):
    """Force one branch of the Gram; yields its name and a counter of the switch's calls."""
    calls = []
    module, name = SWITCH

    def forced(feats: torch.Tensor) -> bool:
        calls.append(tuple(feats.shape))
        return request.param == "fast"

    monkeypatch.setattr(module, name, forced)
    return request.param, calls


@pytest.mark.parametrize("channels_last", [True, False])
def test_each_branch_gives_the_gram_computed_by_hand(branch, channels_last):
    """F has C=2 channels on a 1x2 grid, rows (1, 2) and (3, 4): F Fᵀ = [[5, 11], [11, 25]],
    C·H·W = 4, so G = [[1.25, 2.75], [2.75, 6.25]]; and ``plain`` (the formula the other tests
    compare with) gives the same."""
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 1, 2)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    expected = torch.tensor([[[1.25, 2.75], [2.75, 6.25]]])
    torch.testing.assert_close(gram(x), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(plain(x), expected, rtol=0, atol=1e-6)
    assert branch[1], "the forced switch was consulted"


@pytest.mark.parametrize("shape", [(1, 8, 6, 5), (1, 3, 1, 7)])
def test_values_and_gradients_match_the_formula_float32(branch, shape):
    name, calls = branch
    x = features(*shape, torch.float32).requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    g = gram(x)
    torch.testing.assert_close(g, plain(x_ref), rtol=1e-5, atol=1e-6)
    weights = torch.randn(g.shape, generator=torch.Generator().manual_seed(1))  # not symmetric
    (g * weights).sum().backward()
    (plain(x_ref) * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-6)
    assert calls, f"the {name} branch was not asked for"  # the switch really decides


@pytest.mark.parametrize("batch", [1, 2])
def test_gradcheck_float64(branch, batch):
    name, _ = branch
    if name == "fast" and batch > 1:
        pytest.skip("the oneDNN branch is for batch 1 (use_fast_path says no to batches)")
    x = features(batch, 4, 3, 5, torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(gram, (x,), eps=1e-6, atol=1e-6)
    torch.testing.assert_close(gram(x), plain(x.detach()))


def test_fallback_handles_what_the_fast_path_cannot(branch):
    """Batches and contiguous (not channels-last) tensors: the ``bmm`` branch, same values."""
    name, _ = branch
    if name == "fast":
        pytest.skip("only the fallback takes batches and contiguous tensors")
    for x in (features(3, 6, 4, 4, torch.float32), features(1, 6, 4, 5, torch.float32, channels_last=False)):
        torch.testing.assert_close(gram(x), plain(x), rtol=1e-5, atol=1e-6)


def test_the_fast_path_is_taken_where_it_applies():
    """On the CPU, batch-1 float32 channels-last features go through oneDNN (if torch has it);
    batches and float64 do not."""
    module, name = SWITCH
    use = getattr(module, name)
    x = features(1, 4, 3, 3, torch.float32)
    assert use(x) == torch.backends.mkldnn.is_available()
    assert not use(features(2, 4, 3, 3, torch.float32))
    assert not use(features(1, 4, 3, 3, torch.float64))

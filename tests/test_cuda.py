"""The CUDA code paths: on a GPU against the CPU (skipped without CUDA; bench/device/run.sh runs
them on a lent GPU), and on the CPU with oneDNN switched off, which takes the branches CUDA takes
(the Gram's ``bmm``, plain convolutions), and bfloat16 autocast, as the network runs on a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleflow.enc.weights import load_backbone
from styleflow.ff.net import NetConfig, TransformNet
from styleflow.loss.gram import gram, use_fast_path
from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import settings_from


def plain_gram(features: torch.Tensor) -> torch.Tensor:
    """The formula written out: (B, C, H, W) -> (B, C, C), ``F Fᵀ / (C·H·W)`` (autograd's backward)."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bench/device/run.sh)")


def _image(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def _stylise(device: str, iterations: int = 6) -> tuple[np.ndarray, dict]:
    settings = settings_from("gatys", {"weights": "random", "backbone": "vgg16", "precision": "float32",
                                       "coarse_to_fine": 1, "tol": 0.0})
    stylizer = Stylizer(settings, [_image(32, 32, 1)], device=device)
    result = stylizer.stylize(_image(24, 32, 2), iterations=iterations)
    return result.image, result.losses


@pytest.mark.filterwarnings("ignore:TF32 acceleration")
def test_without_onednn_the_optimisation_takes_the_generic_branches_and_agrees(monkeypatch):
    """Whole L-BFGS runs with and without oneDNN (the Gram's bmm branch is CUDA's) end alike."""
    import styleflow.loss.gram as gram_module

    fast, fast_losses = _stylise("cpu")
    taken: list[bool] = []
    monkeypatch.setattr(gram_module, "use_fast_path", lambda f: taken.append(False) or False)
    with torch.backends.mkldnn.flags(enabled=False):
        generic, generic_losses = _stylise("cpu")
    assert taken, "the Gram's generic branch was not used"
    assert np.abs(fast - generic).max() < 2e-2
    assert generic_losses["style"] == pytest.approx(fast_losses["style"], rel=0.05)


def test_network_under_bfloat16_autocast_matches_float32_on_the_cpu():
    """The network as CUDA runs it (bfloat16 autocast, float32 sigmoid) stays near float32."""
    torch.manual_seed(0)
    net = TransformNet(NetConfig(width=8, blocks=1)).eval()
    x = torch.rand(1, 3, 24, 32)
    with torch.no_grad():
        ref = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net(x)
    assert low.dtype == torch.float32
    assert (low - ref).abs().max() < 0.05


@cuda
def test_backbone_features_on_cuda_match_the_cpu():
    model_cpu = load_backbone(["relu1_1", "relu3_1", "relu5_1"], weights="random", arch="vgg16")
    model_gpu = load_backbone(["relu1_1", "relu3_1", "relu5_1"], weights="random", arch="vgg16", device="cuda")
    x = torch.rand(1, 3, 48, 64)
    a = model_cpu(x)
    b = model_gpu(x.cuda().contiguous(memory_format=torch.channels_last))
    for name in a:
        torch.testing.assert_close(b[name].cpu(), a[name], rtol=2e-2, atol=2e-3)  # TF32 convolutions


@cuda
def test_gram_on_cuda_matches_the_formula_with_gradients():
    x = torch.randn(1, 16, 12, 10, device="cuda").contiguous(memory_format=torch.channels_last).requires_grad_(True)
    ref = x.detach().double().requires_grad_(True)
    assert not use_fast_path(x)
    g = gram(x)
    torch.testing.assert_close(g.double(), plain_gram(ref), rtol=1e-4, atol=1e-6)
    w = torch.randn(g.shape, device="cuda")
    (g * w).sum().backward()
    (plain_gram(ref) * w.double()).sum().backward()
    torch.testing.assert_close(x.grad.double(), ref.grad, rtol=1e-3, atol=1e-6)


@cuda
def test_optimisation_on_cuda_agrees_with_the_cpu():
    cpu, cpu_losses = _stylise("cpu")
    gpu, gpu_losses = _stylise("cuda")
    assert gpu.shape == cpu.shape and np.isfinite(gpu).all()
    assert np.abs(gpu - cpu).max() < 5e-2
    assert gpu_losses["style"] == pytest.approx(cpu_losses["style"], rel=0.1)


@cuda
def test_network_on_cuda_matches_the_cpu():
    from styleflow.ff.infer import inference_dtype

    torch.manual_seed(0)
    net = TransformNet(NetConfig(width=8, blocks=1)).eval()
    x = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        ref = net(x)
        dev = torch.device("cuda")
        dtype = inference_dtype(dev)
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            out = net.to(dev)(x.to(dev))
    assert (out.cpu() - ref).abs().max() < 0.05


@cuda
def test_warp_tensor_on_cuda_matches_the_cpu():
    from styleflow.motion.warp import warp_tensor

    images = torch.rand(1, 3, 20, 24)
    flow = torch.randn(1, 20, 24, 2) * 3
    a = warp_tensor(images, flow)
    b = warp_tensor(images.cuda(), flow.cuda())
    torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-5)

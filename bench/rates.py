"""Arithmetic rates for the speed benchmark: the machine's dense rate, the analytic FLOP count of
the VGG backbone, and the achieved rate of one optimisation iteration (public API only).

Imported by ``bench/bench_speed.py`` (this folder on ``sys.path``).
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA), so a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn: Callable[[], Any], flops: float, device: torch.device, repeats: int) -> tuple[float, float]:
    """GFLOP/s of ``fn`` doing ``flops`` FLOPs: (median, best) over ``repeats`` after a warm-up."""
    fn()  # warm-up
    sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return flops / statistics.median(times) / 1e9, flops / min(times) / 1e9


def dense_rate(device: torch.device, n: int = 2048, repeats: int = 8,
               dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """The machine's measured dense-arithmetic rate in ``dtype``, two ways (GFLOP/s, median and best):

    * ``matmul``: ``torch.mm`` of two ``n×n`` matrices, ``2·n³`` FLOPs (MKL on CPU, cuBLAS on CUDA);
    * ``conv1x1``: the same kind of product as a 1×1 convolution — ``n/2`` channels in and out
      over a 64×64 image, ``2·(n/2)²·4096`` FLOPs — which runs through oneDNN on the CPU (cuDNN on
      CUDA), the library VGG's convolutions use. (MKL's sgemm takes its AVX2 path on AMD CPUs,
      oneDNN uses AVX-512, so the two can differ by 2x.)

    ``gflops_median`` is the higher of the two medians: the rate a VGG iteration is held against.
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(n, n, generator=gen).to(device, dtype)
    b = torch.rand(n, n, generator=gen).to(device, dtype)
    mm = rate(lambda: torch.mm(a, b), 2.0 * n**3, device, repeats)
    c = max(16, n // 2)
    x = torch.rand(1, c, 64, 64, generator=gen).to(device, dtype).contiguous(memory_format=torch.channels_last)
    w = torch.rand(c, c, 1, 1, generator=gen).to(device, dtype).contiguous(memory_format=torch.channels_last)
    conv = rate(lambda: torch.nn.functional.conv2d(x, w), 2.0 * c * c * 64 * 64, device, repeats)
    return {"dtype": str(dtype).removeprefix("torch."), "n": n, "matmul_median": mm[0], "matmul_best": mm[1], "conv1x1_channels": c,
            "conv1x1_median": conv[0], "conv1x1_best": conv[1],
            "gflops_median": max(mm[0], conv[0]), "gflops_best": max(mm[1], conv[1])}


def vgg_flops(model: torch.nn.Module, height: int, width: int) -> dict[str, Any]:
    """Analytic FLOP count of the truncated VGG ``model`` on a ``height × width`` image.

    Counted: every 3×3 convolution, ``2·C_in·C_out·9·H·W`` FLOPs forward (a multiply and an add
    per weight per output pixel; H, W that layer's size, halved by each 2×2 pooling). One
    optimisation iteration is forward + backward *to the input image*: the backward of a
    convolution to its input costs the same as its forward; the weights are frozen, so no weight
    gradients (which would be a third ×1) are computed. Iteration = 2 × forward.
    Not counted: biases, ReLU, pooling, preprocessing, Gram matrices, losses, the L-BFGS update
    (Gram FLOPs are reported separately for scale).
    """
    h, w = height, width
    forward = 0
    per_layer = []
    for name, module in zip(model.names, model.body):  # type: ignore[attr-defined]
        if isinstance(module, torch.nn.Conv2d):
            f = 2 * module.in_channels * module.out_channels * 9 * h * w
            per_layer.append({"layer": name, "cin": module.in_channels, "cout": module.out_channels,
                              "height": h, "width": w, "gflop": f / 1e9})
            forward += f
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
    return {"forward_gflop": forward / 1e9, "iteration_gflop": 2 * forward / 1e9, "layers": per_layer}


def gram_flops(model: torch.nn.Module, style_layers: Sequence[str], height: int, width: int) -> float:
    """GFLOPs of the style Grams per iteration: ``2·C²·H·W`` forward and the same again backward
    (styleflow's Gram takes one product backward)."""
    h, w, c = height, width, 3
    total = 0.0
    for name, module in zip(model.names, model.body):  # type: ignore[attr-defined]
        if isinstance(module, torch.nn.Conv2d):
            c = module.out_channels
        elif name.startswith("pool"):
            h, w = h // 2, w // 2
        if name in style_layers:
            total += 2 * 2 * c * c * h * w
    return total / 1e9


def vgg_iteration_rate(stylizer: Any, content: np.ndarray, repeats: int = 6) -> dict[str, Any]:
    """Time one loss evaluation + backward (what one L-BFGS iteration costs) at ``content``'s size
    (``stylizer``: a :class:`styleflow.optim.stylizer.Stylizer`; ``content`` (H, W, 3) in [0, 1]).

    Returns seconds (median, best), the analytic conv FLOPs, the achieved GFLOP/s and the
    precision it ran in (mixed precision is first checked against float32 at this size, as in a
    run: :meth:`Stylizer.loss_function`).
    """
    from styleflow.enc.tensors import to_tensor

    device = stylizer.device
    h, w = content.shape[:2]
    loss = stylizer.loss_function(content)
    x = to_tensor(content, device).detach().clone().requires_grad_(True)

    def once() -> float:
        t = time.perf_counter()
        x.grad = None
        loss(x).backward()
        sync(device)
        return time.perf_counter() - t

    once()  # warm-up (allocator, kernels)
    times = [once() for _ in range(repeats)]
    flops = vgg_flops(stylizer.meter.model, h, w)
    med, best = statistics.median(times), min(times)
    return {
        "precision": stylizer.precision, "height": h, "width": w, "seconds_median": med, "seconds_best": best,
        "conv_gflop_per_iteration": flops["iteration_gflop"],
        "gram_gflop_per_iteration": gram_flops(stylizer.meter.model, list(stylizer.settings.style_layers), h, w),
        "gflops_median": flops["iteration_gflop"] / med, "gflops_best": flops["iteration_gflop"] / best,
        "layers": flops["layers"],
    }

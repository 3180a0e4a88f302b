"""The performance benchmark: styleflow's fast default against the report protocol, in one process.

One call of :func:`run_benchmark` prepares one clip (frames, DIS flow, consistency masks) at one
height and stylises it twice with the same style, backbone, layers, loss weights, variant and device:

* **report** — the source report's protocol: every frame L-BFGS for a fixed number of iterations
  (300), full size only, no early stop; the first frame starts from its content frame, every later
  frame from the previous stylised frame (as the variant says: warped by the flow by default).
* **fast** — styleflow's default: the settings ``styleflow video`` and the default variants use
  (the ``gatys`` preset: convergence stopping, coarse-to-fine for frames started from content).

Both go through the production code path (:func:`styleflow.video.sequence.stylize_clip`, frames written
as 8-bit PNG and read back as the next frame's start). Every output frame is then measured the same
way: the content + style objective ``α·L_content + β·L_style`` of the written frame with the
preset's layers and weights (no temporal term: it depends on the run's own earlier frames), and the
warping error of Lai et al. (:func:`styleflow.eval.metrics.warping_errors`, the clip's DIS flow).

Also measured: the machine's dense arithmetic rate (a large float32 matmul), the achieved rate of
one VGG forward + backward at the benchmark size (conv FLOPs counted analytically, see
:func:`vgg_flops`), the peak memory of each run, and — in the separate memory mode — whether peak
memory is flat in the clip length (30 vs 120 frames, each in a fresh process).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from styleflow.errors import StyleflowError
from styleflow.io.images import read_image
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.video.variants import DEFAULT_VARIANT

#: The report protocol's fixed budget per frame.
REPORT_ITERATIONS = 300

#: Targets of issue 8 (checked and printed, never enforced).
TARGETS = {
    "later_speedup": 5.0,  # later frames at least this many times faster ...
    "first_speedup": 2.0,  # ... first frame at least this many times faster ...
    "loss_ratio": 1.05,  # ... at a final objective within 5 %
    "vgg_fraction": 0.80,  # one VGG iteration at >= 80 % of the dense matmul rate
    "memory_ratio": 1.10,  # peak memory with 120 frames within 10 % of 30 frames
}

DEFAULT_VIDEO = "sam2_bedroom.mp4"
DEFAULT_STYLE = "vangogh_starry_night.jpg"


def shared_data() -> Path:
    """The team's shared test material (``$STYLEFLOW_SHARED_DATA``, else ``../shared/data``)."""
    env = os.environ.get("STYLEFLOW_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


# ---------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(fn: Any, flops: float, device: torch.device, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    _sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        _sync(device)
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
    mm = _rate(lambda: torch.mm(a, b), 2.0 * n**3, device, repeats)
    c = max(16, n // 2)
    x = torch.rand(1, c, 64, 64, generator=gen).to(device, dtype).contiguous(memory_format=torch.channels_last)
    w = torch.rand(c, c, 1, 1, generator=gen).to(device, dtype).contiguous(memory_format=torch.channels_last)
    conv = _rate(lambda: torch.nn.functional.conv2d(x, w), 2.0 * c * c * 64 * 64, device, repeats)
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
    (styleflow's Gram takes one product backward, :class:`styleflow.optim.stylizer._ChannelsLastGram`)."""
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
    """Time one loss evaluation + backward (what one L-BFGS iteration costs) at ``content``'s size.

    Returns seconds (median, best), the analytic conv FLOPs, the achieved GFLOP/s and the
    precision it ran in (mixed precision is first checked against float32 at this size, as in a run).
    """
    from styleflow.optim.stylizer import to_tensor

    device = stylizer.device
    h, w = content.shape[:2]
    c = to_tensor(content, device)
    targets = stylizer.content_targets(c)
    grams = stylizer.style_targets((h, w))
    x = c.detach().contiguous().clone().requires_grad_(True)
    stylizer._check_precision(x, targets, grams, [])

    def once() -> float:
        t = time.perf_counter()
        x.grad = None
        total, _ = stylizer._losses(x, targets, grams, [])
        total.backward()
        _sync(device)
        return time.perf_counter() - t

    once()  # warm-up (allocator, kernels)
    times = [once() for _ in range(repeats)]
    flops = vgg_flops(stylizer.model, h, w)
    med, best = statistics.median(times), min(times)
    return {
        "precision": stylizer.precision, "height": h, "width": w, "seconds_median": med, "seconds_best": best,
        "conv_gflop_per_iteration": flops["iteration_gflop"],
        "gram_gflop_per_iteration": gram_flops(stylizer.model, list(stylizer.settings.style_layers), h, w),
        "gflops_median": flops["iteration_gflop"] / med, "gflops_best": flops["iteration_gflop"] / best,
        "layers": flops["layers"],
    }


# ---------------------------------------------------------------- memory


def _status_kib(key: str) -> int | None:
    try:
        m = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


class PeakMemory:
    """Peak resident memory (and CUDA memory) of a block of work.

    On Linux the RSS high-water mark is reset at the start (``/proc/self/clear_refs``) and read at
    the end (``VmHWM``), so each run's peak is its own; elsewhere it falls back to the process's
    lifetime ``ru_maxrss``.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.rss_mib: float | None = None
        self.cuda_mib: float | None = None
        self.method = ""

    def __enter__(self) -> "PeakMemory":
        import gc

        gc.collect()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "VmHWM (reset per run)"
        except OSError:
            self.method = "ru_maxrss (process lifetime)"
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc: object) -> None:
        hwm = _status_kib("VmHWM") if self.method.startswith("VmHWM") else None
        if hwm is None:
            import resource

            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        self.rss_mib = hwm / 1024
        if self.device.type == "cuda":
            self.cuda_mib = torch.cuda.max_memory_allocated(self.device) / 2**20


# ---------------------------------------------------------------- the clip


@dataclass
class BenchConfig:
    """What one benchmark call runs (see ``styleflow bench --help``)."""

    video: str | None = None  # None: the shared real clip if present, else the built-in demo clip
    style: str | None = None  # None: the shared Starry Night if present, else the demo style
    height: int = 192
    frames: int = 6
    variant: str = DEFAULT_VARIANT  # the default of ``styleflow video``
    report_variant: str | None = None  # None: the same variant
    report_iterations: int = REPORT_ITERATIONS
    fast_options: dict[str, Any] = field(default_factory=dict)  # overrides of the fast default (tuning)
    preset: str = "gatys"
    weights: str = "auto"
    backbone: str = "auto"
    precision: str | None = None  # the fast run's; None: the preset's (auto). The report run: float32
    device: str = "auto"
    threads: int | None = None  # None: one per core
    work: str | None = None  # None: a temporary folder, removed afterwards
    flow_method: str = "dis"
    matmul_size: int = 2048
    vgg_repeats: int = 6
    progress: bool = False


def resolve_inputs(cfg: BenchConfig, work: Path) -> tuple[Path, Path, str]:
    """The clip and style to use, and a label saying where they came from."""
    data = shared_data()
    if cfg.video:
        video, label = Path(cfg.video), "given"
    elif (data / "videos" / DEFAULT_VIDEO).is_file():
        video, label = data / "videos" / DEFAULT_VIDEO, "shared real clip"
    else:
        from styleflow.data.demo import make_clip

        video = work / "demo.mp4"
        if not video.is_file():
            make_clip(video, frames=max(cfg.frames, 2), height=max(192, cfg.height + cfg.height % 2))
        label = "built-in demo clip (styleflow.data.demo)"
    if cfg.style:
        style = Path(cfg.style)
    elif (data / "styles" / DEFAULT_STYLE).is_file():
        style = data / "styles" / DEFAULT_STYLE
    else:
        from styleflow.data.demo import make_style

        style = work / "swirls.png"
        if not style.is_file():
            make_style(style)
    for p, what in ((video, "--video"), (style, "--style")):
        if not p.is_file():
            raise StyleflowError(f"{what} {p}: no such file")
    return video, style, label


def prepare_clip(video: Path, height: int, frames: int, work: Path, offsets: Sequence[int],
                 flow_method: str = "dis", progress: bool = False) -> ClipPaths:
    """Frames, flows and masks of the first ``frames`` frames at ``height`` (reused when present)."""
    from styleflow.io.frames import extract_frames, read_meta
    from styleflow.motion.consistency import compute_masks
    from styleflow.motion.flow import compute_flows

    prep = work / f"{video.stem}-h{height}-n{frames}"
    clip = ClipPaths(prep / "frames", prep / f"flow-{flow_method}", prep / f"masks-{flow_method}")
    try:
        ok = read_meta(clip.frames).get("source") == str(video) and len(list_frames(clip.frames)) == frames
    except StyleflowError:
        ok = False
    if not ok:
        extract_frames(video, clip.frames, height, max_frames=frames, progress=progress)
    got = len(list_frames(clip.frames))
    if got < frames:
        raise StyleflowError(f"--video {video}: has only {got} frames, --frames asks for {frames}")
    compute_flows(clip.frames, clip.flow, method=flow_method, offsets=offsets, progress=progress)
    if not clip.cuts.is_file():
        compute_masks(clip.flow, clip.masks, offsets=offsets, frames_dir=clip.frames, progress=progress)
    return clip


# ---------------------------------------------------------------- runs


def protocols(cfg: BenchConfig) -> dict[str, dict[str, Any]]:
    """The two runs as :func:`stylize_clip` arguments (variant mapping, options, budgets)."""
    common = {"preset": cfg.preset, "weights": cfg.weights, "backbone": cfg.backbone}
    fast_precision = {"precision": cfg.precision} if cfg.precision else {}
    report_variant = {
        "base": cfg.report_variant or cfg.variant,
        # a fixed budget for every frame, full size only, no early stop
        "first_iterations": cfg.report_iterations,
        "iterations": cfg.report_iterations,
        "tol": 0.0,
        "warm_tol": 0.0,
        "coarse_to_fine": 1,
        # the report's starts: the content frame as it is, the previous frame warped bilinearly
        "recolor_start": False,
        "warp_interpolation": "bilinear",
        "coarse_to_fine_later": False,
    }
    return {
        # the report's arithmetic: float32 (the PyTorch tutorial's)
        "report": {"variant": report_variant, "options": {**common, "precision": "float32"}},
        "fast": {"variant": cfg.variant, "options": {**common, **fast_precision, **cfg.fast_options}},
    }


def run_protocol(name: str, spec: dict[str, Any], clip: ClipPaths, style: Path, out: Path,
                 device: torch.device, progress: bool) -> dict[str, Any]:
    """Stylise the clip with one protocol (fresh output folder); per-frame records and peak memory."""
    from styleflow.video.sequence import stylize_clip

    if out.exists():
        shutil.rmtree(out)  # finished frames would be reused, not timed
    with PeakMemory(device) as mem:
        t = time.perf_counter()
        record = stylize_clip(clip, [style], out, variant=spec["variant"], options=spec["options"],
                              device=str(device), progress=progress)
        wall = time.perf_counter() - t
    rows = list(_read_csv(out / "frames.csv"))
    return {"name": name, "record": record, "rows": rows, "seconds_wall": wall,
            "peak_rss_mib": mem.rss_mib, "peak_cuda_mib": mem.cuda_mib, "memory_method": mem.method}


def _read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def measure_outputs(out: Path, clip: ClipPaths, n: int, evaluator: Any) -> list[dict[str, float]]:
    """Per frame: the objective of the written frame and the warping error to the previous one."""
    from styleflow.eval.metrics import read_clip_flows, warping_errors

    outputs = [read_image(out / p.name) for p in list_frames(clip.frames)[:n]]
    contents = [read_image(p) for p in list_frames(clip.frames)[:n]]
    pairs = warping_errors(outputs, read_clip_flows(clip.flow, n))
    rows = []
    for k, (o, c) in enumerate(zip(outputs, contents), start=1):
        losses = evaluator.objective(o, c)
        e = pairs[k - 2][0] if k > 1 else float("nan")
        rows.append({"frame": k, **losses, "warp_error": e})
    return rows


# ---------------------------------------------------------------- the benchmark


def run_benchmark(cfg: BenchConfig) -> dict[str, Any]:
    """Run everything; return a JSON-able result (see :func:`format_report`)."""
    from styleflow.optim.stylizer import Stylizer, resolve_device
    from styleflow.options.settings import settings_from
    from styleflow.video.variants import resolve_variant

    if cfg.frames < 2:
        raise StyleflowError(f"--frames {cfg.frames}: need at least 2 (a first and a later frame)")
    if cfg.height < 32:
        raise StyleflowError(f"--height {cfg.height}: use at least 32 pixels")
    device = resolve_device(cfg.device)
    threads = cfg.threads or cores()
    torch.set_num_threads(threads)
    load_before = load_average()
    keep = cfg.work is not None
    work = Path(cfg.work) if keep else Path(tempfile.mkdtemp(prefix="styleflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        video, style, source = resolve_inputs(cfg, work)
        _, vs, _ = resolve_variant(cfg.variant)
        _, rvs, _ = resolve_variant(cfg.report_variant or cfg.variant)
        offsets = sorted(set([1] + vs.long_term + rvs.long_term))
        clip = prepare_clip(video, cfg.height, cfg.frames, work, offsets, cfg.flow_method, cfg.progress)
        specs = protocols(cfg)

        runs = {}
        for name in ("report", "fast"):
            runs[name] = run_protocol(name, specs[name], clip, style, work / f"run-{name}", device, cfg.progress)

        # One measuring stick for both: the preset's layers and weights, float32.
        eval_settings = settings_from(cfg.preset, {"weights": cfg.weights, "backbone": cfg.backbone})
        evaluator = Stylizer(eval_settings, [read_image(style)], device=device)
        for name, run in runs.items():
            run["measured"] = measure_outputs(work / f"run-{name}", clip, cfg.frames, evaluator)

        # Arithmetic rates: float32 (the report's precision, and the target's), and the fast run's
        # precision when that is lower (bfloat16: held against the bfloat16 dense rate).
        content1 = read_image(list_frames(clip.frames)[0])
        base = {"weights": cfg.weights, "backbone": cfg.backbone}
        timer = Stylizer(settings_from(cfg.preset, {**base, "precision": "float32"}), [read_image(style)], device=device)
        vgg = vgg_iteration_rate(timer, content1, cfg.vgg_repeats)
        dense = dense_rate(device, cfg.matmul_size)
        fast_timer = Stylizer(settings_from(cfg.preset, {**base, "precision": specs["fast"]["options"].get("precision")}),
                              [read_image(style)], device=device)
        vgg_fast = dense_fast = None
        if fast_timer.amp_dtype is not None:
            vgg_fast = vgg_iteration_rate(fast_timer, content1, cfg.vgg_repeats)
            if fast_timer.amp_dtype is None:  # turned off by the accuracy check at this size
                vgg_fast = None
            else:
                dense_fast = dense_rate(device, cfg.matmul_size, dtype=fast_timer.amp_dtype)
        result = {
            "machine": {
                "cpu": cpu_model(), "cores": cores(), "torch": torch.__version__, "threads": threads,
                "device": str(device),
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                "python": platform.python_version(),
                "load_before": load_before, "load_after": load_average(),
            },
            "config": {**asdict(cfg), "video": str(video), "style": str(style), "source": source,
                       "width": int(content1.shape[1]), "offsets": offsets,
                       "backbone_used": evaluator.backbone_info, "precision_used": fast_timer.precision},
            "protocols": {name: _summarise_settings(spec) for name, spec in specs.items()},
            "dense": dense,
            "vgg": vgg,
            "dense_fast": dense_fast,
            "vgg_fast": vgg_fast,
            "runs": {name: _run_result(run) for name, run in runs.items()},
        }
        result["summary"] = summarise(result)
        return result
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _summarise_settings(spec: dict[str, Any]) -> dict[str, Any]:
    from styleflow.options.settings import settings_from
    from styleflow.video.variants import resolve_variant

    name, video, image = resolve_variant(spec["variant"])
    opts = dict(spec["options"])
    preset = opts.pop("preset", "gatys")
    s = settings_from(preset, {**opts, **image})
    return {"variant": name, "init": video.init, "temporal_weight": video.temporal_weight,
            "first_iterations": video.first_iterations if video.first_iterations is not None else s.iterations,
            "iterations": video.iterations if video.iterations is not None else s.iterations,
            "tol": s.tol, "window": s.window,
            "warm_tol": s.stop_rule(warm=True)[0], "warm_window": s.stop_rule(warm=True)[1],
            "recolor_start": s.recolor_start, "clamp": s.clamp,
            "warp_interpolation": video.warp_interpolation, "coarse_to_fine": s.coarse_to_fine,
            "coarse_iterations": s.coarse_iterations, "coarse_to_fine_later": video.coarse_to_fine_later,
            "precision": s.precision}


def _run_result(run: dict[str, Any]) -> dict[str, Any]:
    weights = run["record"]["settings"]
    frames = []
    for row, m in zip(run["rows"], run["measured"]):
        # The optimiser's own final value of the same objective (its best iterate, before the
        # image is clamped to [0, 1] and written as 8-bit).
        opt = weights["content_weight"] * float(row["content_loss"]) + weights["style_weight"] * float(row["style_loss"])
        frames.append({
            "frame": int(row["frame"]), "seconds": float(row["seconds"]), "iterations": int(row["iterations"]),
            "converged": row["converged"] == "True", "objective": m["objective"], "content": m["content"],
            "style": m["style"], "optimiser_objective": opt, "warp_error": m["warp_error"],
        })
    return {"frames": frames, "peak_rss_mib": run["peak_rss_mib"], "peak_cuda_mib": run["peak_cuda_mib"],
            "memory_method": run["memory_method"], "seconds_wall": run["seconds_wall"],
            "device": run["record"]["device"], "backbone": run["record"]["backbone"],
            "weights_source": run["record"]["weights_source"], "precision": run["record"].get("precision")}


def _mean(values: Sequence[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """First and later frames per run, fast/report ratios and the target checks."""
    out: dict[str, Any] = {}
    for name, run in result["runs"].items():
        f = run["frames"]
        later = f[1:]
        out[name] = {
            "first_seconds": f[0]["seconds"], "first_iterations": f[0]["iterations"],
            "first_objective": f[0]["objective"],
            "later_seconds": _mean([r["seconds"] for r in later]),
            "later_iterations": _mean([r["iterations"] for r in later]),
            "later_objective": _mean([r["objective"] for r in later]),
            "first_optimiser_objective": f[0]["optimiser_objective"],
            "later_optimiser_objective": _mean([r["optimiser_objective"] for r in later]),
            "warp_error": _mean([r["warp_error"] for r in later]),
            "peak_rss_mib": run["peak_rss_mib"], "peak_cuda_mib": run["peak_cuda_mib"],
        }
    rep, fast = out["report"], out["fast"]
    ratio = {k: (fast[k] / rep[k] if rep[k] not in (0, None) and fast[k] is not None else float("nan"))
             for k in rep if rep[k] is not None}
    per_frame = [fr["objective"] / rr["objective"]
                 for fr, rr in zip(result["runs"]["fast"]["frames"], result["runs"]["report"]["frames"])]
    ratio["worst_later_objective"] = max(per_frame[1:]) if len(per_frame) > 1 else float("nan")
    per_frame_opt = [fr["optimiser_objective"] / rr["optimiser_objective"]
                     for fr, rr in zip(result["runs"]["fast"]["frames"], result["runs"]["report"]["frames"])]
    ratio["worst_later_optimiser_objective"] = max(per_frame_opt[1:]) if len(per_frame_opt) > 1 else float("nan")
    out["ratio"] = ratio
    dense = result["dense"]["gflops_median"]
    vgg_frac = result["vgg"]["gflops_median"] / dense
    t = TARGETS
    out["targets"] = {
        "later frames >= 5x faster": _check(1 / ratio["later_seconds"] >= t["later_speedup"],
                                            f"{1 / ratio['later_seconds']:.2f}x"),
        "later frames objective within 5%": _check(ratio["worst_later_objective"] <= t["loss_ratio"],
                                                   f"worst frame {ratio['worst_later_objective']:.4f}, "
                                                   f"mean {ratio['later_objective']:.4f}"),
        "warping error no worse": _check(ratio["warp_error"] <= 1.0, f"{ratio['warp_error']:.3f}"),
        "first frame >= 2x faster": _check(1 / ratio["first_seconds"] >= t["first_speedup"],
                                           f"{1 / ratio['first_seconds']:.2f}x"),
        "first frame objective within 5%": _check(ratio["first_objective"] <= t["loss_ratio"],
                                                  f"{ratio['first_objective']:.4f}"),
        "later frames objective within 5% (optimiser's)": _check(
            ratio["worst_later_optimiser_objective"] <= t["loss_ratio"],
            f"worst frame {ratio['worst_later_optimiser_objective']:.4f}, mean {ratio['later_optimiser_objective']:.4f}"),
        "first frame objective within 5% (optimiser's)": _check(
            ratio["first_optimiser_objective"] <= t["loss_ratio"], f"{ratio['first_optimiser_objective']:.4f}"),
        "VGG iteration >= 80% of dense rate": _check(vgg_frac >= t["vgg_fraction"], f"{vgg_frac:.0%} (float32)"),
    }
    if result.get("vgg_fast") and result.get("dense_fast"):
        frac = result["vgg_fast"]["gflops_median"] / result["dense_fast"]["gflops_median"]
        p = result["vgg_fast"]["precision"]
        out["targets"][f"VGG iteration >= 80% of dense rate ({p})"] = _check(frac >= t["vgg_fraction"], f"{frac:.0%}")
    return out


def _check(ok: bool, value: str) -> dict[str, Any]:
    return {"met": bool(ok), "value": value}


# ---------------------------------------------------------------- memory mode


@dataclass
class MemoryConfig:
    video: str | None = None
    style: str | None = None
    heights: tuple[int, ...] = (192, 256)
    lengths: tuple[int, int] = (30, 120)
    first_iterations: int = 3  # cheap: the check is about clip length (L-BFGS history grows up to 100 pairs)
    iterations: int = 2
    variant: str = DEFAULT_VARIANT
    preset: str = "gatys"
    weights: str = "auto"
    device: str = "auto"
    threads: int | None = None
    work: str | None = None
    progress: bool = False


def memory_child(spec_json: str) -> None:
    """In a fresh process: stylise a prepared clip, print its peak memory as JSON (memory mode)."""
    from styleflow.optim.stylizer import resolve_device
    from styleflow.video.sequence import stylize_clip

    spec = json.loads(spec_json)
    torch.set_num_threads(spec["threads"])
    device = resolve_device(spec["device"])
    clip = ClipPaths(*(Path(p) for p in spec["clip"]))
    with PeakMemory(device) as mem:
        stylize_clip(clip, [spec["style"]], spec["out"], variant=spec["variant"], options=spec["options"],
                     first_iterations=spec["first_iterations"], iterations=spec["iterations"],
                     device=str(device), max_frames=spec["frames"], progress=False)
    print(json.dumps({"peak_rss_mib": mem.rss_mib, "peak_cuda_mib": mem.cuda_mib, "method": mem.method}))


def run_memory(cfg: MemoryConfig) -> dict[str, Any]:
    """Peak memory of the fast default for clips of ``lengths`` frames, per height, each run in a
    fresh process (so one run's allocations cannot hide another's)."""
    from styleflow.optim.stylizer import resolve_device
    from styleflow.video.variants import resolve_variant

    device = resolve_device(cfg.device)
    threads = cfg.threads or cores()
    keep = cfg.work is not None
    work = Path(cfg.work) if keep else Path(tempfile.mkdtemp(prefix="styleflow-bench-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    longest = max(cfg.lengths)
    rows = []
    try:
        video, style, source = resolve_inputs(
            BenchConfig(video=cfg.video, style=cfg.style, frames=longest, height=max(cfg.heights)), work)
        _, vs, _ = resolve_variant(cfg.variant)
        offsets = sorted(set([1] + vs.long_term))
        for h in cfg.heights:
            clip = prepare_clip(video, h, longest, work, offsets, progress=cfg.progress)
            row: dict[str, Any] = {"height": h, "width": int(read_image(clip.frame(1)).shape[1])}
            for n in cfg.lengths:
                out = work / f"mem-h{h}-n{n}"
                if out.exists():
                    shutil.rmtree(out)
                spec = {"clip": [str(clip.frames), str(clip.flow), str(clip.masks)], "style": str(style),
                        "out": str(out), "variant": cfg.variant, "frames": n, "threads": threads,
                        "options": {"preset": cfg.preset, "weights": cfg.weights},
                        "first_iterations": cfg.first_iterations, "iterations": cfg.iterations,
                        "device": str(device)}
                t = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-c", "import sys; from styleflow.benchmark import memory_child; memory_child(sys.argv[1])",
                     json.dumps(spec)],
                    capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                )
                if proc.returncode != 0:
                    tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                    raise StyleflowError(f"memory run at {h} px, {n} frames failed: {tail}")
                got = json.loads(proc.stdout.strip().splitlines()[-1])
                row[f"rss_{n}"] = got["peak_rss_mib"]
                row[f"cuda_{n}"] = got["peak_cuda_mib"]
                row[f"seconds_{n}"] = time.perf_counter() - t
                row["method"] = got["method"]
                shutil.rmtree(out, ignore_errors=True)
            a, b = cfg.lengths
            row["ratio"] = row[f"rss_{b}"] / row[f"rss_{a}"]
            row["flat"] = row["ratio"] <= TARGETS["memory_ratio"]
            rows.append(row)
        return {"machine": {"cpu": cpu_model(), "cores": cores(), "torch": torch.__version__, "threads": threads,
                            "device": str(device), "load_before": None},
                "config": {**asdict(cfg), "video": str(video), "style": str(style), "source": source},
                "rows": rows}
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- printing


def _f(v: Any, fmt: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w)  # noqa: E731
                                       for i, (x, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def format_report(result: dict[str, Any]) -> str:
    """The benchmark's printed report (Markdown tables)."""
    m, c, s = result["machine"], result["config"], result["summary"]
    rep, fast, ratio = s["report"], s["fast"], s["ratio"]
    la = lambda v: "-" if not v else " ".join(f"{x:.2f}" for x in v)  # noqa: E731
    lines = [
        f"device {m['device']}{' (' + m['gpu'] + ')' if m.get('gpu') else ''}; CPU {m['cpu']}, {m['cores']} cores, "
        f"torch {m['torch']}, {m['threads']} threads; load average before {la(m['load_before'])}, "
        f"after {la(m['load_after'])}",
        f"clip {c['video']} ({c['source']}), {c['frames']} frames at {c['height']}x{c['width']}; style {c['style']}",
        f"backbone {c['backbone_used']['backbone']} ({c['backbone_used']['weights_source']}), preset {c['preset']}, "
        f"precision {c['precision_used']}",
    ]
    for name, p in result["protocols"].items():
        stop = f"stop when the loss fell < {p['tol']:g} (relative) over {p['window']} iterations" if p["tol"] > 0 \
            else "no early stop"
        pyramid = "full size only" if p["coarse_to_fine"] == 1 else (
            f"coarse-to-fine {p['coarse_to_fine']} levels for frames started from content (coarse budget "
            f"{p['coarse_iterations'] if p['coarse_iterations'] is not None else 'the same'})")
        lines.append(f"{name}: variant {p['variant']} (init {p['init']}, temporal weight {p['temporal_weight']:g}), "
                     f"budget {p['first_iterations']} first / {p['iterations']} later, {stop}, {pyramid}, "
                     f"precision {result['runs'][name].get('precision') or p['precision']}")
    lines.append("objective = content_weight * content + style_weight * style (preset layers and weights, no temporal "
                 "term) of each written frame (clamped to [0, 1], 8-bit); 'optimiser's' = the same objective at "
                 "the optimiser's final iterate (unclamped); warping error: Lai et al., mean over consecutive pairs")
    lines.append("")
    speed = lambda r: "-" if not r or math.isnan(r) else f"{r:.3f} ({1 / r:.1f}x faster)"  # noqa: E731
    rows = [
        ["first frame: seconds", _f(rep["first_seconds"], ".1f"), _f(fast["first_seconds"], ".1f"), speed(ratio["first_seconds"])],
        ["first frame: iterations", str(rep["first_iterations"]), str(fast["first_iterations"]), _f(ratio["first_iterations"], ".3f")],
        ["first frame: objective", _f(rep["first_objective"], ".5g"), _f(fast["first_objective"], ".5g"), _f(ratio["first_objective"], ".4f")],
        ["later frames: seconds / frame", _f(rep["later_seconds"], ".1f"), _f(fast["later_seconds"], ".1f"), speed(ratio["later_seconds"])],
        ["later frames: iterations / frame", _f(rep["later_iterations"], ".1f"), _f(fast["later_iterations"], ".1f"), _f(ratio["later_iterations"], ".3f")],
        ["later frames: objective (mean)", _f(rep["later_objective"], ".5g"), _f(fast["later_objective"], ".5g"), _f(ratio["later_objective"], ".4f")],
        ["later frames: objective (worst frame ratio)", "", "", _f(ratio["worst_later_objective"], ".4f")],
        ["first frame: optimiser's final objective", _f(rep["first_optimiser_objective"], ".5g"),
         _f(fast["first_optimiser_objective"], ".5g"), _f(ratio["first_optimiser_objective"], ".4f")],
        ["later frames: optimiser's final objective (mean)", _f(rep["later_optimiser_objective"], ".5g"),
         _f(fast["later_optimiser_objective"], ".5g"), _f(ratio["later_optimiser_objective"], ".4f")],
        ["later frames: optimiser's objective (worst frame ratio)", "", "",
         _f(ratio["worst_later_optimiser_objective"], ".4f")],
        ["warping error (mean)", _f(rep["warp_error"], ".5f"), _f(fast["warp_error"], ".5f"), _f(ratio["warp_error"], ".3f")],
        ["peak RSS (MiB)", _f(rep["peak_rss_mib"], ".0f"), _f(fast["peak_rss_mib"], ".0f"), _f(ratio.get("peak_rss_mib"), ".3f")],
    ]
    if rep.get("peak_cuda_mib") is not None:
        rows.append(["peak CUDA allocated (MiB)", _f(rep["peak_cuda_mib"], ".0f"), _f(fast["peak_cuda_mib"], ".0f"),
                     _f(ratio.get("peak_cuda_mib"), ".3f")])
    lines.append(_table(["", "report", "fast", "fast/report"], rows))
    lines.append("")
    per = []
    R, Fa = result["runs"]["report"]["frames"], result["runs"]["fast"]["frames"]
    for r, f in zip(R, Fa):
        per.append([str(r["frame"]), _f(r["seconds"], ".1f"), _f(f["seconds"], ".1f"), str(r["iterations"]),
                    str(f["iterations"]), _f(r["objective"], ".5g"), _f(f["objective"], ".5g"),
                    _f(f["objective"] / r["objective"], ".4f"),
                    _f(f["optimiser_objective"] / r["optimiser_objective"], ".4f"),
                    _f(r["warp_error"], ".5f"), _f(f["warp_error"], ".5f")])
    lines.append(_table(["frame", "s report", "s fast", "it report", "it fast", "obj report", "obj fast",
                         "obj fast/report", "optimiser's fast/report", "warp report", "warp fast"], per))
    lines.append("")
    for d, v in ((result["dense"], result["vgg"]), (result.get("dense_fast"), result.get("vgg_fast"))):
        if d and v:
            lines += _rate_lines(d, v)
    lines.append("")
    lines.append(_table(["target", "met", "value"],
                        [[k, "yes" if t["met"] else "NO", t["value"]] for k, t in s["targets"].items()]))
    return "\n".join(lines)


def _rate_lines(d: dict[str, Any], v: dict[str, Any]) -> list[str]:
    """The dense rate and the VGG iteration rate, in one precision."""
    lines = []
    lines.append(f"dense rate ({d.get('dtype', 'float32')}): torch.mm {d['n']}x{d['n']} (2n^3 FLOPs) {d['matmul_median']:.0f} GFLOP/s median "
                 f"({d['matmul_best']:.0f} best); the same product as a 1x1 convolution ({d['conv1x1_channels']} -> "
                 f"{d['conv1x1_channels']} channels, 64x64) {d['conv1x1_median']:.0f} GFLOP/s median "
                 f"({d['conv1x1_best']:.0f} best); dense rate = the higher, {d['gflops_median']:.0f} GFLOP/s")
    lines.append(f"VGG iteration, {v['precision']}, at {v['height']}x{v['width']} (forward + backward to the image, Grams and losses "
                 f"included in the time): {v['seconds_median'] * 1000:.0f} ms median; counted "
                 f"{v['conv_gflop_per_iteration']:.2f} GFLOP = 2 x sum over convs of 2*Cin*Cout*9*H*W "
                 f"(forward + backward-to-input, no weight gradients; Grams {v['gram_gflop_per_iteration']:.2f} GFLOP "
                 f"not counted) -> {v['gflops_median']:.1f} GFLOP/s median ({v['gflops_best']:.1f} best), "
                 f"{v['gflops_median'] / d['gflops_median']:.0%} of the dense rate")
    return lines


def format_memory(result: dict[str, Any]) -> str:
    m, c = result["machine"], result["config"]
    a, b = c["lengths"]
    lines = [f"device {m['device']}; CPU {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} threads",
             f"clip {c['video']} ({c['source']}); variant {c['variant']}, {c['first_iterations']} / {c['iterations']} "
             f"iterations per frame (cheap: the check is about clip length; L-BFGS's history adds up to "
             f"2 x 100 image-sized vectors with longer runs, see the full benchmark's peak); each run in a fresh process; "
             f"peak = {result['rows'][0]['method'] if result['rows'] else '-'}", ""]
    rows = []
    cuda = any(r.get(f"cuda_{a}") is not None for r in result["rows"])
    for r in result["rows"]:
        row = [f"{r['height']}x{r['width']}", _f(r[f"rss_{a}"], ".0f"), _f(r[f"rss_{b}"], ".0f"), _f(r["ratio"], ".3f"),
               "yes" if r["flat"] else "NO"]
        if cuda:
            row += [_f(r[f"cuda_{a}"], ".0f"), _f(r[f"cuda_{b}"], ".0f")]
        rows.append(row)
    header = ["size", f"peak RSS MiB, {a} frames", f"{b} frames", f"{b}/{a}", "flat (<= 1.10)"]
    if cuda:
        header += [f"CUDA MiB {a}", f"CUDA MiB {b}"]
    lines.append(_table(header, rows))
    return "\n".join(lines)

"""The speed benchmark: styleflow's fast default against the report protocol, in one process.

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
:func:`vgg_flops`), the peak memory of each run (whether peak memory is flat in the clip length: ``bench/bench_memory.py``).

    python bench/bench_speed.py --threads 2 --json bench.json   # real clip if ../shared/data is there
    python bench/bench_speed.py --frames 4 --height 256 --video clip.mp4 --style painting.jpg

Prints Markdown tables (pasted into docs/performance.md). Uses the public ``styleflow`` API only;
the issue's targets and the shared-data lookup live in ``bench/benchlib.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (  # noqa: E402  (bench/ on the path first)
    REPORT_ITERATIONS,
    TARGETS,
    PeakMemory,
    cores,
    cpu_model,
    load_average,
    prepare_clip,
    read_csv,
    resolve_inputs,
    run_and_print,
)
from rates import dense_rate, vgg_iteration_rate  # noqa: E402
from speed_report import format_report  # noqa: E402

from styleflow.errors import StyleflowError  # noqa: E402
from styleflow.io.images import read_image  # noqa: E402
from styleflow.io.layout import ClipPaths, list_frames  # noqa: E402
from styleflow.video.variants import DEFAULT_VARIANT  # noqa: E402


# ---------------------------------------------------------------- configuration


@dataclass
class BenchConfig:
    """What one benchmark call runs (see ``python bench/bench_speed.py --help``)."""

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
    rows = list(read_csv(out / "frames.csv"))
    return {"name": name, "record": record, "rows": rows, "seconds_wall": wall,
            "peak_rss_mib": mem.rss_mib, "peak_cuda_mib": mem.cuda_mib, "memory_method": mem.method}



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
    from styleflow.optim.precision import resolve_device
    from styleflow.optim.stylizer import Stylizer
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
        video, style, source = resolve_inputs(cfg.video, cfg.style, cfg.frames, cfg.height, work)
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
        fast_timer.choose_precision()  # auto on a CPU: the machine's timed decision (the fast run's too)
        if fast_timer.meter.amp_dtype is not None:
            vgg_fast = vgg_iteration_rate(fast_timer, content1, cfg.vgg_repeats)
            if fast_timer.meter.amp_dtype is None:  # turned off by the accuracy check at this size
                vgg_fast = None
            else:
                dense_fast = dense_rate(device, cfg.matmul_size, dtype=fast_timer.meter.amp_dtype)
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
            "protocols": {name: summarise_settings(spec) for name, spec in specs.items()},
            "dense": dense,
            "vgg": vgg,
            "dense_fast": dense_fast,
            "vgg_fast": vgg_fast,
            "runs": {name: run_result(run) for name, run in runs.items()},
        }
        result["summary"] = summarise(result)
        return result
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def summarise_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """What one protocol resolves to (variant, init, budgets, stopping rule, pyramid, precision)."""
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


def run_result(run: dict[str, Any]) -> dict[str, Any]:
    """One run's JSON-able result: per-frame records and measurements, memory, what it used."""
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


def mean(values: Sequence[float]) -> float:
    """Mean of the values that are not NaN (NaN if none)."""
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
            "later_seconds": mean([r["seconds"] for r in later]),
            "later_iterations": mean([r["iterations"] for r in later]),
            "later_objective": mean([r["objective"] for r in later]),
            "first_optimiser_objective": f[0]["optimiser_objective"],
            "later_optimiser_objective": mean([r["optimiser_objective"] for r in later]),
            "warp_error": mean([r["warp_error"] for r in later]),
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
        "later frames >= 5x faster": check(1 / ratio["later_seconds"] >= t["later_speedup"],
                                            f"{1 / ratio['later_seconds']:.2f}x"),
        "later frames objective within 5%": check(ratio["worst_later_objective"] <= t["loss_ratio"],
                                                   f"worst frame {ratio['worst_later_objective']:.4f}, "
                                                   f"mean {ratio['later_objective']:.4f}"),
        "warping error no worse": check(ratio["warp_error"] <= 1.0, f"{ratio['warp_error']:.3f}"),
        "first frame >= 2x faster": check(1 / ratio["first_seconds"] >= t["first_speedup"],
                                           f"{1 / ratio['first_seconds']:.2f}x"),
        "first frame objective within 5%": check(ratio["first_objective"] <= t["loss_ratio"],
                                                  f"{ratio['first_objective']:.4f}"),
        "later frames objective within 5% (optimiser's)": check(
            ratio["worst_later_optimiser_objective"] <= t["loss_ratio"],
            f"worst frame {ratio['worst_later_optimiser_objective']:.4f}, mean {ratio['later_optimiser_objective']:.4f}"),
        "first frame objective within 5% (optimiser's)": check(
            ratio["first_optimiser_objective"] <= t["loss_ratio"], f"{ratio['first_optimiser_objective']:.4f}"),
        "VGG iteration >= 80% of dense rate": check(vgg_frac >= t["vgg_fraction"], f"{vgg_frac:.0%} (float32)"),
    }
    if result.get("vgg_fast") and result.get("dense_fast"):
        frac = result["vgg_fast"]["gflops_median"] / result["dense_fast"]["gflops_median"]
        p = result["vgg_fast"]["precision"]
        out["targets"][f"VGG iteration >= 80% of dense rate ({p})"] = check(frac >= t["vgg_fraction"], f"{frac:.0%}")
    return out


def check(ok: bool, value: str) -> dict[str, Any]:
    """One target's line: met or not, and the measured value as text."""
    return {"met": bool(ok), "value": value}


# ---------------------------------------------------------------- command line


def option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--fast-option``; the value as JSON where it parses, else as text."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. tol=0.002")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    """The script's options (the former ``styleflow bench``'s, less ``--memory``)."""
    p = argparse.ArgumentParser(
        prog="bench/bench_speed.py",
        description="Stylise one clip twice in one process - the report protocol (fixed L-BFGS budget per "
                    "frame, no early stop) and styleflow's fast default - and print seconds, iterations, "
                    "final objective and warping error per frame, the ratios, the machine's dense rate and "
                    "the achieved GFLOP/s of one VGG iteration. Peak memory vs clip length: "
                    "bench/bench_memory.py.",
    )
    p.add_argument("--video", metavar="FILE", help="input video (default: ../shared/data/videos/sam2_bedroom.mp4 "
                                                    "if present, else the built-in demo clip)")
    p.add_argument("--style", metavar="IMAGE", help="style image (default: Starry Night from ../shared/data, "
                                                     "else the built-in demo style)")
    p.add_argument("--frames", type=int, default=6, metavar="N", help="frames to stylise (default 6)")
    p.add_argument("--height", type=int, default=192, metavar="H", help="frame height in pixels (default 192)")
    p.add_argument("--variant", default=DEFAULT_VARIANT, metavar="NAME",
                   help=f"video variant for both runs (default {DEFAULT_VARIANT}, as styleflow video)")
    p.add_argument("--report-variant", metavar="NAME", help="variant of the report run (default: --variant)")
    p.add_argument("--report-iterations", type=int, default=REPORT_ITERATIONS, metavar="N",
                   help=f"fixed budget per frame of the report protocol (default {REPORT_ITERATIONS})")
    p.add_argument("--fast-option", type=option, action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of the fast run only (tuning), e.g. tol=0.002; repeatable")
    p.add_argument("--weights", default="auto", metavar="SOURCE", help="backbone weights (default auto)")
    p.add_argument("--backbone", default="auto", choices=["auto", "vgg19", "vgg16"])
    p.add_argument("--precision", choices=["auto", "float32", "bfloat16", "float16"],
                   help="backbone precision of the fast run (default: the preset's, auto = bfloat16 where the "
                        "hardware computes it natively and a timing finds it faster); the report run is float32")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when present)")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: one per core)")
    p.add_argument("--work", metavar="DIR", help="keep the clip and outputs here (default: a temporary folder)")
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    p.add_argument("--progress", action="store_true", help="progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print its tables; user errors: one line on stderr, exit status 2."""
    args = build_parser().parse_args(argv)

    def compute() -> dict[str, Any]:
        if args.threads is not None and args.threads < 1:
            raise StyleflowError(f"--threads {args.threads}: expected at least 1")
        if args.report_iterations < 1:
            raise StyleflowError(f"--report-iterations {args.report_iterations}: expected at least 1")
        return run_benchmark(BenchConfig(
            video=args.video, style=args.style, height=args.height, frames=args.frames, variant=args.variant,
            report_variant=args.report_variant, report_iterations=args.report_iterations,
            fast_options=dict(args.fast_option), weights=args.weights, backbone=args.backbone,
            precision=args.precision, device=args.device, threads=args.threads, work=args.work,
            progress=args.progress))

    return run_and_print("bench_speed", compute, format_report, args.json)


if __name__ == "__main__":
    sys.exit(main())

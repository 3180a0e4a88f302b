"""``styleflow bench``: the fast default against the report protocol, and the memory check.

    styleflow bench                      # real clip if ../shared/data is present, 6 frames at 192 px
    styleflow bench --frames 4 --height 256 --video clip.mp4 --style painting.jpg
    styleflow bench --memory             # peak memory, 30 vs 120 frames, at 192 and 256 px
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from styleflow.benchmark import (
    REPORT_ITERATIONS,
    BenchConfig,
    MemoryConfig,
    format_memory,
    format_report,
    run_benchmark,
    run_memory,
)
from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.video.variants import DEFAULT_VARIANT


def _option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. tol=0.002")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench", help="benchmark: fast default vs the report protocol (time, loss, warping error)",
        description="Stylise one clip twice in one process - the report protocol (fixed L-BFGS budget per "
                    "frame, no early stop) and styleflow's fast default - and print seconds, iterations, "
                    "final objective and warping error per frame, the ratios, the machine's dense rate and "
                    "the achieved GFLOP/s of one VGG iteration. --memory checks peak memory instead.",
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
    p.add_argument("--fast-option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of the fast run only (tuning), e.g. tol=0.002; repeatable")
    p.add_argument("--weights", default="auto", metavar="SOURCE", help="backbone weights (default auto)")
    p.add_argument("--backbone", default="auto", choices=["auto", "vgg19", "vgg16"])
    p.add_argument("--precision", choices=["auto", "float32", "bfloat16", "float16"],
                   help="backbone precision of the fast run (default: the preset's, auto = bfloat16 where the "
                        "hardware computes it natively); the report run is float32")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when present)")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: one per core)")
    p.add_argument("--work", metavar="DIR", help="keep the clip and outputs here (default: a temporary folder)")
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    p.add_argument("--memory", action="store_true",
                   help="memory mode: peak memory of the fast default on 30 vs 120 frames, per --heights")
    p.add_argument("--heights", type=int, nargs="+", default=[192, 256], metavar="H",
                   help="memory mode: frame heights (default 192 256)")
    p.add_argument("--lengths", type=int, nargs=2, default=[30, 120], metavar="N",
                   help="memory mode: the two clip lengths compared (default 30 120)")
    p.add_argument("--progress", action="store_true", help="progress bars")
    return p


def run(args: argparse.Namespace) -> int:
    if args.threads is not None and args.threads < 1:
        raise StyleflowError(f"--threads {args.threads}: expected at least 1")
    if args.memory:
        if min(args.lengths) < 2:
            raise StyleflowError(f"--lengths {args.lengths}: expected clip lengths of at least 2 frames")
        cfg = MemoryConfig(video=args.video, style=args.style, heights=tuple(args.heights),
                           lengths=tuple(args.lengths), variant=args.variant, weights=args.weights,
                           device=args.device, threads=args.threads, work=args.work, progress=args.progress)
        result = run_memory(cfg)
        text = format_memory(result)
    else:
        if args.report_iterations < 1:
            raise StyleflowError(f"--report-iterations {args.report_iterations}: expected at least 1")
        cfg = BenchConfig(video=args.video, style=args.style, height=args.height, frames=args.frames,
                          variant=args.variant, report_variant=args.report_variant,
                          report_iterations=args.report_iterations, fast_options=dict(args.fast_option),
                          weights=args.weights, backbone=args.backbone, precision=args.precision,
                          device=args.device, threads=args.threads, work=args.work, progress=args.progress)
        result = run_benchmark(cfg)
        text = format_report(result)
    print(text)
    sys.stdout.flush()
    if args.json:
        write_json(args.json, result)
    return 0

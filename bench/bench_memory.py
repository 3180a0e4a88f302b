"""Peak memory of styleflow's fast default against clip length: is it flat?

Stylises the first 30 and the first 120 frames of one clip (the shared bedroom clip if
``../shared/data`` is there, else the built-in demo clip) with the default variant and a few
iterations per frame, at each ``--heights``, each run in a fresh process (so one run's
allocations cannot hide another's), and prints the peak RSS (and CUDA memory) per run with the
ratio against issue 8's target (120 frames within 10 % of 30 frames).

    python bench/bench_memory.py --threads 2
    python bench/bench_memory.py --heights 96 --lengths 4 8 --threads 1

Uses the public ``styleflow`` API only (``styleflow.video.sequence.stylize_clip``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (  # noqa: E402  (bench/ on the path first)
    TARGETS,
    PeakMemory,
    cores,
    cpu_model,
    fmt,
    prepare_clip,
    resolve_inputs,
    run_and_print,
    table,
)

from styleflow.errors import StyleflowError  # noqa: E402
from styleflow.io.images import read_image  # noqa: E402
from styleflow.io.layout import ClipPaths  # noqa: E402
from styleflow.video.variants import DEFAULT_VARIANT  # noqa: E402


@dataclass
class MemoryConfig:
    """What one memory check runs (see ``python bench/bench_memory.py --help``)."""

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
    from styleflow.optim.precision import resolve_device
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
    from styleflow.optim.precision import resolve_device
    from styleflow.video.variants import resolve_variant

    device = resolve_device(cfg.device)
    threads = cfg.threads or cores()
    keep = cfg.work is not None
    work = Path(cfg.work) if keep else Path(tempfile.mkdtemp(prefix="styleflow-bench-mem-"))
    work.mkdir(parents=True, exist_ok=True)
    longest = max(cfg.lengths)
    rows = []
    try:
        video, style, source = resolve_inputs(cfg.video, cfg.style, longest, max(cfg.heights), work)
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
                    [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
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




def format_memory(result: dict[str, Any]) -> str:
    """The memory check's printed report (a Markdown table)."""
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
        row = [f"{r['height']}x{r['width']}", fmt(r[f"rss_{a}"], ".0f"), fmt(r[f"rss_{b}"], ".0f"), fmt(r["ratio"], ".3f"),
               "yes" if r["flat"] else "NO"]
        if cuda:
            row += [fmt(r[f"cuda_{a}"], ".0f"), fmt(r[f"cuda_{b}"], ".0f")]
        rows.append(row)
    header = ["size", f"peak RSS MiB, {a} frames", f"{b} frames", f"{b}/{a}", "flat (<= 1.10)"]
    if cuda:
        header += [f"CUDA MiB {a}", f"CUDA MiB {b}"]
    lines.append(table(header, rows))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The script's options (the former ``styleflow bench --memory``'s)."""
    p = argparse.ArgumentParser(prog="bench/bench_memory.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--video", metavar="FILE", help="input video (default: ../shared/data/videos/sam2_bedroom.mp4 "
                                                    "if present, else the built-in demo clip)")
    p.add_argument("--style", metavar="IMAGE", help="style image (default: Starry Night from ../shared/data, "
                                                     "else the built-in demo style)")
    p.add_argument("--heights", type=int, nargs="+", default=[192, 256], metavar="H",
                   help="frame heights (default 192 256)")
    p.add_argument("--lengths", type=int, nargs=2, default=[30, 120], metavar="N",
                   help="the two clip lengths compared (default 30 120)")
    p.add_argument("--variant", default=DEFAULT_VARIANT, metavar="NAME",
                   help=f"video variant (default {DEFAULT_VARIANT}, as styleflow video)")
    p.add_argument("--weights", default="auto", metavar="SOURCE", help="backbone weights (default auto)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when present)")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: one per core)")
    p.add_argument("--work", metavar="DIR", help="keep the clip here (default: a temporary folder)")
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    p.add_argument("--progress", action="store_true", help="progress bars")
    p.add_argument("--child", metavar="SPEC", help=argparse.SUPPRESS)  # one measured run (internal)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the memory check, print its table; user errors: one line on stderr, exit status 2."""
    args = build_parser().parse_args(argv)
    if args.child:
        memory_child(args.child)
        return 0

    def compute() -> dict[str, Any]:
        if args.threads is not None and args.threads < 1:
            raise StyleflowError(f"--threads {args.threads}: expected at least 1")
        if min(args.lengths) < 2:
            raise StyleflowError(f"--lengths {args.lengths}: expected clip lengths of at least 2 frames")
        return run_memory(MemoryConfig(video=args.video, style=args.style, heights=tuple(args.heights),
                                       lengths=tuple(args.lengths), variant=args.variant, weights=args.weights,
                                       device=args.device, threads=args.threads, work=args.work,
                                       progress=args.progress))

    return run_and_print("bench_memory", compute, format_memory, args.json)


if __name__ == "__main__":
    sys.exit(main())

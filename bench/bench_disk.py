"""Disk use, memory and time of a long clip's preparation (issue 14, item 6), extrapolated.

Builds a ``--seconds`` (120) clip at ``--fps`` (30) by looping the shared real clips (bedroom,
paragliding, Sintel; each scaled and padded to 854x480, joined, then looped) with the bundled
FFmpeg, and runs the production stages on it at ``--height`` (256) px: frame extraction
(``styleflow.io.frames.extract_frames``), DIS flow as ``.flo`` (``compute_flows``), the
consistency masks (``compute_masks``); then stores the same flows in the compact KITTI 16-bit PNG
format (``styleflow.io.flo.write_flow``) and makes the masks again from those. It prints, per
kind of file, bytes per frame and the total extrapolated to ``--target-frames`` (15,000: a
10-minute source at 25 fps or so), the wall time and peak RSS of each stage (RSS sampled every
second: the peak in the first and the last quarter of a stage say whether memory is flat), and
what the PNG flows change: the largest flow difference, the fraction of mask pixels that differ,
and the warping error of the content frames with either flow. ``--stylise N`` also stylises
the first N frames (few iterations) with either flow set, for the stylised frames' bytes and the
difference the compact flows make to them.

    nice -n 15 .venv/bin/python bench/bench_disk.py --work /tmp/diskbench
    .venv/bin/python bench/bench_disk.py --work /tmp/diskbench --seconds 10   # a quick look

Stages whose output is already in ``--work`` are reused (delete the folder to measure again).
Uses the public ``styleflow`` API only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import cpu_model, fmt, load_average, shared_data, status_kib, table  # noqa: E402

import cv2  # noqa: E402

from styleflow.eval.warping import warp_error_pair  # noqa: E402
from styleflow.io.atomic import write_json  # noqa: E402
from styleflow.io.flo import read_flow, write_flow  # noqa: E402
from styleflow.io.frames import extract_frames  # noqa: E402
from styleflow.io.images import read_image  # noqa: E402
from styleflow.io.layout import ClipPaths, list_frames  # noqa: E402
from styleflow.io.video import ffmpeg_exe  # noqa: E402
from styleflow.motion.consistency import compute_masks, read_mask  # noqa: E402
from styleflow.motion.flow import compute_flows, frame_pairs  # noqa: E402

CLIPS = ("sam2_bedroom.mp4", "cotracker_paragliding-launch.mp4", "sintel_film_moviepy_example3.mp4")


class RssSampler:
    """Resident memory of this process every ``interval`` s while a block runs (``VmRSS``, MiB)."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), (status_kib("VmRSS") or 0) / 1024))
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self.t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.t1 = time.perf_counter()

    def summary(self) -> dict[str, float]:
        span = self.t1 - self.t0
        early = [r for t, r in self.samples if t <= self.t0 + span / 4] or [0.0]
        late = [r for t, r in self.samples if t >= self.t1 - span / 4] or [0.0]
        return {"seconds": span, "rss_peak": max(r for _, r in self.samples), "rss_first_quarter": max(early),
                "rss_last_quarter": max(late)}


def build_clip(out: Path, seconds: float, fps: int) -> None:
    """The shared clips, each fitted into 854x480 at ``fps``, joined and looped to ``seconds``."""
    if out.is_file():
        return
    src = [shared_data() / "videos" / name for name in CLIPS]
    joined = out.with_name("joined.mp4")
    chains = "".join(f"[{i}:v]scale=854:480:force_original_aspect_ratio=decrease,pad=854:480:(ow-iw)/2:(oh-ih)/2,"
                     f"setsar=1,fps={fps},format=yuv420p[v{i}];" for i in range(len(src)))
    graph = chains + "".join(f"[v{i}]" for i in range(len(src))) + f"concat=n={len(src)}:v=1:a=0[v]"
    inputs = [a for p in src for a in ("-i", str(p))]
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", *inputs, "-filter_complex", graph, "-map", "[v]", *x264,
                    str(joined)], check=True)
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-stream_loop", "-1", "-i", str(joined), "-t", str(seconds),
                    "-r", str(fps), *x264, str(out)], check=True)


def folder_bytes(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern))


def stage(name: str, done: bool, work: Callable[[], Any], results: dict[str, Any], record: Path) -> None:
    """Run ``work`` unless its output is there; record its time and memory under ``name``."""
    if done and name in results:
        return
    with RssSampler() as rss:
        work()
    results[name] = rss.summary()
    write_json(record, results)
    print(f"{name}: {results[name]['seconds']:.0f} s, peak RSS {results[name]['rss_peak']:.0f} MiB", file=sys.stderr)


def to_png(flo: ClipPaths, png: ClipPaths, n: int) -> None:
    for k, j in frame_pairs(n, (1,)):
        write_flow(png.forward(k, j), read_flow(flo.forward(k, j)))
        write_flow(png.backward(j, k), read_flow(flo.backward(j, k)))
    (png.flow / "flow_settings.json").write_text((flo.flow / "flow_settings.json").read_text())


def compare(flo: ClipPaths, png: ClipPaths, n: int, every: int) -> dict[str, float]:
    """Flow error, mask pixels that differ, warping error of the content frames, PNG vs .flo."""
    flow_err, changed, flipped, absdiff, total, big, we = 0.0, 0, 0, 0, 0, 0, []
    for k in range(1, n):
        for a, b in ((flo.mask(k + 1, k), png.mask(k + 1, k)), (flo.mask(k, k + 1), png.mask(k, k + 1))):
            ma, mb = read_mask(a).astype(np.int16), read_mask(b).astype(np.int16)
            changed += int((ma != mb).sum())
            flipped += int(((ma >= 128) != (mb >= 128)).sum())  # reliable on one side of 0.5, not on the other
            absdiff += int(np.abs(ma - mb).sum())
            big = max(big, int(np.abs(ma - mb).max()))
            total += ma.size
        if k % every == 1 or every == 1:
            f1, b1 = read_flow(flo.forward(k, k + 1)), read_flow(flo.backward(k + 1, k))
            f2, b2 = read_flow(png.forward(k, k + 1)), read_flow(png.backward(k + 1, k))
            flow_err = max(flow_err, float(np.abs(f1 - f2).max()), float(np.abs(b1 - b2).max()))
            prev, cur = read_image(flo.frame(k)), read_image(flo.frame(k + 1))
            e1, _ = warp_error_pair(prev, cur, f1, b1)
            e2, _ = warp_error_pair(prev, cur, f2, b2)
            if np.isfinite(e1) and np.isfinite(e2) and e1 > 0:
                we.append(abs(e2 - e1) / e1)
    return {"max_flow_error": flow_err, "mask_pixels_changed": changed / total,
            "mask_pixels_across_half": flipped / total, "mask_mean_abs_change": absdiff / total / 255,
            "mask_max_change": big / 255,
            "warping_error_rel_change_mean": float(np.mean(we)), "warping_error_rel_change_max": float(np.max(we)),
            "warping_pairs": len(we)}


def stylise(flo: ClipPaths, png: ClipPaths, work: Path, frames: int) -> dict[str, float]:
    """The first ``frames`` frames with the default variant and 20/10 iterations, with either flow set."""
    from styleflow.video.sequence import stylize_clip

    style = shared_data() / "styles" / "vangogh_starry_night.jpg"
    outs = {}
    for name, clip in (("flo", flo), ("png", png)):
        outs[name] = work / f"stylised-{name}"
        if not (outs[name] / "run.json").is_file():
            stylize_clip(clip, [style], outs[name], first_iterations=20, iterations=10, max_frames=frames,
                         options={"preset": "gatys"}, device="cpu", progress=False)
    diffs = [np.abs(read_image(outs["flo"] / f"frame_{k:06d}.png") - read_image(outs["png"] / f"frame_{k:06d}.png"))
             for k in range(1, frames + 1)]
    return {"stylised_bytes_per_frame": folder_bytes(outs["flo"], "frame_*.png") / frames,
            "stylised_mean_abs_diff": float(np.mean([d.mean() for d in diffs])),
            "stylised_max_abs_diff": float(max(d.max() for d in diffs))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--target-frames", type=int, default=15000)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1: a modest load)")
    ap.add_argument("--compare-every", type=int, default=10, help="warping error on every N-th pair")
    ap.add_argument("--stylise", type=int, default=0, metavar="N", help="also stylise the first N frames")
    args = ap.parse_args(argv)
    cv2.setNumThreads(args.threads)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    results_path = work / "results.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.is_file() else {}

    video = work / f"clip-{args.seconds:g}s-{args.fps}fps.mp4"
    build_clip(video, args.seconds, args.fps)
    flo = ClipPaths(work / "frames", work / "flow-flo", work / "masks-flo")
    png = ClipPaths(work / "frames", work / "flow-png", work / "masks-png", flow_format="png")
    stage("extract", (flo.meta).is_file(),
          lambda: extract_frames(video, flo.frames, args.height, progress=True), results, results_path)
    n = len(list_frames(flo.frames))
    stage("flow (.flo)", (flo.flow / "flow_settings.json").is_file(),
          lambda: compute_flows(flo.frames, flo.flow, "dis", progress=True), results, results_path)
    stage("masks (.flo)", flo.cuts.is_file(),
          lambda: compute_masks(flo.flow, flo.masks, frames_dir=flo.frames, progress=True), results, results_path)
    stage("store as PNG", (png.flow / "flow_settings.json").is_file(), lambda: to_png(flo, png, n), results, results_path)
    stage("masks (PNG)", png.cuts.is_file(),
          lambda: compute_masks(png.flow, png.masks, frames_dir=png.frames, progress=True), results, results_path)
    effect = compare(flo, png, n, args.compare_every)
    extra = stylise(flo, png, work, args.stylise) if args.stylise else {}

    per = {"content frames (PNG)": folder_bytes(flo.frames, "frame_*.png") / n,
           "flow .flo (fwd+bwd)": folder_bytes(flo.flow, "*.flo") / n,
           "flow PNG (fwd+bwd)": folder_bytes(png.flow, "*.png") / n,
           "masks (PGM, both directions)": folder_bytes(flo.masks, "*.pgm") / n}
    if extra:
        per["stylised frames (PNG)"] = extra["stylised_bytes_per_frame"]
    shape = read_image(flo.frame(1)).shape
    print(f"\n{n} frames of {shape[1]}x{shape[0]} px ({args.seconds:g} s at {args.fps} fps; flow offsets [1]); "
          f"{cpu_model()}, load average {', '.join(f'{x:.1f}' for x in load_average() or ())}\n")
    print(table(["file", "KiB per frame", f"GiB for {args.target_frames} frames"],
                [[k, fmt(v / 1024, ".1f"), fmt(v * args.target_frames / 2**30, ".2f")] for k, v in per.items()]))
    base = per["content frames (PNG)"] + per["masks (PGM, both directions)"] + per.get("stylised frames (PNG)", 0)
    print()
    print(table(["flow storage", f"GiB at the peak ({args.target_frames} frames)", "GiB after the run"],
                [["flo, kept (default)", fmt((base + per["flow .flo (fwd+bwd)"]) * args.target_frames / 2**30, ".2f"),
                  fmt((base + per["flow .flo (fwd+bwd)"]) * args.target_frames / 2**30, ".2f")],
                 ["png, kept", fmt((base + per["flow PNG (fwd+bwd)"]) * args.target_frames / 2**30, ".2f"),
                  fmt((base + per["flow PNG (fwd+bwd)"]) * args.target_frames / 2**30, ".2f")],
                 ["flo, deleted (keep: false / --drop-flow)",
                  fmt((base + per["flow .flo (fwd+bwd)"]) * args.target_frames / 2**30, ".2f"),
                  fmt(base * args.target_frames / 2**30, ".2f")],
                 ["png, deleted", fmt((base + per["flow PNG (fwd+bwd)"]) * args.target_frames / 2**30, ".2f"),
                  fmt(base * args.target_frames / 2**30, ".2f")]]))
    print()
    print(table(["stage", "wall s", "ms per frame", f"h for {args.target_frames}", "RSS first 1/4 MiB",
                 "RSS last 1/4 MiB", "peak MiB"],
                [[k, fmt(v["seconds"], ".0f"), fmt(1000 * v["seconds"] / n, ".1f"),
                  fmt(v["seconds"] / n * args.target_frames / 3600, ".2f"), fmt(v["rss_first_quarter"], ".0f"),
                  fmt(v["rss_last_quarter"], ".0f"), fmt(v["rss_peak"], ".0f")] for k, v in results.items()]))
    print("\nPNG flows against .flo:", ", ".join(f"{k} {fmt(v, '.3g')}" for k, v in {**effect, **extra}.items()
                                                 if k != "stylised_bytes_per_frame"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Disk use, memory and time of a long clip's preparation (issue 14, item 6), extrapolated.

Builds a ``--seconds`` (120) clip at ``--fps`` (30) by looping the shared real clips (bedroom,
paragliding, Sintel; each scaled and padded to 854x480, joined, then looped) with the bundled
FFmpeg, and runs the production stages on it at ``--height`` (256) px: frame extraction
(``styleflow.io.frames.extract_frames``), DIS flow as ``.flo`` (``compute_flows``), the
consistency masks (``compute_masks``); then stores the same flows in the compact KITTI 16-bit PNG
format (``styleflow.io.flo.write_flow``) and makes the masks again from those. It prints, per
kind of file, bytes per frame and the total extrapolated to ``--target-frames`` (15,000: a
10-minute source at 25 fps or so), the wall time and resident memory of each stage (each in a fresh process, sampled twice a second
by ``long_clip.run_stage``: the second and the last tenth of a stage agree when memory is flat), and
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
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402

from styleflow.eval.warping import warp_error_pair  # noqa: E402
from styleflow.io.atomic import write_json  # noqa: E402
from styleflow.io.flo import read_flow, write_flow  # noqa: E402
from styleflow.io.images import read_image  # noqa: E402
from styleflow.io.layout import ClipPaths, list_frames  # noqa: E402
from styleflow.io.video import ffmpeg_exe  # noqa: E402
from styleflow.motion.consistency import read_mask  # noqa: E402
from styleflow.motion.flow import frame_pairs  # noqa: E402

CLIPS = ("sam2_bedroom.mp4", "cotracker_paragliding-launch.mp4", "sintel_film_moviepy_example3.mp4")


def build_clip(out: Path, seconds: float, fps: int) -> None:
    """The shared clips, each fitted into 854x480 at ``fps``, joined and looped to ``seconds``."""
    from benchlib import shared_data  # benchlib imports torch: not in the stages' processes
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


#: The stages, each run in a fresh interpreter by long_clip.run_stage (OpenCV on ``--threads``).
STAGES = {
    "extract": "from styleflow.io.frames import extract_frames as f; f({video!r}, {frames!r}, {height}, progress=False)",
    "flow (.flo)": "from styleflow.motion.flow import compute_flows as f; f({frames_n!r}, {flo!r}, progress=False)",
    "masks (.flo)": "from styleflow.motion.consistency import compute_masks as f; "
                    "f({flo!r}, {masks_flo!r}, frames_dir={frames_n!r}, progress=False)",
    "store as PNG": "import sys; sys.path.insert(0, {bench!r}); from bench_disk import to_png; "
                    "to_png({frames_n!r}, {flo!r}, {png!r})",
    "masks (PNG)": "from styleflow.motion.consistency import compute_masks as f; "
                   "f({png!r}, {masks_png!r}, frames_dir={frames_n!r}, progress=False)",
}


def stage(name: str, done: bool, paths: dict[str, Any], results: dict[str, Any], record: Path) -> None:
    """Run stage ``name`` unless its output is there; record its time and memory."""
    from long_clip import run_stage  # a stage in its own process, its memory sampled
    if done and name in results:
        return
    results[name] = run_stage(f"import cv2; cv2.setNumThreads({paths['threads']}); " + STAGES[name].format(**paths))
    write_json(record, results)
    print(f"{name}: {results[name]['seconds']:.0f} s, peak RSS {results[name]['peak']:.0f} MiB", file=sys.stderr)


def to_png(frames: str, flo_dir: str, png_dir: str) -> None:
    """The .flo flows of ``flo_dir`` (offset 1) again as KITTI PNGs in ``png_dir``, with the record."""
    n = len(list_frames(frames))
    flo = ClipPaths(Path(frames), Path(flo_dir), Path(flo_dir), flow_format="flo")
    png = ClipPaths(Path(frames), Path(png_dir), Path(png_dir), flow_format="png")
    for k, j in frame_pairs(n, (1,)):
        write_flow(png.forward(k, j), read_flow(flo.forward(k, j)))
        write_flow(png.backward(j, k), read_flow(flo.backward(j, k)))
    record = json.loads((flo.flow / "flow_settings.json").read_text())
    write_json(png.flow / "flow_settings.json", {**record, "format": "png"})


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
    from benchlib import shared_data

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
    from benchlib import cpu_model, fmt, load_average, table
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--target-frames", type=int, default=15000)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1: a modest load)")
    ap.add_argument("--compare-every", type=int, default=10, help="warping error on every N-th pair")
    ap.add_argument("--stylise", type=int, default=0, metavar="N", help="also stylise the first N frames")
    ap.add_argument("--flow-frames", type=int, metavar="N",
                    help="flow and masks of the first N frames only (hard links to them in frames-N/); "
                         "default: every frame")
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
    paths = {"video": str(video), "frames": str(flo.frames), "height": args.height, "frames_n": str(flo.frames),
             "flo": str(flo.flow), "masks_flo": str(flo.masks), "png": str(png.flow), "masks_png": str(png.masks),
             "bench": str(Path(__file__).resolve().parent), "threads": args.threads}
    stage("extract", flo.meta.is_file(), paths, results, results_path)
    n = len(list_frames(flo.frames))
    all_frames = n
    if args.flow_frames and args.flow_frames < n:
        n, linked = args.flow_frames, work / f"frames-{args.flow_frames}"
        linked.mkdir(exist_ok=True)
        for src in list_frames(flo.frames)[:n]:
            if not (linked / src.name).exists():
                os.link(src, linked / src.name)
        flo = ClipPaths(linked, flo.flow, flo.masks)
        png = ClipPaths(linked, png.flow, png.masks, flow_format="png")
        paths["frames_n"] = str(linked)
    stage("flow (.flo)", (flo.flow / "flow_settings.json").is_file(), paths, results, results_path)
    stage("masks (.flo)", flo.cuts.is_file(), paths, results, results_path)
    stage("store as PNG", (png.flow / "flow_settings.json").is_file(), paths, results, results_path)
    stage("masks (PNG)", png.cuts.is_file(), paths, results, results_path)
    effect = compare(flo, png, n, args.compare_every)
    extra = stylise(flo, png, work, args.stylise) if args.stylise else {}

    per = {"content frames (PNG)": folder_bytes(work / "frames", "frame_*.png") / all_frames,
           "flow .flo (fwd+bwd)": folder_bytes(flo.flow, "*.flo") / n,
           "flow PNG (fwd+bwd)": folder_bytes(png.flow, "*.png") / n,
           "masks (PGM, both directions)": folder_bytes(flo.masks, "*.pgm") / n}
    if extra:
        per["stylised frames (PNG)"] = extra["stylised_bytes_per_frame"]
    shape = read_image(flo.frame(1)).shape
    print(f"\n{all_frames} frames of {shape[1]}x{shape[0]} px ({args.seconds:g} s at {args.fps} fps), flow and masks of "
          f"{n} (offsets [1]); "
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
    rows = []
    for k, v in results.items():
        per_frame = v["seconds"] / (all_frames if k == "extract" else n)
        rows.append([k, fmt(v["seconds"], ".0f"), fmt(1000 * per_frame, ".1f"),
                     fmt(per_frame * args.target_frames / 3600, ".2f"), fmt(v["early"], ".0f"), fmt(v["last"], ".0f"),
                     fmt(v["peak"], ".0f")])
    print(table(["stage", "wall s", "ms per frame", f"h for {args.target_frames}", "RSS 2nd tenth MiB",
                 "RSS last tenth MiB", "peak MiB"], rows))
    print("\nPNG flows against .flo:", ", ".join(f"{k} {fmt(v, '.3g')}" for k, v in {**effect, **extra}.items()
                                                 if k != "stylised_bytes_per_frame"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

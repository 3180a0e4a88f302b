"""Shots as parallel jobs (issue 16's target): wall time of a multi-shot run, shot jobs vs one job.

    python bench/bench_shots.py [--height 128] [--frames-per-shot 10] [--first 80] [--later 40]

Joins clips of ../shared/data/videos into one multi-shot video (>= 4 shots, a scene cut at each
join), prepares it with the workflow (frames, flow, consistency: the cuts), then stylises one run
(flowInit_temporalLoss, a real painting) twice on the same prepared clip:

* shot jobs: ``snakemake --cores 2 --set-threads sequence=1 --resources gpu=2`` (one sequence
  job per shot, then assemble; ``gpu`` is the default profile's throttle of one stylisation at a
  time, raised to the number of jobs that may run at once), and
* one job: :func:`styleflow.video.sequence.stylize_clip` in one process with one torch thread,

checks that the frames are byte-identical, and prints a table: the wall times, their ratio (target
<= 0.6), and what the DAG predicts for 2, 8 and 64 workers from the measured shot jobs (greedy
longest-first list scheduling of the shot jobs, plus the assemble job). Run it on an idle machine
(``nice`` and shared cores inflate both sides differently); state the conditions with the figures.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STYLEFLOW_SHARED_DATA", REPO.parent / "shared" / "data"))
#: (clip, first source frame) of each shot, in order: two spans of the bedroom clip and two of the
#: paragliding clip, far apart (the Sintel snowstorm span split into two shots of unequal length).
SOURCES = (
    ("sam2_bedroom.mp4", 0),
    ("cotracker_paragliding-launch.mp4", 5),
    ("sam2_bedroom.mp4", 120),
    ("cotracker_paragliding-launch.mp4", 50),
)
RUN = "results/runs/joined/style/h{h}/bench/flowInit_temporalLoss"


def read_span(path: Path, start: int, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    """Frames start..start+n-1 of ``path`` as (H, W, 3) uint8 RGB, resized to ``size`` (W, H)."""
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    for _ in range(n):
        ok, bgr = cap.read()
        if not ok:
            raise SystemExit(f"{path}: fewer than {start + n} frames")
        frames.append(cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def snakemake(workdir: Path, *args: str) -> float:
    """Run the workflow in ``workdir``; return its wall time in seconds."""
    exe = Path(sys.executable).parent / "snakemake"
    t0 = time.perf_counter()
    proc = subprocess.run([str(exe), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args],
                          cwd=workdir, capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return time.perf_counter() - t0


def predict(durations: list[float], workers: int, tail: float) -> float:
    """Makespan of independent jobs on ``workers`` (longest first, each to the first free worker) + tail."""
    free = [0.0] * min(workers, max(1, len(durations)))
    for d in sorted(durations, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free) + tail


def print_predictions(durations: list[float], tail: float, t_one: float, title: str) -> None:
    print(f"| workers | {title} | vs one job |")
    print("| ---: | ---: | ---: |")
    for w in (2, 8, 64):
        p = predict(durations, w, tail)
        print(f"| {w} | {p:.1f} | {p / t_one:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--frames-per-shot", type=int, default=10)
    ap.add_argument("--first", type=int, default=80, help="iterations of a shot's first frame")
    ap.add_argument("--later", type=int, default=40, help="iterations of later frames")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/styleflow-bench-shots"))
    args = ap.parse_args()
    if not (SHARED / "videos").is_dir():
        raise SystemExit(f"{SHARED}/videos not found (set STYLEFLOW_SHARED_DATA)")
    from styleflow.io.encode import encode_arrays

    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    h = args.height
    size = (2 * round(h * 16 / 9 / 2), h)
    frames = [f for clip, start in SOURCES for f in read_span(SHARED / "videos" / clip, start, args.frames_per_shot, size)]
    encode_arrays(frames, work / "joined.mp4", fps=10)
    shutil.copyfile(SHARED / "styles" / "vangogh_starry_night.jpg", work / "style.jpg")
    (work / "bench.yaml").write_text(
        "videos: {joined: {path: joined.mp4}}\n"
        "styles: {style: {images: [style.jpg]}}\n"
        f"resolutions: [{h}]\n"
        f"budgets: {{bench: {{first: {args.first}, later: {args.later}}}}}\n"
        "variants: {flowInit_temporalLoss: {}}\n"
        "options: {preset: gatys, weights: auto, coarse_to_fine: 1}\n"
        "device: cpu\n"
    )
    cfg = ("--configfile", str(work / "bench.yaml"))
    prep = f"results/prep/joined/h{h}"
    snakemake(work, f"{prep}/cuts-dis/cuts.json", f"{prep}/masks-dis", "--cores", "2", *cfg)
    from styleflow.io.layout import ClipPaths
    from styleflow.video.shots import clip_shots

    shots = clip_shots(work / prep / "masks-dis")
    run = work / RUN.format(h=h)
    t_shots = snakemake(work, str(run.relative_to(work) / "run.json"), "--cores", "2", "--set-threads", "sequence=1",
                        "--resources", "gpu=2", *cfg)

    import torch

    from styleflow.video.sequence import stylize_clip

    torch.set_num_threads(1)
    one = work / "one_job"
    t0 = time.perf_counter()
    one_record = stylize_clip(ClipPaths(work / prep / "frames", work / prep / "flow-dis", work / prep / "masks-dis"),
                 [str(work / "style.jpg")], one, variant="flowInit_temporalLoss", first_iterations=args.first,
                 iterations=args.later, options={"preset": "gatys", "weights": "auto", "coarse_to_fine": 1},
                 device="cpu", seed=0, progress=False)  # fmt: skip
    t_one = time.perf_counter() - t0

    n = len(frames)
    same = all((run / "frames" / p.name).read_bytes() == p.read_bytes() for p in sorted(one.glob("frame_*.png")))
    same = same and len(list(one.glob("frame_*.png"))) == n
    bench_dir = work / "benchmarks/sequence/joined/style" / f"h{h}" / "bench/flowInit_temporalLoss"
    durations = []
    for s in shots:
        with open(bench_dir / f"{s.name}.tsv") as fh:
            durations.append(float(next(csv.DictReader(fh, delimiter="\t"))["s"]))
    print(f"clip: {n} frames at {size[0]}x{size[1]}, {len(shots)} shots found ({', '.join(s.name for s in shots)}); "
          f"budgets {args.first}/{args.later}; CPU, one torch thread per job")
    print(f"frames byte-identical (shot jobs vs one job): {'yes' if same else 'NO'}")
    print()
    print("| run | wall s | vs one job |")
    print("| --- | ---: | ---: |")
    print(f"| one job (stylize_clip, 1 thread) | {t_one:.1f} | 1.00 |")
    print(f"| shot jobs, snakemake --cores 2 --resources gpu=2 | {t_shots:.1f} | {t_shots / t_one:.2f} (target <= 0.6) |")
    print()
    tail = max(0.0, t_shots - predict(durations, 2, 0.0))  # scheduling, assemble, Snakemake's own time
    print(f"shot jobs measured (s): {', '.join(f'{d:.1f}' for d in durations)}; overhead beyond them at 2 workers: {tail:.1f} s")
    print_predictions(durations, tail, t_one, "predicted wall s (shot jobs + measured overhead)")
    # Without contention: each shot job costs what the shot cost inside the one job, plus the job's own
    # start (process, imports, backbone: measured as the shot job's time beyond its stylising).
    shot_dir = run / "shots"
    starts = [d - json.loads((shot_dir / s.name / "shot.json").read_text())["seconds_stylising"]
              for s, d in zip(shots, durations)]  # fmt: skip
    start = min(starts)
    alone = [x["seconds"] + start for x in one_record["shots"]]
    print()
    print(f"without contention (each shot as fast as inside the one job, + {start:.1f} s job start, + the overhead):")
    print_predictions(alone, tail, t_one, "predicted wall s")
    if len(shots) < 4:
        print(f"WARNING: only {len(shots)} shots were detected; the target needs >= 4")


if __name__ == "__main__":
    main()

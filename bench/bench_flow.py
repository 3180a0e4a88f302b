#!/usr/bin/env python
"""Optical-flow accuracy and speed on Sintel (../shared/data/flow_gt), and consistency-mask quality.

For every method and sequence: average end-point error (EPE, pixels) over all valid pixels and
over non-occluded ones, and the median wall-clock seconds per pair (over ``--repeats`` runs,
methods interleaved so that load from other processes hits them alike). Then, per method, the
precision and recall of the consistency mask (DESIGN.md's reference checker fed the method's
forward and backward flow) as a detector of the ground-truth occlusions.

    .venv/bin/python bench/bench_flow.py                 # all methods, 3 repeats
    .venv/bin/python bench/bench_flow.py --methods dis deepflow --repeats 5

Prints a Markdown table (pasted into docs/video-stages.md). Not a test: it takes ~1 minute.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from styleflow.io.flo import read_flo  # noqa: E402
from styleflow.io.images import read_image  # noqa: E402
from styleflow.motion.consistency import consistency_mask  # noqa: E402
from styleflow.motion.estimate import compute_flow, raft_weights_path  # noqa: E402

DATA = Path(os.environ.get("STYLEFLOW_SHARED_DATA", REPO.parent / "shared" / "data")) / "flow_gt"
SEQUENCES = ("clean_alley_1", "clean_cave_2", "clean_market_5")

#: name → (method, params)
METHODS: dict[str, tuple[str, dict]] = {
    "dis (default)": ("dis", {}),
    "dis, colour pass with SOR ω 1.6": ("dis", {"color_refine_omega": 1.6}),
    "dis, previous default (2 colour passes, SOR 5, ω 1.6)": (
        "dis", {"color_refine_rounds": 2, "color_refine_sor": 5, "color_refine_omega": 1.6}),
    "dis, no colour pass": ("dis", {"color_refine_iterations": 0}),
    "dis medium": ("dis", {"preset": "medium"}),
    "dis ultrafast": ("dis", {"preset": "ultrafast"}),
    "farneback": ("farneback", {}),
    "deepflow": ("deepflow", {}),
    "raft": ("raft", {}),
}


def load(seq: str) -> dict:
    d = DATA / seq
    occ = cv2.imread(str(d / "gt" / "occlusions" / "frame_0002.png"), cv2.IMREAD_GRAYSCALE)
    inv = cv2.imread(str(d / "gt" / "invalid" / "frame_0002.png"), cv2.IMREAD_GRAYSCALE)
    gt = read_flo(d / "gt" / "frame_0002.flo")
    valid = np.ones(gt.shape[:2], bool) if inv is None else inv == 0
    occluded = np.zeros(gt.shape[:2], bool) if occ is None else occ > 0
    return {
        "a": read_image(d / "frame_0002.png"),
        "b": read_image(d / "frame_0003.png"),
        "gt": gt,
        "valid": valid,
        "occluded": occluded,
    }


def epe(flow: np.ndarray, gt: np.ndarray, where: np.ndarray) -> float:
    return float(np.sqrt(((flow - gt) ** 2).sum(-1))[where].mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help=f"from: {', '.join(METHODS)}")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method and pair (median)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"no Sintel data at {DATA} (set STYLEFLOW_SHARED_DATA)", file=sys.stderr)
        return 2
    names = [m for m in args.methods if m in METHODS]
    if "raft" in names and not raft_weights_path().is_file():
        print(f"(skipping raft: no weights at {raft_weights_path()})", file=sys.stderr)
        names.remove("raft")

    results: dict[str, dict] = {n: {"epe": {}, "epe_noc": {}, "seconds": {}, "mask": {}} for n in names}
    for seq in SEQUENCES:
        s = load(seq)
        times: dict[str, list[float]] = {n: [] for n in names}
        flows: dict[str, np.ndarray] = {}
        for _ in range(max(1, args.repeats)):
            for n in names:  # interleaved: background load affects all methods alike
                method, params = METHODS[n]
                t0 = time.perf_counter()
                flows[n] = compute_flow(s["a"], s["b"], method, **params)
                times[n].append(time.perf_counter() - t0)
        for n in names:
            method, params = METHODS[n]
            r = results[n]
            r["epe"][seq] = epe(flows[n], s["gt"], s["valid"])
            r["epe_noc"][seq] = epe(flows[n], s["gt"], s["valid"] & ~s["occluded"])
            r["seconds"][seq] = statistics.median(times[n])
            backward = compute_flow(s["b"], s["a"], method, **params)
            mask = consistency_mask(flows[n], backward)  # on frame 2's grid: 2→3 checked by 3→2
            flagged = (mask < 128) & s["valid"]
            occ = s["occluded"] & s["valid"]
            tp = np.count_nonzero(flagged & occ)
            r["mask"][seq] = {
                "precision": tp / max(1, np.count_nonzero(flagged)),
                "recall": tp / max(1, np.count_nonzero(occ)),
            }
        print(f"{seq}: done", file=sys.stderr, flush=True)

    h, w = load(SEQUENCES[0])["gt"].shape[:2]
    print(f"Sintel clean, frame 2 → 3, {w}x{h}; EPE in pixels (all valid / non-occluded); "
          f"seconds per pair = median of {args.repeats}; {cv2.getNumThreads()} OpenCV threads\n")
    short = {"clean_alley_1": "alley_1", "clean_cave_2": "cave_2", "clean_market_5": "market_5"}
    head = " | ".join(f"{short[q]} EPE all / noc" for q in SEQUENCES)
    print(f"| method | {head} | s/pair | × DeepFlow time |")
    print("|---" * (len(SEQUENCES) + 3) + "|")
    ref = statistics.mean(results["deepflow"]["seconds"].values()) if "deepflow" in results else None
    for n in names:
        r = results[n]
        cells = " | ".join(f"{r['epe'][q]:.3f} / {r['epe_noc'][q]:.3f}" for q in SEQUENCES)
        sec = statistics.mean(r["seconds"].values())
        rel = f"{sec / ref:.3f}" if ref else "–"
        print(f"| {n} | {cells} | {sec:.3f} | {rel} |")
    print("\nConsistency mask (value < 128 = unreliable) as a detector of ground-truth occlusions:\n")
    print("| flow | " + " | ".join(f"{short[q]} precision / recall" for q in SEQUENCES) + " |")
    print("|---" * (len(SEQUENCES) + 1) + "|")
    for n in names:
        m = results[n]["mask"]
        print(f"| {n} | " + " | ".join(f"{m[q]['precision']:.2f} / {m[q]['recall']:.2f}" for q in SEQUENCES) + " |")
    if "deepflow" in results and "dis (default)" in results:
        d, f = results["deepflow"], results["dis (default)"]
        ok_err = all(f["epe"][q] <= d["epe"][q] for q in SEQUENCES)
        ratio = statistics.mean(f["seconds"].values()) / statistics.mean(d["seconds"].values())
        print(f"\nTarget (default DIS EPE <= DeepFlow's on every sequence, time <= 1/5): "
              f"EPE {'met' if ok_err else 'NOT met'}; time ratio {ratio:.3f} "
              f"({'met' if ratio <= 0.2 else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

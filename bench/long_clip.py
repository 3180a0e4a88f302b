"""Issue 14 item 6: do extraction, flow and masks stream a long clip with flat memory, and how
much disk does each frame cost?

Makes a synthetic clip (a smooth random texture panning and a square moving across it, 640x360,
H.264) of ``--seconds`` at ``--fps``, then runs the three stages through the public API, each in its
own process, sampling that process tree's resident memory twice a second. Prints, per stage, the
wall time, the resident memory over the second and the last tenth of the run (flat memory: the
two agree; the first tenth is the interpreter importing) and the peak, then the disk use per frame of each folder and its extrapolation to a
10-minute clip at the same rate.

    nice -n 5 .venv/bin/python bench/long_clip.py --seconds 120 --fps 25 --height 256 \
        --flow-param preset=ultrafast

(``preset=ultrafast`` keeps the CPU time down: the file sizes and the memory do not depend on the
flow settings; the default DIS costs ~0.08 s per pair and direction at this size on one core.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from styleflow.io.encode import encode_arrays

STAGES = {
    "frames": "from styleflow.io.frames import extract_frames as f; f({video!r}, {frames!r}, {height}, progress=False)",
    "flow": "from styleflow.motion.flow import compute_flows as f; "
            "f({frames!r}, {flow!r}, params={params!r}, progress=False)",
    "masks": "from styleflow.motion.consistency import compute_masks as f; "
             "f({flow!r}, {masks!r}, frames_dir={frames!r}, progress=False)",
}


def synthetic_frames(n: int, h: int = 360, w: int = 640, seed: int = 0):
    """``n`` frames ``(h, w, 3)`` uint8: a texture panning 2 px/frame right, a square moving down."""
    import cv2

    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.random((h + 64, w + 2 * n + 64, 3)).astype(np.float32), (0, 0), 4)
    big = ((big - big.min()) / (big.max() - big.min()) * 255).astype(np.uint8)
    for k in range(n):
        img = np.ascontiguousarray(big[16 : 16 + h, 2 * k : 2 * k + w])
        y = (3 * k) % (h - 60)
        img[y : y + 60, w // 3 : w // 3 + 60] = (230, 40, 40)
        yield img


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of process ``pid`` and its descendants (0 when gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            pass
    return total


def run_stage(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; wall seconds and memory samples (MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"})
    samples: list[float] = []

    def sample() -> None:
        while proc.poll() is None:
            samples.append(tree_rss(proc.pid) / 2**20)
            time.sleep(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    code_ = proc.wait()
    thread.join()
    if code_ != 0:
        raise SystemExit(f"stage failed (exit {code_}): {code}")
    tenth = max(1, len(samples) // 10)
    early = samples[tenth : 2 * tenth] or samples  # the second tenth: after the interpreter's imports
    return {"seconds": time.perf_counter() - t0, "early": float(np.median(early)) if early else 0.0,
            "last": float(np.median(samples[-tenth:])) if samples else 0.0, "peak": max(samples, default=0.0)}


def folder_bytes(folder: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.name.endswith(suffix))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--flow-param", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--work", help="keep the clip and stages here (default: a temporary folder)")
    args = ap.parse_args()
    params = {}
    for item in args.flow_param:
        k, _, v = item.partition("=")
        params[k] = json.loads(v) if v[:1].isdigit() or v in ("true", "false") else v
    n = int(round(args.seconds * args.fps))
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        root = Path(tmp)
        video = root / "long.mp4"
        t0 = time.perf_counter()
        encode_arrays(synthetic_frames(n), video, fps=args.fps, total=n)
        print(f"synthetic clip: {n} frames 640x360 at {args.fps:g} fps, {video.stat().st_size / 2**20:.1f} MiB, "
              f"made in {time.perf_counter() - t0:.0f} s")
        paths = {"video": str(video), "frames": str(root / "frames"), "flow": str(root / "flow"),
                 "masks": str(root / "masks"), "height": args.height, "params": params}
        rows = []
        for name, code in STAGES.items():
            r = run_stage(code.format(**paths))
            rows.append((name, r))
        meta = json.loads((root / "frames" / "meta.json").read_text())
        count = meta["frame_count"]
        print(f"\n{count} frames {meta['width']}x{meta['height']}; flow params {params or 'default'}\n")
        print("| stage | seconds | ms / frame | RSS 2nd tenth (MiB) | RSS last tenth (MiB) | peak (MiB) |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, r in rows:
            print(f"| {name} | {r['seconds']:.0f} | {1000 * r['seconds'] / count:.1f} | {r['early']:.0f} | "
                  f"{r['last']:.0f} | {r['peak']:.0f} |")
        ten = 600 * args.fps
        print(f"\n| folder | bytes / frame | {count} frames | 10 min ({ten:.0f} frames) |")
        print("|---|---:|---:|---:|")
        for label, folder, suffix in (("frames (PNG)", "frames", ".png"), ("flow (.flo, fwd+bwd)", "flow", ".flo"),
                                      ("masks (.pgm, both ways)", "masks", ".pgm")):
            b = folder_bytes(root / folder, suffix)
            print(f"| {label} | {b / count / 1024:.0f} KiB | {b / 2**30:.2f} GiB | {b / count * ten / 2**30:.1f} GiB |")


if __name__ == "__main__":
    main()

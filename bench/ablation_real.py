"""Issue 4's checks on real footage: do the temporal variants do what Ruder et al. say?

For a real clip (default: the shared bedroom clip) and a painting, stylises the first N frames
with several variants through ``styleflow.video.job.stylize_video`` (frames, DIS flow, masks,
sequential stylisation), then scores every output with ``styleflow.eval.metrics.score_clip``:
the temporal warping error (flow on the *input* frames, PNG frames, no codec), and the fixed
backbone's style loss of each output frame against the painting next to the content frames'.
With ``--cut`` the clip is the bedroom clip followed by the paraglider clip (a hard scene cut),
and the script reports how the frame after the cut was initialised and how far it is from the
last frame of the old shot, compared with the ``noInit`` run (a ghost would make it closer).

    .venv/bin/python bench/ablation_real.py --height 96 --frames 8 --first 150 --later 75
    .venv/bin/python bench/ablation_real.py --cut --height 96 --frames 8

Prints a table; needs ../shared/data (or $STYLEFLOW_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from styleflow.eval.metrics import read_clip, score_clip
from styleflow.io.encode import encode_arrays
from styleflow.io.images import read_image, to_uint8
from styleflow.io.layout import list_frames
from styleflow.video.job import stylize_video

SHARED = Path(os.environ.get("STYLEFLOW_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VARIANTS = ("noInit", "noFlowInit_noTemporalLoss", "noFlowInit_temporalLoss", "flowInit_noTemporalLoss",
            "flowInit_temporalLoss")


def cut_clip(out: Path, height: int, n: int) -> Path:
    """The first n//2 frames of the bedroom clip, then n - n//2 of the paraglider clip (resized)."""
    a = read_clip(SHARED / "videos" / "sam2_bedroom.mp4", max_frames=n // 2)
    b = read_clip(SHARED / "videos" / "cotracker_paragliding-launch.mp4", max_frames=n - n // 2)
    import cv2

    size = (a[0].shape[1], a[0].shape[0])
    frames = [to_uint8(f) for f in a] + [to_uint8(cv2.resize(f, size, interpolation=cv2.INTER_AREA)) for f in b]
    encode_arrays(frames, out, fps=30)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=SHARED / "videos" / "sam2_bedroom.mp4")
    ap.add_argument("--style", type=Path, default=SHARED / "styles" / "vangogh_starry_night.jpg")
    ap.add_argument("--height", type=int, default=96)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--first", type=int, default=150)
    ap.add_argument("--later", type=int, default=75)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--cut", action="store_true", help="a clip with a scene cut in the middle")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    args = ap.parse_args()
    if not (SHARED / "README.md").is_file():
        print(f"shared test material not found at {SHARED}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="styleflow-ablation-"))
    video = cut_clip(work / "cut.mp4", args.height, args.frames) if args.cut else args.video
    style = read_image(args.style)
    results = {}
    for variant in args.variants:
        t0 = time.perf_counter()
        record = stylize_video(video, [args.style], work / f"{variant}.mp4", height=args.height, variant=variant,
                               max_frames=args.frames, first_iterations=args.first, iterations=args.later,
                               work_dir=work / "work", progress=False)
        run = Path(record["run_dir"])
        outputs = [read_image(p) for p in list_frames(run)]
        inputs = [read_image(p) for p in list_frames(record["frames_dir"])]
        rows, summary = score_clip(outputs, inputs, styles=[style])
        _, content_summary = score_clip(inputs, inputs, styles=[style], flows=None)
        records = [json.loads((run / ".records" / f"frame_{k:06d}.json").read_text()) for k in range(1, len(outputs) + 1)]
        results[variant] = (summary, content_summary, records, outputs, time.perf_counter() - t0)

    print(f"clip {video.name}, {args.frames} frames at {args.height} px, style {args.style.name}, "
          f"budgets {args.first}/{args.later}; warping error on PNG frames (flow on the input frames)")
    print(f"{'variant':28s} {'warp_error':>11s} {'style_loss':>11s} {'content frames':>15s} {'ratio':>7s} {'seconds':>8s}")
    for variant, (s, cs, _, _, secs) in results.items():
        print(f"{variant:28s} {s['warp_error']:11.5f} {s['style_loss']:11.3e} {cs['style_loss']:15.3e} "
              f"{cs['style_loss'] / s['style_loss']:7.1f} {secs:8.0f}")
    if args.cut:
        for variant, (_, _, records, outputs, _) in results.items():
            cuts = [r["frame"] for r in records if r["shot_start"] and r["frame"] > 1]
            for k in cuts:
                gap = float(np.abs(outputs[k - 1] - outputs[k - 2]).mean())
                print(f"{variant}: frame {k} starts a shot (init {records[k - 1]['init']!r}, "
                      f"temporal terms {records[k - 1]['temporal_terms']}); mean |out_k - out_(k-1)| = {gap:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

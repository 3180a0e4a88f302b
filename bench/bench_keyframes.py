"""Few-shot networks (``styleflow train --keyframes K``) against the optimisation, per clip (issue 26 item 4).

    python bench/bench_keyframes.py                                   # the docs' table (docs/feedforward.md)
    python bench/bench_keyframes.py --clips bedroom --height 128 --steps 300 --keyframes 4   # one quick trial

For each clip: the optimisation (default variant ``flowInit_temporalLoss``, ``gatys`` preset) stylises
``--frames`` frames from ``--start``; a network is trained on the whole clip with ``K`` keyframes
(their optimisation counted in the training time), then stylises the same frames, which are none
of its keyframes (the bench checks). Both are scored with the metrics' fixed backbone
(:func:`styleflow.eval.metrics.score_clip`): content distance (to the content frame), style
distance (Gram, to the painting) and warping error; the table gives network / optimisation.

Times: wall seconds and the process's CPU seconds (all threads) of keyframes + training, with the
load average — on a shared machine the wall time is not the 2-core figure; CPU seconds / 2 is the
estimate for 2 idle cores (perfect scaling of the 2 threads assumed). ``--work`` keeps everything
(a rerun reuses the optimisation's runs, keyframes and models) and gets the network's frames
(``CLIP_hH/frames-TAG/``) beside the optimisation's run (``CLIP_hH/opt.work/…/runs/``). Needs ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from styleflow.eval.metrics import read_clip, score_clip
from styleflow.ff.infer import run_batch
from styleflow.ff.model import load_model
from styleflow.ff.train import TrainSettings, train
from styleflow.io.images import read_image, write_image
from styleflow.video.job import stylize_video

SHARED = Path(os.environ.get("STYLEFLOW_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

#: clip name → (file under videos/, first stylised frame - 1); bedroom is the clip the settings were tuned on.
CLIPS = {"bedroom": ("sam2_bedroom.mp4", 100), "paragliding": ("cotracker_paragliding-launch.mp4", 40),
         "sintel": ("sintel_film_moviepy_example3.mp4", 20)}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_clip(a: argparse.Namespace, name: str) -> dict:
    video = SHARED / "videos" / CLIPS[name][0]
    start = CLIPS[name][1] if a.start is None else a.start
    work = a.work / f"{name}_h{a.height}"
    style = [a.style]
    kw = {"height": a.height, "start": start, "max_frames": a.frames, "progress": False}
    opt = stylize_video(video, style, work / "opt.mp4", variant="flowInit_temporalLoss", **kw)
    run_dir = Path(opt["run_dir"])
    frames_dir = run_dir.parents[1] / "frames"
    s = TrainSettings(size=a.height, crop=a.crop, steps=a.steps, batch=a.batch, lr=a.lr, width=a.width,
                      blocks=a.blocks, temporal_weight=a.temporal_weight, keyframes=a.keyframes,
                      keyframe_weight=1.0, keyframe_iterations=a.keyframe_iterations,
                      content_weight=a.content_weight, style_weight=a.style_weight,
                      keyframe_style_weight=a.keyframe_style_weight, keyframe_feature_weight=a.keyframe_feature_weight,
                      checkpoint_every=max(1, a.steps // 5), precision=a.precision)
    tag = "k{keyframes}-s{steps}-c{crop}-b{batch}-w{width}x{blocks}-t{temporal_weight:g}-lr{lr:g}".format(**s.as_dict())
    if a.content_weight is not None or a.style_weight is not None:
        tag += f"-cw{a.content_weight or 0:g}-sw{a.style_weight or 0:g}"
    if a.keyframe_style_weight or a.keyframe_feature_weight:
        tag += f"-ks{a.keyframe_style_weight:g}-kf{a.keyframe_feature_weight:g}"
    if a.keyframe_iterations is not None:
        tag += f"-ki{a.keyframe_iterations}"
    model_path = work / f"model-{tag}.pt"
    load = os.getloadavg()
    t0, c0 = time.perf_counter(), _cpu()
    fresh = not model_path.is_file()
    if fresh:
        train(style, [video], model_path, s, progress=a.progress, keyframe_cache=work / "keyframes")
    train_wall, train_cpu = time.perf_counter() - t0, _cpu() - c0
    model = load_model(model_path)
    rec = model.record
    inputs = read_clip(frames_dir)
    numbers = [int(Path(f).stem.rsplit("_", 1)[1]) for f in rec["keyframes"]["frames"]]
    if any(start < k <= start + a.frames for k in numbers):
        print(f"{name}: warning: a scored frame is one of the keyframes {numbers}", file=sys.stderr)
    outputs = run_batch(model, inputs, torch.device("cpu"))
    shown = work / f"frames-{tag}"  # the network's frames, to look at beside the optimisation's run
    for i, image in enumerate(outputs):
        write_image(shown / f"frame_{start + 1 + i:06d}.png", image)
    _, o = score_clip(read_clip(run_dir), inputs, styles=[read_image(a.style)])
    _, n = score_clip(outputs, inputs, styles=[read_image(a.style)])
    key = rec["keyframes"]
    return {"clip": name, "frames": f"{start + 1}-{start + a.frames}", "keyframes": numbers,
            "content_ratio": n["content_loss"] / o["content_loss"], "style_ratio": n["style_loss"] / o["style_loss"],
            "warp_ratio": n["warp_error"] / o["warp_error"],
            "net": {k: n[k] for k in ("content_loss", "style_loss", "warp_error")},
            "optimisation": {k: o[k] for k in ("content_loss", "style_loss", "warp_error")},
            "keyframe_seconds": key["optimisation_seconds"], "keyframe_cpu_seconds": key.get("optimisation_cpu_seconds"),
            "train_seconds": rec["seconds"], "wall_seconds": round(train_wall, 1) if fresh else None,
            "cpu_seconds": round(train_cpu, 1) if fresh else None, "load_before": load[0], "load_after": os.getloadavg()[0],
            "model": str(model_path)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    p.add_argument("--style", type=Path, default=SHARED / "styles" / "vangogh_starry_night.jpg")
    p.add_argument("--height", type=int, default=256, help="training and stylisation height (default 256)")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--start", type=int, help="first stylised frame - 1 (default per clip)")
    p.add_argument("--keyframes", type=int, default=4)
    p.add_argument("--keyframe-iterations", type=int)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--crop", type=int, default=None)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--blocks", type=int, default=3)
    p.add_argument("--temporal-weight", type=float, default=0.0)
    p.add_argument("--content-weight", type=float)
    p.add_argument("--style-weight", type=float)
    p.add_argument("--keyframe-style-weight", type=float, default=0.0)
    p.add_argument("--keyframe-feature-weight", type=float, default=0.0)
    p.add_argument("--precision", default="auto")
    p.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    p.add_argument("--json", type=Path)
    p.add_argument("--progress", action="store_true")
    a = p.parse_args(argv)
    if not a.style.is_file():
        print(f"{a.style}: not found (set STYLEFLOW_SHARED_DATA)", file=sys.stderr)
        return 2
    a.work = a.work or Path(tempfile.mkdtemp(prefix="bench_keyframes_"))
    rows = [run_clip(a, c) for c in a.clips]
    print(f"\nStarry Night, {a.height} px, {a.frames} frames per clip; K={a.keyframes}, {a.steps} steps, crop "
          f"{a.crop or a.height}, batch {a.batch}, width {a.width}, blocks {a.blocks}, temporal {a.temporal_weight:g}")
    print("| clip | frames | content ratio | style ratio | warping-error ratio | keyframes s (CPU s) | train s | "
          "total wall s | CPU s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clip']} | {r['frames']} | {r['content_ratio']:.2f} | {r['style_ratio']:.2f} | {r['warp_ratio']:.2f} | "
              f"{r['keyframe_seconds']:.0f} ({r['keyframe_cpu_seconds'] or 0:.0f}) | {r['train_seconds']:.0f} | "
              f"{r['wall_seconds']} | {r['cpu_seconds']} | {r['load_before']:.1f}-{r['load_after']:.1f} |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Feed-forward stylisation against the optimisation, on a real clip (issue 15's targets).

    python bench/bench_feedforward.py                     # bedroom clip, Starry Night, 256 px
    python bench/bench_feedforward.py --height 128 --train-size 128 --steps 300 --frames 6
    python bench/bench_feedforward.py --crop 128 --steps 1700 --temporal-weight 3e4 --jobs 2  # docs/feedforward.md

Trains two networks on the clip's own frames (a video-specific model, as DESIGN.md allows) — one
with the temporal loss, one without; with ``--jobs 2`` at the same time, one process and one core
each — then stylises the same frames with each, with the
optimisation's default variant (flowInit_temporalLoss) and measures, with one fixed backbone and
the metrics stage's code (styleflow.eval.metrics.score_clip, input-frame DIS flow):

* seconds per frame (optimisation: its later frames; network: all frames), and the ratio;
* the warping error of each (Lai et al.);
* the style loss of each and of the content frames (the ratio content / network is the target);
* the hybrid, from each network: the first frame's objective from the report protocol (300
  L-BFGS iterations from the content, no early stop, float32) and the iterations and seconds the
  same optimisation needs from the network's output to come within 5 % of it.

Prints one table; the training time and steps per second beside it. Everything through the
public API. Needs ../shared/data (or --video/--style).
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
from styleflow.ff.infer import stylize_image
from styleflow.ff.model import load_model
from styleflow.ff.train import TrainSettings, train
from styleflow.io.images import read_image
from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import settings_from
from styleflow.video.job import stylize_video

SHARED = Path(os.environ.get("STYLEFLOW_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _frames_csv_seconds(run_dir: Path) -> list[float]:
    import csv

    with open(run_dir / "frames.csv") as f:
        return [float(r["seconds"]) for r in csv.DictReader(f)]


TRACE_AT = (1, 10, 25, 50, 75, 100, 150, 200, 300)


def hybrid(a: argparse.Namespace, models: dict[str, Path], content: np.ndarray, style: list[np.ndarray]) -> dict:
    """The first frame from each network's output against the report protocol (300 iterations from
    the content, float32, no early stop): iterations and seconds until the objective
    ``α·content + β·style`` is within 5 % of the protocol's final one. No run stops early (``tol``
    and ``warm_tol`` 0); the hybrid's seconds include the network's forward pass."""
    report = settings_from("gatys", {"tol": 0.0, "warm_tol": 0.0, "recolor_start": False, "precision": "float32",
                                     "iterations": 300})
    st = Stylizer(report, style, device=a.device)

    def traced(init: np.ndarray | None, t0: float) -> tuple[list[tuple[int, float, float]], np.ndarray]:
        trace: list[tuple[int, float, float]] = []

        def cb(event: dict) -> None:
            if event.get("event") == "iteration":
                parts = event["losses"]
                value = report.content_weight * float(parts["content"]) + report.style_weight * float(parts["style"])
                trace.append((event["iteration"], value, time.perf_counter() - t0))

        out = st.stylize(content, init=init, iterations=300, callback=cb, warm=init is not None)
        return trace, out.image

    def at(trace: list[tuple[int, float, float]]) -> dict[str, float]:
        return {str(i): round(v, 4) for i, v, _ in trace if i in TRACE_AT}

    t0 = time.perf_counter()
    ref_trace, ref_image = traced(None, t0)
    res: dict = {"report_objective": st.objective(ref_image, content)["objective"],
                 "report_seconds": time.perf_counter() - t0, "report_objective_at": at(ref_trace)}
    target = 1.05 * res["report_objective"]
    ref_hit = next((i for i, v, _ in ref_trace if v <= target), None)
    res["report_iterations_to_5pct"], res["report_target"] = ref_hit, target
    for name, path in models.items():
        t0 = time.perf_counter()
        init = stylize_image(load_model(path), content, st.device)
        trace, _ = traced(init, t0)
        hit = next(((i, t) for i, v, t in trace if v <= target), None)
        res[name] = {"start_objective": st.objective(init, content)["objective"], "objective_at": at(trace),
                     "iterations_to_5pct": hit[0] if hit else None, "seconds_to_5pct": hit[1] if hit else None,
                     "objective_trace": [[i, v] for i, v, _ in trace]}
    return res


def _train_one(style: Path, video: Path, path: Path, s: TrainSettings, device: str, core: int | None) -> None:
    """Train one model in this (worker) process, on one thread and, with ``core``, one core."""
    import torch

    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    train([style], [video], path, s, device=device, progress=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=SHARED / "videos" / "sam2_bedroom.mp4")
    p.add_argument("--style", type=Path, default=SHARED / "styles" / "vangogh_starry_night.jpg")
    p.add_argument("--height", type=int, default=256, help="stylisation height (default 256)")
    p.add_argument("--frames", type=int, default=8, help="frames stylised by each method (default 8)")
    p.add_argument("--start", type=int, default=100,
                   help="first source frame stylised (default 100: after the training frames, so the "
                        "networks are measured on frames they were not trained on)")
    p.add_argument("--train-frames", type=int, default=60, help="frames of the clip used for training (its first)")
    p.add_argument("--train-size", type=int, default=256, help="training height (frames extracted at it)")
    p.add_argument("--crop", type=int, default=None, help="training crop side (default: --train-size)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--blocks", type=int, default=3)
    p.add_argument("--style-weight", type=float, default=None)
    p.add_argument("--temporal-weight", type=float, default=TrainSettings().temporal_weight)
    p.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="the backbone's precision, training and optimisation (auto)")
    p.add_argument("--jobs", type=int, default=1, help="train the two models in this many processes at once "
                   "(2: one core each, on a machine with 2 or more)")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--hybrid-only", action="store_true",
                   help="train (or reuse from --work) the models and measure only the hybrid on the first frame")
    a = p.parse_args(argv)
    for f in (a.video, a.style):
        if not f.is_file():
            print(f"{f}: not found (set STYLEFLOW_SHARED_DATA or pass --video/--style)", file=sys.stderr)
            return 2
    work = a.work or Path(tempfile.mkdtemp(prefix="bench_ff_"))
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"video": str(a.video), "style": str(a.style), "height": a.height, "frames": a.frames}

    models: dict[str, Path] = {}
    todo: list[tuple[Path, TrainSettings]] = []
    for name, tw in (("temporal", a.temporal_weight), ("noTemporal", 0.0)):
        s = TrainSettings(size=a.train_size, crop=a.crop, steps=a.steps, batch=a.batch, width=a.width, blocks=a.blocks,
                          temporal_weight=tw, style_weight=a.style_weight, max_frames=a.train_frames,
                          checkpoint_every=max(1, a.steps // 10), precision=a.precision)
        path = work / f"model_{name}.pt"
        models[name] = path
        if path.is_file():  # reused from --work, only if trained with these settings
            had = load_model(path).record["settings"]
            if had != s.as_dict():
                diff = sorted(k for k in s.as_dict() if had.get(k) != s.as_dict()[k])
                print(f"{path}: trained with other settings ({', '.join(diff)}); delete it or use another --work",
                      file=sys.stderr)
                return 2
        else:
            todo.append((path, s))
    if a.jobs > 1 and len(todo) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        with ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = [pool.submit(_train_one, a.style, a.video, path, s, a.device,
                                cores[i % len(cores)] if len(cores) >= a.jobs else None)
                    for i, (path, s) in enumerate(todo)]
            for j in jobs:
                j.result()
    else:
        for path, s in todo:
            train([a.style], [a.video], path, s, device=a.device)
    for name, path in models.items():
        rec = load_model(path).record
        res[f"train_{name}"] = {"seconds": rec["seconds"], "steps_per_second": rec["steps_per_second"],
                                "steps": rec["steps_done"], "parameters": rec["parameters"]}

    if a.hybrid_only:  # the first stylised frame only (the runs are skipped)
        from styleflow.video.job import prepare_clip

        clip = prepare_clip(a.video, work / "hybrid_prep", a.height, start=a.start, max_frames=2)
        h = hybrid(a, models, read_image(clip.frame(1)), [read_image(a.style)])
        print(json.dumps(h, indent=1))
        if a.json:
            a.json.write_text(json.dumps({**res, "hybrid": h}, indent=1, default=str))
        return 0

    runs = {}
    kw = {"height": a.height, "start": a.start, "max_frames": a.frames, "device": a.device, "progress": True,
              "options": {"precision": a.precision}}
    rec = stylize_video(a.video, [a.style], work / "opt.mp4", variant="flowInit_temporalLoss", **kw)
    runs["optimisation"] = Path(rec["run_dir"])
    for name, path in models.items():
        rec = stylize_video(a.video, [a.style], work / f"ff_{name}.mp4", model=path, **kw)
        runs[f"ff_{name}"] = Path(rec["run_dir"])
    frames_dir = Path(rec["run_dir"]).parents[1] / "frames"
    inputs = read_clip(frames_dir)
    style = [read_image(a.style)]
    _, content_summary = score_clip(inputs, inputs, styles=style)
    res["content_style_loss"] = content_summary["style_loss"]
    for name, run in runs.items():
        _, summary = score_clip(read_clip(run), inputs, styles=style)
        secs = _frames_csv_seconds(run)
        per_frame = float(np.mean(secs[1:] if name == "optimisation" else secs))
        res[name] = {"warp_error": summary["warp_error"], "style_loss": summary["style_loss"],
                     "content_loss": summary["content_loss"], "seconds_per_frame": per_frame}

    res["hybrid"] = hybrid(a, models, inputs[0], style)

    o, ft, fn = res["optimisation"], res["ff_temporal"], res["ff_noTemporal"]
    h = res["hybrid"]
    rows = [
        ("inference speed-up per frame (>= 100x)", f"{o['seconds_per_frame'] / ft['seconds_per_frame']:.0f}x",
         f"{o['seconds_per_frame']:.2f} s vs {ft['seconds_per_frame']:.4f} s"),
        ("warping error: temporal / noTemporal (<= 0.5)", f"{ft['warp_error'] / fn['warp_error']:.2f}",
         f"{ft['warp_error']:.5f} vs {fn['warp_error']:.5f}"),
        ("warping error: temporal / optimisation (<= 2)", f"{ft['warp_error'] / o['warp_error']:.2f}",
         f"optimisation {o['warp_error']:.5f}"),
        ("style loss: content / network (>= 20)", f"{res['content_style_loss'] / ft['style_loss']:.1f}",
         f"network {ft['style_loss']:.3g}, content {res['content_style_loss']:.3g}"),
        ("style loss: network / optimisation", f"{ft['style_loss'] / o['style_loss']:.2f}",
         f"optimisation {o['style_loss']:.3g}"),
        ("report protocol: iterations to its own 5 %", str(h["report_iterations_to_5pct"]),
         f"objective {h['report_objective']:.4g} after 300 from the content, {h['report_seconds']:.1f} s"),
        *[(f"hybrid ({name}): iterations to 5 % (<= 100)", str(h[name]["iterations_to_5pct"]),
           (f"network start {h[name]['start_objective']:.4g}; after 100: {h[name]['objective_at'].get('100')}, "
           f"300: {h[name]['objective_at'].get('300')}")) for name in models],
        *[(f"hybrid ({name}): seconds to 5 % / report's (<= 0.33)", "n/a" if h[name]["seconds_to_5pct"] is None
           else f"{h[name]['seconds_to_5pct'] / h['report_seconds']:.2f}", "") for name in models],
        ("training (temporal)", f"{res['train_temporal']['seconds']:.0f} s",
         (f"{res['train_temporal']['steps_per_second']:.2f} steps/s, {res['train_temporal']['steps']} steps, "
         f"{res['train_temporal']['parameters']} parameters")),
        ("training (noTemporal)", f"{res['train_noTemporal']['seconds']:.0f} s",
         f"{res['train_noTemporal']['steps_per_second']:.2f} steps/s"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"\n{a.video.name}, {a.style.name}, {a.height} px, frames {a.start + 1}-{a.start + a.frames}; trained on "
          f"frames 1-{a.train_frames} at {a.train_size} px, {a.crop or a.train_size}-px crops x {a.steps} steps, "
          f"batch {a.batch}, width {a.width}, blocks {a.blocks}, temporal weight {a.temporal_weight:g}, "
          f"precision {a.precision}, {a.jobs} training job(s)")
    print(f"| {'target':<{w0}} | {'result':<{w1}} | detail |")
    print(f"|{'-' * (w0 + 2)}|{'-' * (w1 + 2)}|--------|")
    for r in rows:
        print(f"| {r[0]:<{w0}} | {r[1]:<{w1}} | {r[2]} |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

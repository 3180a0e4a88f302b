"""Issue 24: ghosts. Are later frames as faithful to their content as a frame optimised from scratch?

For each clip (``bedroom``, ``paragliding`` from the shared data, ``demo``: the built-in panning clip,
or a video path) and each run (a built-in variant name or ``LABEL:key=value,...`` as in
``bench_long_clip.py``), stylises the first ``--frames`` frames at ``--height`` through the
production path (``styleflow.video.job.stylize_video``: frames, DIS flow, masks, sequential
stylisation; ``gatys`` preset, Starry Night), then measures every stylised PNG frame:

* **content loss** with the metrics' fixed backbone (``styleflow.eval.metrics.metric_meter``),
  overall and split by the frame's consistency mask (``styleflow.eval.regions``: *tracked* pixels,
  mask 1, and *disoccluded* ones, mask 0; the mask the pipeline computed for frame k against k−1);
* the same, **relative to the "fresh" reference**: the same frame optimised from scratch with the
  same preset and the first frame's budget (what ``styleflow image`` does at this size), for a sample
  of frames (``--fresh``); reused from ``--work``;
* the same ratios **off the grid** (``styleflow.eval.regions.shifted_region_losses``): both frames
  and their content cropped together at the 8 offsets of ``GRID_SHIFTS`` and averaged, so that the
  fresh frame's fit to the backbone's stride-8 grid it was optimised on (worth 10–30 % of its content
  loss; a moved frame cannot keep it) does not count as faithfulness;
* the **style loss** (fixed backbone) and the **warping error** (Lai et al., flow of the input
  frames) from ``styleflow.eval.metrics.score_clip``; iterations and **seconds** per frame from the
  run's records.

Prints one Markdown table per clip (later frames' means; ratios to fresh over the sampled frames)
and, with ``--per-frame``, every frame; writes ``WORK/CLIP/LABEL.csv`` and ``WORK/summary.json``;
``--figure`` draws crops around the largest low-mask region of the sampled frames, over time
(rows: frames; columns: content, fresh, each run).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_ghosts.py --clips bedroom paragliding demo \
        --height 128 --frames 16 --work /tmp/ghosts flowInit_temporalLoss \
        --figure docs/images/ghosts.jpg

Needs ../shared/data (or $STYLEFLOW_SHARED_DATA) for the real clips and the painting.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
from bench_long_clip import parse_run  # noqa: E402

from styleflow.eval.metrics import clean, metric_meter, read_clip_flows, rows_to_csv, score_clip  # noqa: E402
from styleflow.eval.regions import content_loss_map, region_losses, shifted_region_losses  # noqa: E402
from styleflow.eval.warping import nanmean  # noqa: E402
from styleflow.io.atomic import write_json, write_text  # noqa: E402
from styleflow.io.images import read_image, write_image  # noqa: E402
from styleflow.io.layout import ClipPaths, list_frames  # noqa: E402
from styleflow.motion.consistency import read_mask  # noqa: E402

CLIPS = {"bedroom": "sam2_bedroom.mp4", "paragliding": "cotracker_paragliding-launch.mp4"}
COLUMNS = ("frame", "init", "iterations", "seconds", "mask_mean", "content", "content_tracked",
           "content_disoccluded", "fresh_content", "fresh_tracked", "fresh_disoccluded", "ratio", "ratio_tracked",
           "ratio_disoccluded", "content_shifted", "fresh_shifted", "ratio_shifted", "ratio_shifted_tracked",
           "ratio_shifted_disoccluded", "style_loss", "warp_error")


def clip_video(name: str, work: Path) -> Path:
    """A clip name → its video file (``demo``: made once in ``work``)."""
    if name == "demo":
        from styleflow.data.demo import make_clip

        path = work / "demo" / "chelsea_pan.mp4"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            make_clip(path, frames=24, height=192)
        return path
    if name in CLIPS:
        return benchlib.shared_data() / "videos" / CLIPS[name]
    return Path(name)


def frame_mask(clip: ClipPaths, k: int) -> np.ndarray | None:
    """The consistency mask of frame k against k − 1 in [0, 1] (None: frame 1 or a cut)."""
    p = clip.mask(k, k - 1)
    return read_mask(p).astype(np.float32) / 255.0 if k > 1 and p.is_file() else None


def fresh_frame(k: int, clip: ClipPaths, folder: Path, style: Path, options: dict[str, Any],
                iterations: int | None = None) -> np.ndarray:
    """Frame k optimised from scratch (the content recoloured, the preset's stop rule, the first
    frame's budget: ``iterations``, default the preset's), cached."""
    path = folder / (f"frame_{k:06d}.png" if iterations is None else f"frame_{k:06d}-i{iterations}.png")
    if not path.is_file():
        from styleflow.optim.stylizer import Stylizer
        from styleflow.options.settings import settings_from

        opts = dict(options)
        settings = settings_from(str(opts.pop("preset", "gatys")), opts)
        result = Stylizer(settings, [read_image(style)]).stylize(read_image(clip.frame(k)), iterations=iterations)
        folder.mkdir(parents=True, exist_ok=True)
        write_image(path, result.image)
        write_json(path.with_suffix(".json"), {"iterations": result.iterations, "seconds": result.seconds})
    return read_image(path)


def measure_fresh(fresh: dict[int, np.ndarray], clip: ClipPaths, meter: Any) -> dict[int, tuple[dict, dict]]:
    """Frame k → the fresh reference's region losses on its own grid and off it (the grid-shifted
    crops of ``styleflow.eval.regions.GRID_SHIFTS``), measured once for all runs of a clip; frames
    without a mask (frame 1, after a cut) are left out."""
    out = {}
    for k, image in fresh.items():
        mask = frame_mask(clip, k)
        if mask is not None:
            content = read_image(clip.frame(k))
            out[k] = (region_losses(content_loss_map(meter, image, content), mask),
                      shifted_region_losses(meter, image, content, mask))
    return out


def measure(record: dict[str, Any], clip: ClipPaths, style: np.ndarray, references: dict[int, tuple[dict, dict]],
            meter: Any) -> list[dict[str, Any]]:
    """Per-frame rows (:data:`COLUMNS`) of one run; ``references``: :func:`measure_fresh`'s."""
    run = Path(record["run_dir"])
    outputs = [read_image(p) for p in list_frames(run)]
    inputs = [read_image(clip.frame(k)) for k in range(1, len(outputs) + 1)]
    score_rows, _ = score_clip(outputs, inputs, styles=[style], flows=read_clip_flows(clip.flow, len(outputs)))
    rows = []
    for k, (out, content, srow) in enumerate(zip(outputs, inputs, score_rows), start=1):
        rec = json.loads((run / ".records" / f"frame_{k:06d}.json").read_text())
        mask = frame_mask(clip, k)
        regions = region_losses(content_loss_map(meter, out, content), mask if mask is not None else np.ones(out.shape[:2]))
        row = {"frame": k, "init": rec["init"], "iterations": rec["iterations"], "seconds": rec["seconds"],
               "mask_mean": float(mask.mean()) if mask is not None else None, "content": regions["all"],
               "content_tracked": regions["tracked"], "content_disoccluded": regions["disoccluded"],
               "style_loss": srow["style_loss"], "warp_error": srow["warp_error"]}
        if k in references and mask is not None:
            ref, want = references[k]
            row.update(fresh_content=ref["all"], fresh_tracked=ref["tracked"], fresh_disoccluded=ref["disoccluded"],
                       ratio=regions["all"] / ref["all"], ratio_tracked=regions["tracked"] / ref["tracked"],
                       ratio_disoccluded=regions["disoccluded"] / ref["disoccluded"])
            # the same on the grid-shifted crops (styleflow.eval.regions.GRID_SHIFTS): both frames off
            # the grid the fresh one was optimised on
            got = shifted_region_losses(meter, out, content, mask)
            row.update(content_shifted=got["all"], fresh_shifted=want["all"], ratio_shifted=got["all"] / want["all"],
                       ratio_shifted_tracked=got["tracked"] / want["tracked"],
                       ratio_shifted_disoccluded=got["disoccluded"] / want["disoccluded"])
        rows.append(row)
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Means over the later frames (not frame 1, not frames after a cut)."""
    later = [r for r in rows if r["mask_mean"] is not None]
    return {key: nanmean(r.get(key) for r in later) for key in
            ("ratio", "ratio_tracked", "ratio_disoccluded", "ratio_shifted", "ratio_shifted_tracked",
             "ratio_shifted_disoccluded", "content", "content_disoccluded", "style_loss",
             "warp_error", "seconds", "iterations", "mask_mean")}


def crop_box(mask: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner of the ``side``-px square with the lowest mean of ``mask`` (H, W)."""
    import cv2

    h, w = mask.shape
    side = min(side, h, w)
    mean = cv2.boxFilter(mask.astype(np.float32), -1, (side, side), normalize=True, borderType=cv2.BORDER_REPLICATE)
    half = side // 2
    inner = mean[half: h - (side - half) + 1, half: w - (side - half) + 1]
    y, x = np.unravel_index(int(np.argmin(inner)), inner.shape)
    return int(y), int(x)


def figure(clips: dict[str, dict[str, Any]], out: Path, side: int) -> None:
    """Crops where the reference mask is 0, over time: one row per sampled frame of each clip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(name, k) for name, c in clips.items() for k in sorted(c["fresh"])]
    labels = ["content", "fresh"] + list(next(iter(clips.values()))["runs"])
    fig, axes = plt.subplots(len(rows), len(labels), figsize=(1.6 * len(labels), 1.7 * len(rows)), squeeze=False)
    for i, (name, k) in enumerate(rows):
        c = clips[name]
        mask = frame_mask(c["clip"], k)
        y, x = crop_box(mask if mask is not None else np.ones((2, 2)), side)
        images = [read_image(c["clip"].frame(k)), c["fresh"][k]] + [
            read_image(Path(r["run_dir"]) / f"frame_{k:06d}.png") for r in c["runs"].values()]
        for j, (label, img) in enumerate(zip(labels, images)):
            ax = axes[i, j]
            ax.imshow(img[y: y + side, x: x + side])
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(label, fontsize=7)
            if j == 0:
                ax.set_ylabel(f"{name} {k}\nmask {mask[y:y + side, x:x + side].mean():.2f}" if mask is not None
                              else f"{name} {k}", fontsize=7)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=90, pil_kwargs={"quality": 80} if out.suffix.lower() in (".jpg", ".jpeg") else None)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", default=["flowInit_temporalLoss"], help="variant names or LABEL:key=value,...")
    ap.add_argument("--clips", nargs="+", default=["bedroom"], help="bedroom, paragliding, demo or a video path")
    ap.add_argument("--style", type=Path, default=benchlib.shared_data() / "styles" / benchlib.DEFAULT_STYLE)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--fresh", type=int, nargs="+", default=None,
                    help="frames to optimise from scratch as the reference (default: every 4th from 4)")
    ap.add_argument("--preset", default="gatys")
    ap.add_argument("--budget", type=int, nargs=2, default=None, metavar=("FIRST", "LATER"),
                    help="iterations of the first (and fresh) frames and of later frames (default: the preset's)")
    ap.add_argument("--work", type=Path, required=True, help="work folder (runs and references are reused)")
    ap.add_argument("--figure", type=Path, default=None, help="image of crops around low-mask regions")
    ap.add_argument("--crop", type=int, default=48, help="side of the figure's crops in pixels")
    ap.add_argument("--per-frame", action="store_true", help="print every frame's row")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    if not args.style.is_file():
        print(f"{args.style}: no such style image (shared test material at {benchlib.shared_data()}?)", file=sys.stderr)
        return 2
    sample = args.fresh or list(range(4, args.frames + 1, 4))
    options = {"preset": args.preset}
    style = read_image(args.style)
    meter = metric_meter([style])
    summary: dict[str, Any] = {"height": args.height, "frames": args.frames, "style": args.style.name,
                               "fresh_frames": sample, "machine": benchlib.cpu_model(), "clips": {}}
    shown: dict[str, dict[str, Any]] = {}
    for name in args.clips:
        from styleflow.video.job import stylize_video

        video = clip_video(name, args.work)
        label_dir = args.work / Path(name).stem
        runs: dict[str, dict[str, Any]] = {}
        clip = None
        for spec in args.runs:
            label, variant = parse_run(spec)
            t0 = time.perf_counter()
            record = stylize_video(video, [args.style], label_dir / f"{label}.mp4", height=args.height, variant=variant,
                                   max_frames=args.frames, work_dir=label_dir / "work", options=options,
                                   first_iterations=args.budget[0] if args.budget else None,
                                   iterations=args.budget[1] if args.budget else None,
                                   progress=not args.no_progress, audio=False)
            prep = Path(record["run_dir"]).parents[1]
            clip = ClipPaths(prep / "frames", prep / "flow-dis", prep / "masks-dis")
            runs[label] = record
            print(f"{name} {label}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        assert clip is not None
        first_budget = args.budget[0] if args.budget else None
        fresh = {k: fresh_frame(k, clip, label_dir / "fresh", args.style, options, first_budget)
                 for k in sample if k <= args.frames}
        references = measure_fresh(fresh, clip, meter)
        results = {}
        print(f"\n{name}: {args.frames} frames at {args.height} px, {args.style.stem}; fresh reference at frames "
              f"{sorted(fresh)}; content loss (fixed VGG16, relu4_2) of later frames / fresh")
        print("| run | content / fresh | tracked / fresh | disoccluded / fresh | off-grid: content / fresh | tracked | "
              "disoccluded | style loss | warping error | iterations | s / later frame |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for label, record in runs.items():
            rows = measure(record, clip, style, references, meter)
            write_text(label_dir / f"{label}.csv", rows_to_csv(rows, COLUMNS))
            s = summarise(rows)
            results[label] = {"summary": s, "rows": rows}
            print(f"| {label} | {s['ratio']:.3f} | {s['ratio_tracked']:.3f} | {s['ratio_disoccluded']:.3f} | "
                  f"{s['ratio_shifted']:.3f} | {s['ratio_shifted_tracked']:.3f} | {s['ratio_shifted_disoccluded']:.3f} | "
                  f"{s['style_loss']:.3e} | {s['warp_error']:.5f} | {s['iterations']:.1f} | {s['seconds']:.2f} |")
            if args.per_frame:
                for r in rows:
                    print("   " + " ".join(f"{c}={_fmt(r.get(c))}" for c in COLUMNS))
        summary["clips"][name] = {label: r["summary"] for label, r in results.items()}
        shown[name] = {"clip": clip, "fresh": fresh, "runs": runs}
    write_json(args.work / "summary.json", clean(summary))
    if args.figure:
        figure(shown, args.figure, args.crop)
        print(f"wrote {args.figure}", file=sys.stderr)
    return 0


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


if __name__ == "__main__":
    sys.exit(main())

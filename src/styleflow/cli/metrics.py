"""``styleflow metrics``: warping error and fixed-backbone losses of any stylised clip.

    styleflow metrics STYLISED INPUT [--style S ...] [--flow dis] [-o metrics.csv] [--json summary.json]

STYLISED and INPUT are each a video file or a folder of frames; the input clip is resized to the
stylised clip's size and its optical flow computed there, so outputs made by other tools are
scored exactly as the pipeline scores its own runs (docs/metrics.md).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from styleflow.errors import StyleflowError
from styleflow.eval.metrics import clean, long_term_column, metric_columns, read_clip, rows_to_csv, score_clip
from styleflow.io.atomic import write_json, write_text
from styleflow.io.images import read_image
from styleflow.motion.estimate import FLOW_METHODS
from styleflow.options.flags import cli_number


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "metrics", help="warping error and losses of a stylised clip",
        description="Score a stylised clip against the clip it was made from: the temporal warping "
                    "error of Lai et al. (2018) with the input's optical flow, and content/style "
                    "losses measured with one fixed backbone (offline ImageNet VGG16, Gatys' layers).",
    )
    p.add_argument("stylised", metavar="STYLISED", help="the stylised clip: a video file or a folder of frames")
    p.add_argument("input", metavar="INPUT", help="the input (content) clip it was made from: video or folder")
    p.add_argument("--style", nargs="+", default=[], metavar="IMAGE",
                   help="style image(s) for the style loss (without: no style loss)")
    p.add_argument("--style-weights", type=cli_number("float", 0), nargs="+", metavar="W", help="blend weights of several styles")
    p.add_argument("--flow", default="dis", metavar="{" + ",".join(FLOW_METHODS) + "}",
                   help="optical flow method for the input clip (default dis)")
    p.add_argument("--max-frames", type=cli_number("int", 1), metavar="N", help="score only the first N frames of both clips")
    p.add_argument("--long-offsets", type=cli_number("int", 1), nargs="*", default=[10], metavar="K",
                   help="long-term warping error between frames t and t+K, flow computed directly (default 10; "
                        "none: give the option without values)")
    p.add_argument("--no-losses", action="store_true", help="warping error only (no backbone)")
    p.add_argument("-o", "--output", metavar="CSV", help="write the per-frame metrics here")
    p.add_argument("--json", metavar="PATH", help="write the clip summary here")
    p.add_argument("--device", default="cpu", help="torch device for the losses (default cpu)")
    return p


def run(args: argparse.Namespace) -> int:

    if any(k < 2 for k in args.long_offsets):
        raise StyleflowError(f"--long-offsets {args.long_offsets}: expected frame distances of at least 2")
    if args.max_frames is not None and args.max_frames < 1:
        raise StyleflowError(f"--max-frames {args.max_frames}: expected at least 1")
    for out in (args.output, args.json):
        if out and Path(out).is_dir():
            raise StyleflowError(f"{out}: is a folder; give a file name")
    outputs = read_clip(args.stylised, args.max_frames)
    inputs = read_clip(args.input, args.max_frames)
    if len(inputs) != len(outputs):
        n = min(len(inputs), len(outputs))
        print(f"styleflow metrics: note: {len(outputs)} stylised and {len(inputs)} input frames; "
              f"scoring the first {n}", file=sys.stderr)
        outputs, inputs = outputs[:n], inputs[:n]
    if len(outputs) < 2:
        raise StyleflowError("the clips need at least 2 frames for a warping error")
    styles = [read_image(s) for s in args.style]
    rows, summary = score_clip(
        outputs, inputs, styles=styles, style_weights=args.style_weights, flow_method=args.flow,
        losses=not args.no_losses, device=args.device, long_offsets=sorted(set(args.long_offsets)),
    )
    summary = clean({"stylised": str(args.stylised), "input": str(args.input), "flow_method": args.flow, **summary})
    if args.output:
        write_text(args.output, rows_to_csv(rows, metric_columns(sorted(set(args.long_offsets)))))
    if args.json:
        write_json(args.json, summary)

    def f(v: float) -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"

    print(f"frames {summary['frames']} ({summary['width']}x{summary['height']}), flow {args.flow}")
    print(f"warping error {f(summary['warp_error'])} (mean of {summary['warp_pairs']} pairs, "
          f"{100 * (summary['warp_mask'] or 0):.0f}% of pixels reliable); Lai et al.'s mask: "
          f"{f(summary['warp_error_lai'])}")
    for k in sorted(set(args.long_offsets)):
        print(f"warping error t -> t+{k}: {f(summary[long_term_column(k)])}"
              + ("" if summary["frames"] > k else f" (the clip has {summary['frames']} frames)"))
    print(f"static-region drift dE {f(summary.get('drift_de'))} (input's own {f(summary.get('drift_de_input'))}, "
          f"{100 * (summary.get('static_fraction') or 0):.0f}% of pixels static)")
    if not args.no_losses:
        lb = summary["loss_backbone"]
        print(f"content loss  {f(summary['content_loss'])}")
        print(f"style loss    {f(summary['style_loss'])}" + ("" if styles else " (no --style given)"))
        print(f"losses measured with {lb['backbone']} ({lb['weights_source']})")
    if not args.output and not args.json:
        print(json.dumps({k: summary[k] for k in ("warp_error", "content_loss", "style_loss")}))
    return 0

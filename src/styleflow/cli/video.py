"""``styleflow video``: one clip through the whole chain (frames, flow, masks, stylisation, mp4)."""

from __future__ import annotations

import argparse
import sys

from styleflow.cli.image import add_style_options, settings_overrides
from styleflow.io.flo import FLOW_SUFFIXES
from styleflow.io.images import check_size
from styleflow.motion.estimate import FLOW_METHODS
from styleflow.video.job import stylize_video
from styleflow.options.variants import DEFAULT_VARIANT, VARIANTS


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "video", help="stylise one video (frames, flow, masks, stylisation, mp4)",
        description="Stylise VIDEO with STYLE frame by frame (Ruder et al.). Intermediate stages go to a "
                    "work folder (default OUT.work/) and are reused on a second call; an interrupted run "
                    "resumes at the frame it stopped at.",
    )
    p.add_argument("video", metavar="VIDEO", help="input video (mp4, avi, mov, webm ...)")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more paintings")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="stylised video (H.264)")
    p.add_argument("--height", type=int, default=192, metavar="R", help="frame height in pixels (default 192)")
    p.add_argument("--variant", default=DEFAULT_VARIANT, metavar="NAME",
                   help=f"one of {', '.join(VARIANTS)} (default {DEFAULT_VARIANT})")
    p.add_argument("--max-frames", type=int, metavar="N", help="only the first N frames")
    p.add_argument("--start", type=int, default=0, help="first source frame (0-based)")
    p.add_argument("--step", type=int, default=1, help="keep every STEP-th frame")
    p.add_argument("--first-iterations", type=int, metavar="N", help="budget of the first frame")
    p.add_argument("--iterations", type=int, metavar="N", help="budget of later frames")
    p.add_argument("--flow", default="dis", choices=FLOW_METHODS, help="optical flow method (default dis)")
    p.add_argument("--flow-format", default="flo", choices=list(FLOW_SUFFIXES),
                   help="how flows are stored: flo (Middlebury float32, exact; default) or png (KITTI 16-bit "
                        "PNG: 1/64 px, about 9x smaller; docs/real-footage.md)")
    p.add_argument("--drop-flow", action="store_true",
                   help="delete the flow files once the video is written (a rerun of a finished clip needs none)")
    p.add_argument("--work", metavar="DIR", help="work folder (default: OUT.work beside the output)")
    p.add_argument("--no-audio", action="store_true",
                   help="leave the source's sound out (default: kept over the stylised span, in sync)")
    p.add_argument("--model", metavar="M.pt", help="stylise every frame in one pass with a network from `styleflow "
                                                   "train` (STYLE must be the style it was trained on)")
    add_style_options(p, "video")
    return p


def run(args: argparse.Namespace) -> int:
    check_size(args.height, "--height")
    options = {"preset": args.preset, **{k: v for k, v in settings_overrides(args, "video").items() if v is not None}}
    seed = options.pop("seed", 0)
    record = stylize_video(
        args.video, args.styles, args.output, height=args.height, variant=args.variant,
        style_weights=args.style_weights, start=args.start, step=args.step, max_frames=args.max_frames,
        first_iterations=args.first_iterations, iterations=args.iterations, flow_method=args.flow,
        options=options, device=args.device, seed=seed, work_dir=args.work, progress=not args.no_progress,
        audio=not args.no_audio, model=args.model, flow_format=args.flow_format, keep_flow=not args.drop_flow,
    )
    print(f"wrote {args.output}: {record['frames']} frames, {record['total_iterations']} iterations, "
          f"{record['seconds_stylising']:.0f} s stylising ({record['backbone']}, {record['weights_source']}), "
          f"{record['duration']:.2f} s, {record['audio'] or 'no sound'}",
          file=sys.stderr)
    return 0

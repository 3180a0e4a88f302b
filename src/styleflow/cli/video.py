"""``styleflow video``: one clip through the whole chain (frames, flow, masks, stylisation, mp4)."""

from __future__ import annotations

import argparse
import sys

from typing import Any

from styleflow.cli.image import add_style_options, settings_overrides
from styleflow.io.flo import FLOW_SUFFIXES
from styleflow.io.images import check_size
from styleflow.motion.estimate import FLOW_METHODS
from styleflow.options.flags import add_flags, cli_number, flag_values
from styleflow.options.variants import DEFAULT_VARIANT, VARIANTS, resolve_variant
from styleflow.video.job import stylize_video


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
    p.add_argument("--height", type=int, default=192, metavar="R",
                   help="frame height in pixels (default 192)")
    p.add_argument("--variant", default=DEFAULT_VARIANT, metavar="NAME",
                   help=f"the built-in variant the variant flags below start from: one of {', '.join(VARIANTS)} "
                        f"(default {DEFAULT_VARIANT})")
    p.add_argument("--max-frames", type=cli_number("int", 1), metavar="N", help="only the first N frames")
    p.add_argument("--start", type=cli_number("int", 0), default=0, help="first source frame (0-based)")
    p.add_argument("--step", type=cli_number("int", 1), default=1, help="keep every STEP-th frame")
    p.add_argument("--flow", default="dis", choices=FLOW_METHODS, help="optical flow method (default dis)")
    p.add_argument("--flow-format", default="flo", choices=list(FLOW_SUFFIXES),
                   help="how flows are stored: flo (Middlebury float32, exact; default) or png (KITTI 16-bit "
                        "PNG: 1/64 px, about 9x smaller; docs/real-footage.md)")
    p.add_argument("--drop-flow", action="store_true",
                   help="delete the flow files once the video is written (a rerun of a finished clip needs none)")
    p.add_argument("--work", metavar="DIR", help="work folder (default: OUT.work beside the output)")
    p.add_argument("--no-audio", action="store_true",
                   help="leave the source's sound out (default: kept over the stylised span, in sync)")
    add_style_options(p, "video")
    g = p.add_argument_group("variant", "how frames are started and tied together (the registry's video options); "
                                        "each flag overrides the value of --variant")
    add_flags(g, "video", scope="video")
    return p


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """What the command line asks of the stylisation, as :func:`stylize_video` takes it:
    ``{"options": {preset, image options given}, "seed", "variant", "model"}``.

    ``variant`` is ``--variant``, or ``{"base": --variant, **the variant flags given}`` when any is
    given. ``--model`` is a variant field when the variant starts frames from it (``init`` or
    ``first_init`` ``model``); otherwise ``model`` is that file and every frame is one pass of it.
    """
    resolve_variant(args.variant)  # a built-in name (one line naming the closest otherwise)
    options = {"preset": args.preset, **{k: v for k, v in settings_overrides(args, "video").items() if v is not None}}
    seed = options.pop("seed", 0)
    given = {k: v for k, v in flag_values(args, "video", scope="video").items() if v is not None}
    model = given.pop("model", None)
    if model is not None:
        _, video, _ = resolve_variant({"base": args.variant, **given, "model": model})
        if "model" in (video.init, video.first_init):
            given["model"], model = model, None
    variant: str | dict[str, Any] = {"base": args.variant, **given} if given else args.variant
    return {"options": options, "seed": seed, "variant": variant, "model": model}


def run(args: argparse.Namespace) -> int:
    check_size(args.height, "--height")
    wanted = settings_of(args)
    record = stylize_video(
        args.video, args.styles, args.output, height=args.height, variant=wanted["variant"],
        style_weights=args.style_weights, start=args.start, step=args.step, max_frames=args.max_frames,
        flow_method=args.flow, options=wanted["options"], device=args.device, seed=wanted["seed"],
        work_dir=args.work, progress=not args.no_progress, audio=not args.no_audio, model=wanted["model"],
        flow_format=args.flow_format, keep_flow=not args.drop_flow,
    )
    print(f"wrote {args.output}: {record['frames']} frames, {record['total_iterations']} iterations, "
          f"{record['seconds_stylising']:.0f} s stylising ({record['backbone']}, {record['weights_source']}), "
          f"{record['duration']:.2f} s, {record['audio'] or 'no sound'}",
          file=sys.stderr)
    return 0

"""``styleflow encode``: frames → H.264 (yuv420p, BT.709) mp4 that browsers play, timed like the
source clip and with its sound."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from styleflow.errors import StyleflowError
from styleflow.io.encode import encode_video
from styleflow.io.frames import META_NAME
from styleflow.options.flags import cli_number


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "encode", help="encode a folder of frames as an H.264 mp4 (source timing and sound)",
        description="Encode DIR/frame_000001.png ... (time order) as an H.264, yuv420p, BT.709 mp4. With the "
                    f"clip's {META_NAME} (DIR's own, or --meta) every frame shows at its time in the source and "
                    "the source's sound over that span comes along (copied when mp4 holds its codec, else AAC).",
    )
    p.add_argument("frames", metavar="DIR", help="folder of frame_NNNNNN.png")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4")
    p.add_argument("--meta", metavar="CLIP",
                   help=f"the clip's {META_NAME}, or the frames folder holding it, to take the frame times and "
                        f"sound from (default: DIR/{META_NAME}); e.g. the content frames of stylised frames")
    p.add_argument("--fps", type=cli_number("float", 0, exclusive_minimum=True),
                   help=f"a constant frame rate instead of the clip's times (then without sound; default: from {META_NAME})")
    p.add_argument("--no-audio", action="store_true", help="leave the source's sound out")
    p.add_argument("--crf", type=cli_number("int", 0, 51), default=18, help="x264 quality, 0 (lossless) .. 51 (default 18)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    meta = args.meta
    if meta is None and args.fps is None:
        if not (Path(args.frames) / META_NAME).is_file():
            raise StyleflowError(f"{args.frames}: no {META_NAME} to take the frame times from; give --fps F or --meta CLIP")
        meta = args.frames
    if args.fps is not None and meta is not None:
        raise StyleflowError("--fps and --meta: give one (--meta times the frames like the source, --fps at a constant rate)")
    summary = encode_video(args.frames, args.output, args.fps, meta=meta, audio=not args.no_audio,
                           progress=not args.no_progress, crf=args.crf)
    sound = summary["audio"] or "no sound"
    print(f"→ {args.output} ({summary['frames']} frames, {summary['duration']:.3f} s, {summary['fps']:.4g} fps, "
          f"{sound})", file=sys.stderr)
    return 0

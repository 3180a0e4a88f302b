"""``styleflow encode``: frames → H.264 (yuv420p) mp4 that browsers play."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from styleflow.errors import StyleflowError
from styleflow.io.encode import encode_video
from styleflow.io.frames import META_NAME, read_meta


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "encode", help="encode a folder of frames as an H.264 mp4",
        description="Encode DIR/frame_000001.png ... (time order) as an H.264, yuv420p mp4.",
    )
    p.add_argument("frames", metavar="DIR", help="folder of frame_NNNNNN.png")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4")
    p.add_argument("--fps", type=float, help=f"frames per second (default: DIR/{META_NAME}'s fps)")
    p.add_argument("--crf", type=int, default=18, help="x264 quality, 0 (lossless) .. 51 (default 18)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    fps = args.fps
    if fps is None:
        if not (Path(args.frames) / META_NAME).is_file():
            raise StyleflowError(f"{args.frames}: no {META_NAME} to take the frame rate from; give --fps")
        fps = float(read_meta(args.frames)["fps"])
    if not 0 <= args.crf <= 51:
        raise StyleflowError(f"--crf {args.crf}: expected 0 .. 51")
    encode_video(args.frames, args.output, fps, progress=not args.no_progress, crf=args.crf)
    print(f"→ {args.output} ({fps:g} fps)", file=sys.stderr)
    return 0

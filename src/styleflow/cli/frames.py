"""``styleflow frames``: extract a video's frames at a target height (plus meta.json)."""

from __future__ import annotations

import argparse
import sys

from styleflow.io.frames import extract_frames
from styleflow.options.flags import cli_number


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "frames", help="extract a video's frames at a target height",
        description="Write VIDEO's frames as DIR/frame_000001.png ... (name order is time order) at "
                    "height R (width keeps the aspect ratio, both even), upright and in the source's "
                    "colours, plus DIR/meta.json with each frame's presentation time, fps, source size, "
                    "audio and colour description. Pictures are read by their timestamps (variable frame "
                    "rate kept); a picture that repeats the previous one is not extracted again. DIR is "
                    "replaced only when extraction succeeds.",
    )
    p.add_argument("video", metavar="VIDEO", help="input video (mp4, avi, mov, webm ...)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--height", required=True, type=int, metavar="R", help="frame height in pixels")
    p.add_argument("--start", type=cli_number("int", 0), default=0,
                   help="first source picture to keep (0-based, repeats not counted; default 0)")
    p.add_argument("--step", type=cli_number("int", 1), default=1, help="keep every STEP-th picture (default 1)")
    p.add_argument("--max-frames", type=cli_number("int", 1), default=None, help="keep at most this many frames")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    meta = extract_frames(args.video, args.output, args.height, start=args.start, step=args.step,
                          max_frames=args.max_frames, progress=not args.no_progress)
    span = f"{meta['source_start']:.2f}–{meta['end_time']:.2f} s"
    rate = f"{'variable, mean ' if meta['vfr'] else ''}{meta['fps']:g} fps"
    repeats = f", {meta['repeats_dropped']} repeated frames skipped" if meta["repeats_dropped"] else ""
    print(f"{meta['frame_count']} frames {meta['width']}x{meta['height']}, {span} ({rate}{repeats}) → {args.output}",
          file=sys.stderr)
    return 0

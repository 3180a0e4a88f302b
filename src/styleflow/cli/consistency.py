"""``styleflow consistency``: the reference forward–backward consistency mask (.pgm)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from styleflow.errors import StyleflowError
from styleflow.io.flo import read_flow
from styleflow.motion.consistency import consistency_mask, reliable_fraction, write_pgm


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "consistency", help="reliability mask from a backward and a forward flow (.pgm)",
        description="The reference consistency checker (Ruder et al.): the mask lives on the backward "
                    "flow's grid. For the mask of frame j against frame i give --backward j→i and "
                    "--forward i→j. Output: 8-bit PGM, 0 unreliable .. 255 reliable.",
    )
    p.add_argument("--backward", required=True, metavar="B.flo",
                   help="flow j → i (on frame j's grid; .flo, or .png in the KITTI encoding)")
    p.add_argument("--forward", required=True, metavar="F.flo", help="flow i → j (on frame i's grid)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.pgm")
    p.add_argument("--no-smooth", action="store_true", help="skip the Gaussian smoothing (values 0 or 255)")
    return p


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix.lower() != ".pgm":
        raise StyleflowError(f"{out}: the output must be a .pgm file")
    backward = read_flow(args.backward)
    forward = read_flow(args.forward)
    if backward.shape != forward.shape:
        raise StyleflowError(
            f"{args.forward}: is {forward.shape[1]}x{forward.shape[0]} but {args.backward} is "
            f"{backward.shape[1]}x{backward.shape[0]}; both flows must come from the same pair of frames"
        )
    mask = consistency_mask(backward, forward, smooth=not args.no_smooth)
    write_pgm(out, mask)
    print(f"{reliable_fraction(mask):.1%} reliable → {out}", file=sys.stderr)
    return 0

"""``styleflow flow``: optical flow from one frame to another, as a Middlebury .flo file (or the
compact KITTI 16-bit PNG, by the output's suffix)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from styleflow.errors import StyleflowError
from styleflow.io.flo import flow_format, write_flow
from styleflow.io.images import read_image, write_image
from styleflow.motion.estimate import FLOW_METHODS, compute_flow
from styleflow.viz.flowviz import flow_to_color


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["finest_scale=0", "preset=fast"]`` → ``{"finest_scale": 0, "preset": "fast"}`` (no eval)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise StyleflowError(f"--param {item!r}: expected KEY=VALUE, e.g. --param finest_scale=0")
        value: Any = raw.strip()
        low = value.lower()
        if low in ("true", "false"):
            value = low == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(value)
                    break
                except ValueError:
                    pass
        out[key.strip()] = value
    return out


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "flow", help="optical flow from FRAME_A to FRAME_B (.flo or .png)",
        description="Compute the flow from FRAME_A to FRAME_B on FRAME_A's grid "
                    "(A(x) ≈ B(x + f(x))) and write it as a Middlebury .flo file (exact), or as a KITTI "
                    "16-bit PNG (OUT.png: 1/64 px, up to 512 px, about 9x smaller on real footage).",
    )
    p.add_argument("frame_a", metavar="FRAME_A")
    p.add_argument("frame_b", metavar="FRAME_B")
    p.add_argument("-o", "--output", required=True, metavar="OUT.flo|OUT.png")
    p.add_argument("--method", default="dis", metavar="{" + "|".join(FLOW_METHODS) + "}",
                   help="flow method (default dis)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="method setting, repeatable: e.g. preset=fast, finest_scale=0, weights=raft.pth")
    p.add_argument("--viz", metavar="OUT.png", help="also write a colour-wheel picture of the flow")
    return p


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    flow_format(out)  # a .flo or .png name, else a one-line error
    if args.method not in FLOW_METHODS:
        raise StyleflowError(f"--method {args.method!r}: unknown; choose one of {', '.join(FLOW_METHODS)}")
    params = parse_params(args.param)
    a = read_image(args.frame_a)
    b = read_image(args.frame_b)
    if a.shape != b.shape:
        raise StyleflowError(
            f"{args.frame_b}: is {b.shape[1]}x{b.shape[0]} but {args.frame_a} is {a.shape[1]}x{a.shape[0]}; "
            "the frames must have the same size"
        )
    flow = compute_flow(a, b, args.method, **params)
    write_flow(out, flow)
    if args.viz:

        write_image(args.viz, flow_to_color(flow).astype("float32") / 255.0)
    print(f"flow {a.shape[1]}x{a.shape[0]} ({args.method}) → {out}", file=sys.stderr)
    return 0

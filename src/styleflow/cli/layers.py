"""``styleflow layers``: what each VGG layer holds (the source report's figure 2)."""

from __future__ import annotations

import argparse

from styleflow.options.presets import DEFAULT_PRESET
from styleflow.options.flags import add_flags, cli_number
from styleflow.options.settings import settings_from
from styleflow.progress import IterationBar
from styleflow.viz.layer_figure import LAYERS, layer_figure_file

#: The stylisation options the figure takes (its losses and layers are fixed by the figure itself).
LAYER_OPTIONS = ("optimizer", "backbone", "weights")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "layers",
        help="figure: images made from noise by one layer's style or content loss",
        description="For each layer, optimise an image from noise with only that layer's style loss "
        "(top row) and one with only that layer's content loss (bottom row); write them as one "
        "labelled PNG figure, and FIG.json with every panel's losses before and after.",
    )
    p.add_argument("content", metavar="CONTENT", help="the photograph")
    p.add_argument("style", metavar="STYLE", help="the painting")
    p.add_argument("-o", "--output", required=True, metavar="FIG.png", help="the figure (PNG)")
    p.add_argument("--size", type=int, default=128, metavar="H", help="height of each image in pixels (default 128)")
    p.add_argument("--iterations", type=cli_number("int", 0), default=200, metavar="N", help="iterations per image (default 200)")
    p.add_argument("--layers", nargs="+", default=list(LAYERS), metavar="LAYER",
                   help=f"layers, one column each (default {' '.join(LAYERS)})")
    p.add_argument("--seed", type=cli_number("int", 0), default=0, help="seed of the starting noise (default 0)")
    add_flags(p, "layers", only=LAYER_OPTIONS)  # from the option registry
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when present)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def run(args: argparse.Namespace) -> int:
    base = settings_from(DEFAULT_PRESET, {name: getattr(args, name) for name in LAYER_OPTIONS})
    bars: dict[str, IterationBar] = {}

    def progress(objective: str, event: dict) -> None:
        if objective not in bars:
            for bar in bars.values():
                bar.close()
            bars[objective] = IterationBar(desc=objective, enabled=not args.no_progress)
        bars[objective](event)

    try:
        record = layer_figure_file(
            args.content, args.style, args.output, size=args.size, iterations=args.iterations,
            layers=args.layers, base=base, seed=args.seed, device=args.device, callback=progress,
        )
    finally:
        for bar in bars.values():
            bar.close()
    fell = sum(p["objective_after"] < p["objective_before"] for p in record["panels"])
    print(f"wrote {args.output} ({len(record['panels'])} images, {args.iterations} iterations each, "
          f"{record['seconds_total']:.1f} s; {fell}/{len(record['panels'])} lowered their loss; "
          f"{record['backbone']} weights from {record['weights_source']})")
    return 0

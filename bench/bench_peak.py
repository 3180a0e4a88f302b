"""Peak memory of one large frame, each case in a fresh process (issue 26, item 2).

    OMP_NUM_THREADS=1 python bench/bench_peak.py network --height 1080
    OMP_NUM_THREADS=1 python bench/bench_peak.py lbfgs --height 1080 --iterations 3
    OMP_NUM_THREADS=1 python bench/bench_peak.py flow --height 1080

``network``: a full-width network (``--width 32 --blocks 5``, untrained: memory does not depend on
the weights) applied to one frame through :func:`styleflow.ff.infer.stylize_image` (tiles when the
frame's activations exceed the budget, :mod:`styleflow.ff.tiles`); ``--whole`` forces one pass.
``flow``: DIS flow of the first two frames, forward and backward, and the consistency mask (the
flow and mask stages' work per pair).
``lbfgs``: ``--iterations`` L-BFGS iterations of the default preset on one frame, float32, from
the content (no coarse-to-fine), with the trimmed history (:mod:`styleflow.optim.lbfgs_history`).
The frame is the shared bedroom clip's first frame (else the demo clip's) scaled to ``--height``.
Prints seconds and the process's peak RSS (``VmHWM``) as one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import resolve_inputs, status_kib  # noqa: E402

from styleflow.io.images import read_image, resize_to_height  # noqa: E402


def first_frames(height: int) -> tuple[list[np.ndarray], np.ndarray, int]:
    """The clip's first two frames at ``height`` (H, W, 3), the style image, the source height."""
    from styleflow.io.frames import extract_frames

    work = Path(tempfile.mkdtemp(prefix="styleflow-peak-"))
    video, style, _ = resolve_inputs(None, None, 2, 540, work)
    meta = extract_frames(video, work / "frames", 540, max_frames=2, progress=False)
    frames = [resize_to_height(read_image(p), height, even=True) for p in sorted((work / "frames").glob("frame_*.png"))]
    return frames, read_image(style), meta["source_height"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_peak", description=__doc__.split("\n\n")[0])
    p.add_argument("case", choices=["network", "lbfgs", "flow"])
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--whole", action="store_true", help="network: no tiles")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    (frame, second), style, source_h = first_frames(a.height)
    before = status_kib("VmRSS")
    t = time.perf_counter()
    extra: dict = {}
    if a.case == "network":
        from styleflow.ff.infer import stylize_image
        from styleflow.ff.model import Model
        from styleflow.ff.net import NetConfig, TransformNet

        net = TransformNet(NetConfig(32, 5)).eval()
        if a.whole:
            import styleflow.ff.tiles as tiles

            tiles.CPU_BUDGET = 1 << 62
        out = stylize_image(Model(net=net, record={}, path=Path("untrained")), frame, "cpu")  # type: ignore[call-arg]
        from styleflow.ff.tiles import needs_tiles

        extra["tiled"] = needs_tiles(net, frame.shape[0], frame.shape[1], torch.device("cpu"))
    elif a.case == "flow":
        from styleflow.motion.consistency import consistency_mask
        from styleflow.motion.estimate import compute_flow

        forward, backward = compute_flow(frame, second), compute_flow(second, frame)  # DIS, both ways
        out = consistency_mask(backward, forward)
    else:
        from styleflow.optim.lbfgs_history import history_size
        from styleflow.optim.stylizer import Stylizer
        from styleflow.options.settings import settings_from

        settings = settings_from("gatys", {"precision": "float32", "coarse_to_fine": 1, "tol": 0.0})
        res = Stylizer(settings, [style], device="cpu").stylize(frame, iterations=a.iterations)
        out = res.image
        extra.update(iterations=res.iterations, history=history_size(frame.size))
    seconds = time.perf_counter() - t
    print(json.dumps({"case": a.case, "size": f"{frame.shape[1]}x{frame.shape[0]}", "source_height": source_h,
                      "seconds": round(seconds, 1), "rss_before_mib": round((before or 0) / 1024),
                      "peak_rss_mib": round((status_kib("VmHWM") or 0) / 1024), "finite": bool((out == out).all()),
                      **extra}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

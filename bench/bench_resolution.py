"""Stylisation at the size footage is shot: 256, 512, 720 and 1080 px high (issue 26, item 1).

    python bench/bench_resolution.py                               # real clip if ../shared/data is there
    python bench/bench_resolution.py --heights 256 512 --frames 2 --iterations 8 --first-iterations 16
    python bench/bench_resolution.py --heights 720 1080 --model net.pt --device cuda --json res.json

For each height the first ``--frames`` frames of one clip (the team's bedroom clip with
``../shared/data``, else the built-in demo clip) are stylised twice, each through the production
code path:

* **optimisation** — :func:`styleflow.video.sequence.stylize_clip` with the default variant (or
  ``--variant``) and the default options (``coarse_to_fine: auto``: the first frame coarse-to-fine
  above 384 px), the preset's budgets unless ``--first-iterations`` / ``--iterations`` say;
* **direct** (``--direct``) — the same at full size only (``coarse_to_fine: 1``, the default
  before ``auto``);
* **multiscale** (``--multiscale``) — the same with coarse-to-fine (``auto``'s levels, at least 2)
  for every frame, later frames too (their warped start and temporal term at each level);
* **network** — a trained feed-forward network (``--model``; without one, a small network is trained
  on the clip first, ``--train-steps`` at ``--train-size`` px) applied to every frame
  (:func:`styleflow.ff.infer.stylize_image`) at each input scale of ``--model-scales`` (default
  ``auto``; a row ``network@S`` per other scale S).

Per height and path it prints: seconds for the first frame and per later frame, L-BFGS iterations
(first / later mean), the path's process CPU seconds per wall second (2 on two idle cores with
``--threads 2``; less on a loaded machine, whose wall seconds then overstate an idle machine's),
peak RSS and peak CUDA memory (:class:`benchlib.PeakMemory`), and the content
and style losses of the written frames measured with the metrics' fixed backbone
(:func:`styleflow.eval.metrics.metric_meter`, VGG16) after scaling output and content frames to one
**analysis height** (``--analysis-height``, default 256), so losses at different sizes compare:
a 1080p frame whose strokes are a thumbnail's shows as a larger style loss there. ``--crops DIR``
also writes, per height, the centre 512-px crop of the last frame at full size: the content, then
each path, side by side (``crop-h{H}.png``).

A source clip smaller than a height is enlarged (bicubic; recorded as ``upscaled``). Uses the public
``styleflow`` API only. ``bench/device/run.sh`` runs it on a GPU at 720 and 1080 px.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import PeakMemory, cores, cpu_model, fmt, prepare_clip, resolve_inputs, run_and_print, table  # noqa: E402

from styleflow.errors import StyleflowError  # noqa: E402
from styleflow.io.frames import read_meta  # noqa: E402
from styleflow.io.images import read_image, resize_to_height, write_image  # noqa: E402
from styleflow.io.layout import list_frames  # noqa: E402
from styleflow.video.variants import DEFAULT_VARIANT  # noqa: E402


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "frames.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _split(values: list[float]) -> tuple[float | None, float | None]:
    """(first, mean of the later ones)."""
    if not values:
        return None, None
    return values[0], (statistics.fmean(values[1:]) if len(values) > 1 else None)


def measure(outputs: list[Path], contents: list[Path], meter: Any, height: int) -> dict[str, float]:
    """Mean content and style loss (metrics' fixed backbone) of ``outputs`` against ``contents``,
    both scaled to ``height`` pixels."""
    content, style = [], []
    for o, c in zip(outputs, contents):
        lc, ls = meter(resize_to_height(read_image(o), height), resize_to_height(read_image(c), height))
        content.append(lc)
        style.append(ls)
    return {"content_loss": statistics.fmean(content), "style_loss": statistics.fmean(style)}


def multiscale(height: int) -> dict[str, Any]:
    """The multi-scale path's settings on top of the variant at ``height`` px: coarse-to-fine with
    ``auto``'s levels (at least 2) for every frame, later frames too (their warped start and
    temporal term at each level)."""
    from styleflow.optim.pyramid import auto_levels

    return {"coarse_to_fine": max(2, auto_levels(height)), "coarse_to_fine_later": True}


#: The direct path's settings: full size only (the default before ``coarse_to_fine: auto``).
DIRECT = {"coarse_to_fine": 1}


def optimise(a: argparse.Namespace, clip: Any, style: Path, out: Path, device: torch.device,
             extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The optimisation path at one height (``extra``: settings on top, e.g. :func:`multiscale`;
    image options go to ``options``, variant fields to the variant): timings, iterations, peak memory."""
    from styleflow.options.registry import options as scope_options
    from styleflow.video.sequence import stylize_clip

    variant: Any = a.variant
    image_names = {o.name for o in scope_options("image")} - {"iterations"}
    extra = {**({"coarse_iterations": a.coarse_iterations} if a.coarse_iterations else {}), **(extra or {})}
    image_extra = {k: v for k, v in extra.items() if k in image_names}
    video_extra = {k: v for k, v in (extra or {}).items() if k not in image_names}
    budgets = {k: v for k, v in (("first_iterations", a.first_iterations), ("iterations", a.iterations)) if v}
    if budgets or video_extra:
        variant = {"base": a.variant, **budgets, **video_extra}
    options = {"preset": a.preset, "weights": a.weights, "backbone": a.backbone, **image_extra}
    with PeakMemory(device) as mem:
        t, cpu = time.perf_counter(), time.process_time()
        stylize_clip(clip, [style], out, variant=variant, options=options, device=str(device), progress=a.progress)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    rows = _rows(out)
    first_s, later_s = _split([float(r["seconds"]) for r in rows])
    first_i, later_i = _split([float(r["iterations"]) for r in rows])
    return {"first_s": first_s, "later_s": later_s, "first_iterations": first_i, "later_iterations": later_i,
            "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": mem.rss_mib, "peak_cuda_mib": mem.cuda_mib}


def apply_network(model: Any, frames: list[Path], out: Path, device: torch.device,
                  scale: float | str = "auto") -> dict[str, Any]:
    """The network path at one height and input ``scale``, frame by frame (the first call includes
    the warm-up)."""
    from styleflow.ff.infer import stylize_image

    out.mkdir(parents=True, exist_ok=True)
    seconds = []
    cpu = time.process_time()
    with PeakMemory(device) as mem:
        for p in frames:
            image = read_image(p)
            t = time.perf_counter()
            result = stylize_image(model, image, device, scale)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds.append(time.perf_counter() - t)
            write_image(out / p.name, result)
    cpu = time.process_time() - cpu  # includes reading and writing the frames
    first_s, later_s = _split(seconds)
    return {"first_s": first_s, "later_s": later_s, "first_iterations": 0, "later_iterations": 0,
            "wall_s": sum(seconds), "cpu_s": cpu, "peak_rss_mib": mem.rss_mib, "peak_cuda_mib": mem.cuda_mib}


def write_crop(out: Path, content: Path, outputs: list[Path], side: int = 512) -> None:
    """Side by side at full size: the centre ``side`` x ``side`` crop of the content frame, then of
    each output (the order of the table's paths)."""
    import numpy as np

    images = [read_image(p) for p in (content, *outputs)]
    h, w = images[0].shape[:2]
    s = min(side, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(out, np.concatenate([im[top:top + s, left:left + s] for im in images], axis=1))


def get_model(a: argparse.Namespace, video: Path, style: Path, work: Path, device: torch.device) -> tuple[Path, dict]:
    """``--model``, or a network trained here on the clip (``--train-steps`` at ``--train-size``)."""
    if a.model:
        if not Path(a.model).is_file():
            raise StyleflowError(f"--model {a.model}: no such file")
        return Path(a.model), {"trained_here": False}
    from styleflow.ff.train import TrainSettings, train

    clip = prepare_clip(video, a.train_size, a.frames, work, (1,), progress=a.progress)
    out = work / f"net-w{a.width}-b{a.blocks}-s{a.train_steps}.pt"
    settings = TrainSettings(size=a.train_size, steps=a.train_steps, width=a.width, blocks=a.blocks,
                             batch=a.train_batch, weights=a.weights, backbone=a.backbone, preset=a.preset)
    t = time.perf_counter()
    train([style], [], out, settings, device=str(device), progress=a.progress, clips=[clip])
    seconds = time.perf_counter() - t
    return out, {"trained_here": True, "train_seconds": seconds, "train_steps": a.train_steps,
                 "steps_per_s": a.train_steps / seconds}


def run(a: argparse.Namespace) -> dict[str, Any]:
    from styleflow.eval.metrics import meter_info, metric_meter
    from styleflow.ff.model import load_model
    from styleflow.optim.precision import resolve_device

    if a.frames < 2:
        raise StyleflowError(f"--frames {a.frames}: need at least 2 (a first and a later frame)")
    device = resolve_device(a.device)
    torch.set_num_threads(a.threads or cores())
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="styleflow-res-"))
    work.mkdir(parents=True, exist_ok=True)
    video, style, source = resolve_inputs(a.video, a.style, a.frames, max(a.heights), work)
    model_path, training = (None, {}) if a.no_network else get_model(a, video, style, work, device)
    model = load_model(model_path, device) if model_path else None
    meter = metric_meter([read_image(style)], device=str(device))
    rows = []
    for h in a.heights:
        clip = prepare_clip(video, h, a.frames, work, (1,), progress=a.progress)
        frames = list_frames(clip.frames)[: a.frames]
        height, width = read_image(frames[0]).shape[:2]
        upscaled = h > int(read_meta(clip.frames)["source_height"])
        paths = {}
        if not a.no_optimisation:
            paths["optimisation"] = optimise(a, clip, style, work / f"optimisation-h{h}", device)
            if a.direct:
                paths["direct"] = optimise(a, clip, style, work / f"direct-h{h}", device, DIRECT)
            if a.multiscale:
                paths["multiscale"] = optimise(a, clip, style, work / f"multiscale-h{h}", device, multiscale(h))
        if model is not None:
            for scale in a.model_scales:
                name = "network" if scale == "auto" else f"network@{scale:g}"
                paths[name] = apply_network(model, frames, work / f"{name}-h{h}", device, scale)
        for name, r in paths.items():
            outs = [work / f"{name}-h{h}" / p.name for p in frames]
            r.update(measure(outs, frames, meter, a.analysis_height))
            rows.append({"height": int(height), "width": int(width), "upscaled": upscaled, "path": name, **r})
        if a.crops and paths:
            write_crop(Path(a.crops) / f"crop-h{h}.png", frames[-1], [work / f"{n}-h{h}" / frames[-1].name for n in paths])
        print(f"h{h}: done", file=sys.stderr, flush=True)
    return {"source": source, "video": str(video), "style": str(style), "frames": a.frames, "variant": a.variant,
            "device": str(device), "cpu": cpu_model(), "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "analysis_height": a.analysis_height, "meter": meter_info(meter), "model": str(model_path),
            "training": training, "rows": rows}


def render(r: dict[str, Any]) -> str:
    head = (f"clip: {r['source']} ({Path(r['video']).name}), {r['frames']} frames; style {Path(r['style']).name}; "
            f"device {r['device']} ({r['gpu'] or r['cpu']}, {r['threads']} threads); variant {r['variant']}; "
            f"losses at {r['analysis_height']} px with {r['meter'].get('backbone')} ({r['meter'].get('weights_source')})")
    if r["training"].get("trained_here"):
        t = r["training"]
        head += f"\nnetwork trained here: {t['train_steps']} steps in {t['train_seconds']:.1f} s ({t['steps_per_s']:.2f} steps/s)"
    body = [[f"{x['width']}x{x['height']}{' (up)' if x['upscaled'] else ''}", x["path"], fmt(x["first_s"]), fmt(x["later_s"]),
             f"{fmt(x['first_iterations'], '.0f')} / {fmt(x['later_iterations'], '.1f')}",
             fmt(x["cpu_s"] / x["wall_s"] if x["wall_s"] else None, ".2f"),
             fmt(x["peak_rss_mib"], ".0f"), fmt(x["peak_cuda_mib"], ".0f"),
             fmt(x["content_loss"]), fmt(x["style_loss"])] for x in r["rows"]]
    return head + "\n\n" + table(["size (up: enlarged)", "path", "s first", "s later", "iterations first / later",
                                  "CPU s / wall s", "peak RSS MiB", "peak CUDA MiB", "content", "style"], body)


def _scale(text: str) -> float | str:
    """A ``--model-scales`` value: ``auto`` or a number in (0, 1]."""
    if text == "auto":
        return text
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: expected auto or a number in (0, 1]")
    return value


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench_resolution", description=__doc__.split("\n\n")[0])
    p.add_argument("--heights", type=int, nargs="+", default=[256, 512, 720, 1080], metavar="H")
    p.add_argument("--frames", type=int, default=3, metavar="N", help="frames per height (default 3)")
    p.add_argument("--video", metavar="FILE", help="input video (default: the shared bedroom clip, else the demo clip)")
    p.add_argument("--style", metavar="IMAGE", help="style image (default: Starry Night, else the demo style)")
    p.add_argument("--variant", default=DEFAULT_VARIANT, help=f"optimisation variant (default {DEFAULT_VARIANT})")
    p.add_argument("--first-iterations", type=int, help="budget of the first frame (default: the variant's)")
    p.add_argument("--iterations", type=int, help="budget of later frames (default: the variant's)")
    p.add_argument("--preset", default="gatys")
    p.add_argument("--weights", default="auto", metavar="SOURCE")
    p.add_argument("--backbone", default="auto", choices=["auto", "vgg19", "vgg16"])
    p.add_argument("--model", metavar="MODEL.pt", help="trained network (default: train one here)")
    p.add_argument("--train-steps", type=int, default=100, help="steps of the network trained here (default 100)")
    p.add_argument("--train-size", type=int, default=256, help="its training height (default 256)")
    p.add_argument("--train-batch", type=int, default=2)
    p.add_argument("--width", type=int, default=16, help="its width (default 16)")
    p.add_argument("--blocks", type=int, default=3, help="its residual blocks (default 3)")
    p.add_argument("--no-network", action="store_true", help="optimisation only")
    p.add_argument("--no-optimisation", action="store_true", help="network only")
    p.add_argument("--direct", action="store_true", help="also the optimisation at full size only (coarse_to_fine 1)")
    p.add_argument("--multiscale", action="store_true",
                   help="also the optimisation coarse-to-fine (auto's levels, at least 2) for every frame, later frames too")
    p.add_argument("--model-scales", nargs="+", type=_scale, default=["auto"], metavar="S",
                   help="the network's input scales: auto (default) or numbers in (0, 1]; one row each")
    p.add_argument("--coarse-iterations", type=int, help="budget of each coarse level (default: the preset's)")
    p.add_argument("--crops", metavar="DIR", help="write crop-h{H}.png per height: the centre 512-px crop of the "
                   "last frame, content then each path, side by side at full size")
    p.add_argument("--analysis-height", type=int, default=256, help="height losses are measured at (default 256)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--threads", type=int, help="torch threads (default: one per core)")
    p.add_argument("--work", metavar="DIR", help="keep clips, model and outputs here (default: a temporary folder)")
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    p.add_argument("--progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    return run_and_print("bench_resolution", lambda: run(a), render, a.json)


if __name__ == "__main__":
    sys.exit(main())

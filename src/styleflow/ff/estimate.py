"""What ``styleflow train`` expects to take, printed before it starts.

Training: a few steps of the real objective timed on a copy of the network (forward and backward,
no update; the first is a warm-up). Keyframes (``--keyframes``): the optimisation of one frame
from the content, L-BFGS iterations times pixels times :data:`KEYFRAME_SECONDS_PER_MPIX_ITERATION`
(measured on this project's 2-core CPU; a GPU is much faster, so the figure is an upper bound there;
a preset's early stop can end sooner than its budget, so it is an upper bound on the CPU too).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from styleflow.ff.keyframes import frame_digest

#: Seconds per L-BFGS iteration per megapixel of a keyframe (gatys preset, VGG backbone, float32)
#: on 2 idle cores of the Xeon of docs/feedforward.md ("Few-shot"): the process's CPU seconds / 2.
KEYFRAME_SECONDS_PER_MPIX_ITERATION = 20.0


def time_steps(step_loss: Callable[[torch.nn.Module, int], tuple[torch.Tensor, Any]], net: torch.nn.Module,
               start: int, steps: int = 3) -> float:
    """Seconds per training step: ``steps`` steps of ``step_loss`` on a copy of ``net`` (forward and
    backward), the first not counted."""
    model = copy.deepcopy(net).train()
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        total, _ = step_loss(model, start + i)
        total.backward()
        times.append(time.perf_counter() - t0)
    return float(np.mean(times[1:])) if len(times) > 1 else times[0]


def keyframe_seconds(frames: Sequence[np.ndarray], cache: Path, iterations: int) -> tuple[int, float]:
    """``(to optimise, expected seconds)`` for keyframes ``frames`` (``(H, W, 3)``) of ``iterations``
    L-BFGS iterations each, those cached in ``cache`` (a resumed run) not counted."""
    todo = [f for f in frames if not (cache / f"key_{frame_digest(f)}.png").is_file()]
    return len(todo), sum(f.shape[0] * f.shape[1] / 1e6 * iterations * KEYFRAME_SECONDS_PER_MPIX_ITERATION
                          for f in todo)


def announce(out: Path, s: Any, net: torch.nn.Module, step_loss: Callable, start: int,
             key_frames: Sequence[np.ndarray], cache: Path, key_iterations: int, progress: bool
             ) -> dict[str, float] | None:
    """Print (when ``progress``) and return the expected seconds of the keyframes (``key_iterations``
    each) and the training."""
    if not progress:
        return None
    todo, key_s = keyframe_seconds(key_frames, cache, key_iterations)
    per_step = time_steps(step_loss, net, start)
    train_s = per_step * (s.steps - start)
    parts = []
    if key_frames:
        parts.append(f"{todo} keyframe(s) to optimise, ~{key_s:.0f} s (2-core CPU figure)")
    parts.append(f"{s.steps - start} steps at {1 / per_step:.2f} steps/s (timed), ~{train_s:.0f} s")
    print(f"{out}: expect about {(key_s + train_s) / 60:.1f} min: " + "; ".join(parts), flush=True)
    return {"keyframes_s": key_s, "train_s": train_s}

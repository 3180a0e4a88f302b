"""A small clip with scene cuts, for workflow tests that need shots (tests/test_slurm.py).

Each shot is the demo camera move (styleflow.data.demo) over a different picture: the demo
photograph, the procedural style image, the photograph upside down, ... so consecutive shots
share nothing and the consistency stage finds a cut between them.
"""

from __future__ import annotations

import os

import numpy as np

from styleflow.data.demo import camera_path, photograph, render_frame, style_image
from styleflow.io.encode import encode_arrays


def make_cut_clip(path: str | os.PathLike[str], shots: int = 2, frames_per_shot: int = 3, height: int = 64) -> list[int]:
    """Write an mp4 of ``shots`` shots of ``frames_per_shot`` frames, ``height`` px high (3:2).

    Returns the 1-based frame numbers that start a new shot (the expected cuts).
    """
    width = 2 * round(height * 0.75)
    photo = photograph()
    ph, pw = photo.shape[:2]
    texture = style_image(height=ph, width=pw, seed=1)
    pictures = [photo, texture, photo[::-1].copy(), texture[:, ::-1].copy()]
    mats = camera_path(8 * frames_per_shot, height, width)[:frames_per_shot]  # a slow move
    frames = [
        (np.clip(render_frame(pictures[s % len(pictures)], m, height, width), 0, 1) * 255).round().astype(np.uint8)
        for s in range(shots)
        for m in mats
    ]
    encode_arrays(frames, path, fps=10.0)
    return [1 + s * frames_per_shot for s in range(1, shots)]

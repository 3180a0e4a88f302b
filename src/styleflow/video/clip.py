"""Read access to a prepared clip for the sequential stylisation: content frames, flows and masks
between frames of a shot, and its scene cuts (:mod:`styleflow.video.sequence`).

Frames are numbered from 1; images are ``(H, W, 3)`` float32 RGB in [0, 1], flows ``(H, W, 2)``
in pixels, masks ``(H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.flo import read_flow
from styleflow.io.frames import FrameCache
from styleflow.io.layout import ClipPaths
from styleflow.motion.consistency import consistency_mask, read_mask
from styleflow.motion.cuts import read_cuts


class PreparedClip:
    """Read access to a prepared clip: content frames, flows and masks, and its scene cuts."""

    def __init__(self, paths: ClipPaths, n_frames: int):
        self.paths = paths
        self.n = n_frames
        self._frames = FrameCache(paths.frame, keep=4)
        self.cuts = read_cuts(paths.masks, n_frames)

    def shot_start(self, k: int) -> int:
        """First frame of the shot that contains frame k."""
        return max([1] + [c for c in self.cuts if c <= k])

    def same_shot(self, a: int, b: int) -> bool:
        return 1 <= a <= self.n and 1 <= b <= self.n and self.shot_start(a) == self.shot_start(b)

    def content(self, k: int) -> np.ndarray:
        return self._frames(k)

    def flow_and_mask(self, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Flow on frame k's grid pointing into frame n, and the reliability mask (H, W) in [0, 1]."""
        if n < k:
            flow = read_flow(self.paths.backward(k, n))
            mask = read_mask(self.paths.mask(k, n))
        else:
            flow = read_flow(self.paths.forward(k, n))
            mpath = self.paths.mask(k, n)
            mask = read_mask(mpath) if mpath.is_file() else consistency_mask(flow, read_flow(self.paths.backward(n, k)))
        return flow, mask.astype(np.float32) / 255.0

    def check_flows(self, offsets: Sequence[int], both_directions: bool, frames: Sequence[int] | None = None) -> None:
        """Fail early, naming the first missing flow or mask file (of ``frames``, default all)."""
        for k in frames if frames is not None else range(1, self.n + 1):
            for d in offsets:
                i = k - d
                if i < 1 or not self.same_shot(i, k):
                    continue
                needed = [self.paths.backward(k, i), self.paths.mask(k, i)]
                if both_directions:
                    needed += [self.paths.forward(i, k)]
                for p in needed:
                    if not p.is_file():
                        raise StyleflowError(
                            f"{p}: missing; compute flows and masks for frame offsets {list(offsets)} first "
                            f"(styleflow.motion.flow, or the workflow's flow.offsets setting)"
                        )

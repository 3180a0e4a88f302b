"""Training samples for the feed-forward network: frame pairs with flow and consistency mask.

Sources are video files and still photos (single files or folders of them):

* a **video** is prepared with the project's own stages at the training height — frames
  (:func:`styleflow.io.frames.extract_frames`), DIS flow (:func:`styleflow.motion.flow.compute_flows`),
  consistency masks and scene cuts (:func:`styleflow.motion.consistency.compute_masks`) — cached in
  a work folder, and every consecutive pair that does not span a cut is a sample: the earlier
  frame, the later one, the backward flow on the later frame's grid and its mask;
* a **still** becomes a pair by a synthetic camera motion with known flow (Ruder et al. 2018):
  the earlier "frame" is the photo seen through a random shift and zoom, the flow is exact and
  the mask is 1 wherever the earlier frame saw the point.

Videos are extracted at height ``size`` and photos scaled to that short side; every sample is a
random ``crop`` x ``crop`` crop of them (``crop`` defaults to ``size``; a smaller crop is cheaper
per step and sees the style at the same scale), flipped left-right half of the time (the flow's
u negated). Batches are drawn from a generator seeded by ``(seed, step)``, so a resumed training
sees exactly the batches an uninterrupted one does.

Shapes (S = ``crop``): ``prev``/``cur`` ``(B, 3, S, S)`` float32 RGB in [0, 1]; ``flow`` ``(B, S, S, 2)`` pixels on
``cur``'s grid (u, v) pointing into ``prev``; ``mask`` ``(B, 1, S, S)`` in [0, 1].
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.flo import read_flow
from styleflow.io.frames import extract_frames
from styleflow.io.images import read_image, resize
from styleflow.io.layout import ClipPaths, list_frames
from styleflow.io.video import probe_video
from styleflow.motion.consistency import compute_masks, read_mask
from styleflow.motion.cuts import read_cuts
from styleflow.motion.flow import compute_flows
from styleflow.motion.warp import bilinear

#: File suffixes read as still photos and as videos.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v")

#: Synthetic camera motion for stills: shift up to this fraction of the crop, zoom up to this factor.
MAX_SHIFT = 0.04
MAX_ZOOM = 0.05


@dataclass
class Batch:
    prev: torch.Tensor
    cur: torch.Tensor
    flow: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device) -> "Batch":
        return Batch(*(t.to(device) for t in (self.prev, self.cur, self.flow, self.mask)))


def file_digest(path: Path, limit: int = 1 << 24) -> str:
    """SHA-256 of a file's first ``limit`` bytes and its size (what a model file records)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(limit))
    h.update(str(path.stat().st_size).encode())
    return h.hexdigest()[:16]


def expand_sources(sources: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """``(videos, stills)`` named by ``sources`` (files, or folders of photos and videos)."""
    videos: list[Path] = []
    stills: list[Path] = []
    if not sources:
        raise StyleflowError("--data: no training data given; name video files or folders of photos")
    for s in sources:
        p = Path(s)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
            if not found:
                raise StyleflowError(f"--data {p}: the folder holds no images or videos "
                                     f"({', '.join(IMAGE_SUFFIXES)}; {', '.join(VIDEO_SUFFIXES)})")
            for q in found:
                (videos if q.suffix.lower() in VIDEO_SUFFIXES else stills).append(q)
        elif p.is_file():
            if p.suffix.lower() in VIDEO_SUFFIXES:
                videos.append(p)
            elif p.suffix.lower() in IMAGE_SUFFIXES:
                stills.append(p)
            else:
                raise StyleflowError(f"--data {p}: not a video ({', '.join(VIDEO_SUFFIXES)}) or an image")
        else:
            raise StyleflowError(f"--data {p}: no such file or folder")
    return videos, stills


@dataclass
class _Pair:
    clip: ClipPaths
    k: int  # the later frame; the earlier is k - 1


class TrainingData:
    """Samples from ``videos`` (prepared in ``work``) and ``stills`` at training size ``size``.

    ``max_frames`` caps the frames taken from each video (from its start); ``crop`` is the side of
    the samples (default ``size``, at most ``size``).
    """

    def __init__(self, videos: Sequence[Path], stills: Sequence[Path], size: int, work: Path,
                 max_frames: int | None = None, progress: bool = True, clips: Sequence[ClipPaths] = (),
                 crop: int | None = None):
        self.size = size
        self.crop = size if crop is None else crop
        if not 1 <= self.crop <= size:
            raise StyleflowError(f"crop {self.crop}: expected 1..{size} (the training size)")
        self.pairs: list[_Pair] = []
        #: each video's prepared clip and the number of its frames used (keyframes come from these)
        self.clips: list[tuple[ClipPaths, int]] = []
        self.stills: list[np.ndarray] = []
        for v in videos:
            self._add_video(Path(v), Path(work), max_frames, progress)
        for clip in clips:  # already prepared (the workflow's frames, flow and consistency stages)
            self._add_pairs(clip, Path(clip.frames), max_frames)
        for s in stills:
            img = read_image(s)
            h, w = img.shape[:2]
            if min(h, w) < size:
                raise StyleflowError(f"--data {s}: {w}x{h} pixels is smaller than the training size {size}; "
                                     f"use a smaller --size or larger photos")
            scale = size / min(h, w)
            self.stills.append(resize(img, (max(size, round(h * scale)), max(size, round(w * scale)))))
        if not self.pairs and not self.stills:
            raise StyleflowError("--data: no usable training samples (videos too short or all pairs across scene cuts)")

    def _add_video(self, video: Path, work: Path, max_frames: int | None, progress: bool) -> None:
        key = hashlib.sha256(f"{video.resolve()}|{self.size}|{max_frames}".encode()).hexdigest()[:10]
        prep = work / f"{video.stem}-{key}"
        clip = ClipPaths(prep / "frames", prep / "flow-dis", prep / "masks-dis")
        stamp = prep / "source.json"
        wanted = {"source": str(video.resolve()), "digest": file_digest(video), "height": self.size,
                  "max_frames": max_frames}
        if not (stamp.is_file() and json.loads(stamp.read_text()) == wanted and clip.cuts.is_file()):

            src_h = probe_video(video).get("height")
            if src_h is not None and int(src_h) < self.size:
                raise StyleflowError(f"--data {video}: {src_h} pixels high, smaller than the training size "
                                     f"{self.size}; use a smaller --size")
            extract_frames(video, clip.frames, self.size, max_frames=max_frames, progress=progress)
            compute_flows(clip.frames, clip.flow, offsets=(1,), progress=progress)
            compute_masks(clip.flow, clip.masks, offsets=(1,), frames_dir=clip.frames, progress=progress)

            write_json(stamp, wanted)
        self._add_pairs(clip, video, None)

    def _add_pairs(self, clip: ClipPaths, source: Path, max_frames: int | None) -> None:
        n = len(list_frames(clip.frames))
        if max_frames is not None:
            n = min(n, max_frames)
        self.clips.append((clip, n))
        cuts = set(read_cuts(clip.masks))
        first = read_image(clip.frame(1))
        if min(first.shape[:2]) < self.size:
            raise StyleflowError(f"--data {source}: frames are {first.shape[1]}x{first.shape[0]} pixels, "
                                 f"smaller than the training size {self.size}")
        self.pairs += [_Pair(clip, k) for k in range(2, n + 1) if k not in cuts]

    def __len__(self) -> int:
        return len(self.pairs) + len(self.stills)

    def batch(self, step: int, batch: int, seed: int) -> Batch:
        """The batch of training ``step`` (deterministic in ``seed`` and ``step``)."""
        rng = np.random.default_rng([seed, step])
        samples = [self._sample(rng) for _ in range(batch)]
        def stack(i: int, channels_first: bool) -> torch.Tensor:
            arr = np.stack([s[i] for s in samples])
            t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
            return t.permute(0, 3, 1, 2).contiguous() if channels_first else t
        return Batch(stack(0, True), stack(1, True), stack(2, False), stack(3, True))

    def _sample(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        i = int(rng.integers(len(self)))
        s = self.crop
        if i < len(self.pairs):
            pair = self.pairs[i]
            prev, cur = read_image(pair.clip.frame(pair.k - 1)), read_image(pair.clip.frame(pair.k))
            flow = read_flow(pair.clip.backward(pair.k, pair.k - 1))
            mask = read_mask(pair.clip.mask(pair.k, pair.k - 1)).astype(np.float32) / 255.0
            h, w = cur.shape[:2]
            oy, ox = int(rng.integers(h - s + 1)), int(rng.integers(w - s + 1))
            win = (slice(oy, oy + s), slice(ox, ox + s))
            prev, cur, flow, mask = prev[win], cur[win], flow[win].copy(), mask[win]
            # a crop sees only its own window of the earlier frame: points the flow takes outside it
            # are not known
            gy, gx = np.mgrid[0:s, 0:s].astype(np.float32)
            px, py = gx + flow[..., 0], gy + flow[..., 1]
            mask = mask * ((px >= 0) & (px <= s - 1) & (py >= 0) & (py <= s - 1))
        else:
            img = self.stills[i - len(self.pairs)]
            h, w = img.shape[:2]
            oy, ox = int(rng.integers(h - s + 1)), int(rng.integers(w - s + 1))
            cur = img[oy:oy + s, ox:ox + s]
            zoom = 1 + rng.uniform(-MAX_ZOOM, MAX_ZOOM)
            shift = rng.uniform(-MAX_SHIFT, MAX_SHIFT, size=2) * s
            c = (s - 1) / 2
            gy, gx = np.mgrid[0:s, 0:s].astype(np.float32)
            # the earlier frame shows, at crop pixel y, the photo's point T(y) = c + zoom (y - c) + shift
            prev = bilinear(img, (c + zoom * (gx - c) + shift[0] + ox).astype(np.float32),
                            (c + zoom * (gy - c) + shift[1] + oy).astype(np.float32))
            # so the point at x in the later frame is at T^-1(x) in the earlier one
            px = c + (gx - shift[0] - c) / zoom
            py = c + (gy - shift[1] - c) / zoom
            flow = np.stack([px - gx, py - gy], axis=-1).astype(np.float32)
            mask = ((px >= 0) & (px <= s - 1) & (py >= 0) & (py <= s - 1)).astype(np.float32)
        if rng.random() < 0.5:
            prev, cur, mask = prev[:, ::-1], cur[:, ::-1], mask[:, ::-1]
            flow = flow[:, ::-1] * np.array([-1.0, 1.0], dtype=np.float32)
        return prev, cur, flow, np.asarray(mask, dtype=np.float32)[..., None]

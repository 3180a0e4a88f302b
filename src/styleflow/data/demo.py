"""Built-in demo material: a short clip with a known camera motion and a procedural style image.

Both are synthesised on the user's machine, so the default grid runs from a fresh clone, offline,
with no user files and no third-party artwork in the repository.

**The clip** is a virtual camera moving over a photograph bundled with scikit-image:
``skimage.data.chelsea()`` ("Chelsea the cat"; its docstring: *No copyright restrictions. CC0 by
the photographer (Stefan van der Walt)*). Frame ``k`` shows the photograph through a similarity
transform (pan, slow zoom-in, slight roll), so the true optical flow between any two frames is
known exactly; :func:`make_clip` writes it beside the clip as Middlebury ``.flo`` files named as in
:mod:`styleflow.io.layout` (``forward_i_j.flo`` on frame i's grid, ``backward_j_i.flo`` on frame j's
grid), in pixels of the clip. A pipeline that extracts frames at another height ``R`` sees the flow
scaled by ``R / clip height``. Points the camera brings in from outside the previous view have a
true flow that leads out of the previous frame: the same rule as any out-of-frame motion.

**The style image** (:func:`make_style`, "swirls") is a procedural painting made by this project
and dedicated to the public domain (CC0): brush strokes that follow a field of vortices (line
integral convolution of coarse noise), coloured from a night-sky palette of deep blues, teal,
cream and yellow, with bright ringed "stars" at the vortex centres. Its Gram matrices are far
from any photograph's, so stylisation is easy to see.

Images in memory follow :mod:`styleflow.io.images`: ``(H, W, 3)`` float32 RGB in ``[0, 1]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.encode import encode_arrays
from styleflow.io.flo import write_flo
from styleflow.io.images import to_uint8, write_image
from styleflow.io.layout import ClipPaths

PHOTO = "chelsea"
PHOTO_LICENCE = "CC0 by the photographer (Stefan van der Walt); skimage.data.chelsea"
STYLE_LICENCE = "CC0 1.0: generated procedurally by styleflow.data.demo.make_style"


def photograph() -> np.ndarray:
    """The demo photograph, ``(300, 451, 3)`` float32 RGB in [0, 1], from the installed scikit-image."""

    return skimage.data.chelsea().astype(np.float32) / 255.0


def camera_path(n_frames: int, height: int, width: int) -> list[np.ndarray]:
    """Per-frame 3x3 matrices mapping clip pixel ``(x, y, 1)`` to photograph pixel coordinates.

    The camera pans right and slightly up across the photograph, zooms in by 12 % and rolls by
    3 degrees over the clip, whatever its length; the view stays inside the photograph.
    """
    if n_frames < 2:
        raise StyleflowError(f"demo clip: {n_frames} frames; use at least 2")
    ph, pw = 300, 451  # the photograph's size
    centre0, centre1 = np.array([176.0, 156.0]), np.array([274.0, 138.0])
    scale0 = 215.0 / height  # photograph pixels per clip pixel at the first frame
    if width * scale0 / 2 > min(centre0[0], pw - centre1[0]) - 10:
        raise StyleflowError(f"demo clip: aspect {width}x{height} is too wide for the photograph; use at most 3:2")
    p0 = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    mats = []
    for k in range(n_frames):
        t = k / (n_frames - 1)
        t = t * t * (3 - 2 * t) * 0.5 + 0.5 * t  # ease in and out a little: the speed varies
        centre = (1 - t) * centre0 + t * centre1
        scale = scale0 * (1.0 - 0.12 * t)
        theta = np.deg2rad(3.0 * t)
        rot = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        m = np.eye(3)
        m[:2, :2] = rot
        m[:2, 2] = centre - rot @ p0
        mats.append(m)
    return mats


def render_frame(photo: np.ndarray, mat: np.ndarray, height: int, width: int) -> np.ndarray:
    """The clip frame seen through ``mat`` (clip pixel → photograph pixel): ``(H, W, 3)`` float32."""
    out = cv2.warpAffine(
        photo,
        mat[:2].astype(np.float64),
        (width, height),
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def true_flow(mat_from: np.ndarray, mat_to: np.ndarray, height: int, width: int) -> np.ndarray:
    """Exact flow from the frame seen through ``mat_from`` to the one through ``mat_to``.

    ``(H, W, 2)`` float32 pixels on the first frame's grid: the point at pixel x of the first
    frame is at x + flow(x) in the second.
    """
    t = np.linalg.inv(mat_to) @ mat_from
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    u = t[0, 0] * xs + t[0, 1] * ys + t[0, 2] - xs
    v = t[1, 0] * xs + t[1, 1] * ys + t[1, 2] - ys
    return np.stack([u, v], axis=-1).astype(np.float32)


def make_clip(
    out_mp4: str | os.PathLike[str],
    flow_dir: str | os.PathLike[str] | None = None,
    *,
    frames: int = 16,
    height: int = 192,
    fps: float = 10.0,
    offsets: tuple[int, ...] | list[int] = (1,),
) -> dict:
    """Write the demo clip as H.264 mp4 and, if ``flow_dir`` is given, its true flow.

    Args:
        out_mp4: the video to write (written atomically by :func:`styleflow.io.encode.encode_arrays`).
        flow_dir: folder for ``forward_i_j.flo`` / ``backward_j_i.flo`` (for each frame pair at
            each of ``offsets``) and ``truth.json`` (camera matrices, sizes, licence).
        frames: number of frames (at least 2).
        height: frame height in pixels; the width is 3/2 of it, rounded to even.
        fps: frame rate recorded in the mp4.
        offsets: frame distances for which flows are written (1 = consecutive frames).

    Returns:
        A summary: frames, height, width, fps, photograph and licences.
    """
    if height < 16 or height % 2:
        raise StyleflowError(f"demo clip: height {height}; use an even number of pixels, at least 16")
    width = 2 * round(height * 0.75)
    photo = photograph()
    mats = camera_path(frames, height, width)
    images = [render_frame(photo, m, height, width) for m in mats]
    encode_arrays((to_uint8(im) for im in images), out_mp4, fps, crf=12)
    summary = {
        "frames": frames,
        "height": height,
        "width": width,
        "fps": fps,
        "photograph": PHOTO,
        "licence": PHOTO_LICENCE,
        "motion": "pan right and up, zoom in 12 %, roll 3 degrees (similarity transform per frame)",
    }
    if flow_dir is not None:
        clip = ClipPaths(frames=Path(out_mp4).parent, flow=Path(flow_dir), masks=Path(flow_dir))
        clip.flow.mkdir(parents=True, exist_ok=True)
        for off in sorted(set(int(o) for o in offsets)):
            for i in range(1, frames - off + 1):
                j = i + off
                write_flo(clip.forward(i, j), true_flow(mats[i - 1], mats[j - 1], height, width))
                write_flo(clip.backward(j, i), true_flow(mats[j - 1], mats[i - 1], height, width))
        truth = dict(summary, offsets=sorted(set(int(o) for o in offsets)),
                     camera=[m.tolist() for m in mats],
                     camera_convention="3x3 matrix: clip pixel (x, y, 1) -> photograph pixel; 1-based frame k is camera[k-1]")
        write_json(clip.flow / "truth.json", truth)
    return summary


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise rescaled to [0, 1]."""
    n = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return (n - n.min()) / max(float(n.max() - n.min()), 1e-6)


#: Night-sky palette, from dark to light: position in [0, 1] and RGB.
PALETTE = np.array([
    [0.00, 0.03, 0.06, 0.22],  # deep navy
    [0.22, 0.08, 0.20, 0.52],  # ultramarine
    [0.40, 0.05, 0.35, 0.42],  # teal
    [0.55, 0.30, 0.52, 0.85],  # cornflower
    [0.72, 0.85, 0.86, 0.70],  # cream
    [0.86, 0.98, 0.80, 0.18],  # chrome yellow
    [1.00, 0.95, 0.52, 0.10],  # orange
], dtype=np.float32)  # fmt: skip


def _palette(u: np.ndarray) -> np.ndarray:
    pos = PALETTE[:, 0]
    return np.stack([np.interp(u, pos, PALETTE[:, c]) for c in (1, 2, 3)], axis=-1).astype(np.float32)


def style_image(height: int = 384, width: int = 512, seed: int = 0) -> np.ndarray:
    """The procedural "swirls" painting: ``(height, width, 3)`` float32 RGB in [0, 1].

    Deterministic for a given size and seed.
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    diag = float(np.hypot(height, width))
    # A flow field: a gentle wind plus a few vortices of either sense.
    vx = np.ones_like(xs) * 0.6 + 0.4 * np.sin(ys / height * 2 * np.pi * 1.5)
    vy = 0.35 * np.sin(xs / width * 2 * np.pi * 2.0 + 1.0)
    centres = []
    for _ in range(5):
        cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.75) * height
        r = rng.uniform(0.06, 0.14) * diag
        s = rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 3.5)
        dx, dy = xs - cx, ys - cy
        g = s * np.exp(-(dx * dx + dy * dy) / (2 * r * r)) / r * diag * 0.1
        vx += -dy / diag * g * 10
        vy += dx / diag * g * 10
        centres.append((cx, cy, r))
    norm = np.sqrt(vx * vx + vy * vy) + 1e-6
    vx, vy = vx / norm, vy / norm
    # Line integral convolution of coarse noise along the field: brush strokes.
    grain = cv2.resize(rng.random((height // 3, width // 3)).astype(np.float32), (width, height),
                       interpolation=cv2.INTER_NEAREST)
    colour_field = 0.65 * _smooth_noise(rng, (height, width), 18.0) + 0.35 * (1.0 - ys / height)
    for cx, cy, r in centres:  # bright ringed "stars" at the vortex centres
        d = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2) / (0.45 * r)
        colour_field += np.exp(-d * d) * (0.9 + 0.15 * np.cos(d * 9.0))
    colour_field = np.clip(colour_field, 0, None)
    colour_field = colour_field / colour_field.max()
    acc_grain = np.zeros_like(grain)
    acc_colour = np.zeros_like(grain)
    total = 0.0
    steps = 14
    for direction in (1.0, -1.0):
        px, py = xs.copy(), ys.copy()
        for k in range(steps):
            wgt = 1.0 - k / steps
            acc_grain += wgt * cv2.remap(grain, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            acc_colour += wgt * cv2.remap(colour_field, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            total += wgt
            fx = cv2.remap(vx, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            fy = cv2.remap(vy, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            px, py = px + direction * 1.5 * fx, py + direction * 1.5 * fy
    strokes = acc_grain / total
    strokes = (strokes - strokes.mean()) / (strokes.std() + 1e-6)
    colour = np.clip(acc_colour / total + 0.08 * strokes, 0.0, 1.0)
    image = _palette(colour) * np.clip(1.0 + 0.22 * strokes, 0.5, 1.4)[..., None]
    # Dark outlines where strokes change abruptly, as a painter's edges.
    edges = cv2.Laplacian(cv2.GaussianBlur(strokes, (0, 0), 1.0), cv2.CV_32F)
    image *= np.clip(1.0 - 0.25 * np.abs(edges), 0.6, 1.0)[..., None]
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def make_style(out_png: str | os.PathLike[str], *, height: int = 384, width: int = 512, seed: int = 0) -> None:
    """Write the "swirls" style image (:func:`style_image`) as PNG, atomically, with a licence note.

    The note ``<out_png>.json`` records the generator, size, seed and licence (CC0).
    """
    write_image(out_png, style_image(height, width, seed))
    note = {"generator": "styleflow.data.demo.style_image", "height": height, "width": width,
            "seed": seed, "licence": STYLE_LICENCE}
    write_json(Path(str(out_png) + ".json"), note)


__all__ = ["make_clip", "make_style", "style_image", "camera_path", "true_flow", "render_frame", "photograph",
           "PHOTO_LICENCE", "STYLE_LICENCE"]

"""The built-in demo material: a CC0 clip whose saved flow is its true motion, and a CC0 style image."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from styleflow.data import demo
from styleflow.errors import StyleflowError
from styleflow.io.flo import read_flo
from styleflow.io.images import read_image
from styleflow.io.layout import ClipPaths


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr[:, :, ::-1].astype(np.float32) / 255.0)
    cap.release()
    return frames


def backward_warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at x + flow(x) (flow on the output grid)."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, ClipPaths, dict]:
    root = tmp_path_factory.mktemp("demo")
    summary = demo.make_clip(root / "clip.mp4", root / "flow", frames=6, height=96, fps=8, offsets=(1, 2))
    return root / "clip.mp4", ClipPaths(frames=root, flow=root / "flow", masks=root / "flow"), summary


def test_photograph_is_cc0() -> None:
    import skimage.data

    assert "CC0" in skimage.data.chelsea.__doc__
    assert demo.photograph().shape == (300, 451, 3)


def test_clip_is_h264_with_the_requested_frames(clip) -> None:
    mp4, _, summary = clip
    frames = read_video(mp4)
    assert len(frames) == 6
    assert frames[0].shape == (96, 144, 3)
    assert summary["width"] == 144 and summary["fps"] == 8
    cap = cv2.VideoCapture(str(mp4))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc.lower() in ("avc1", "h264")
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(8, rel=1e-3)
    # the camera moves: consecutive frames differ
    assert np.abs(frames[1] - frames[0]).mean() > 0.01


def test_true_flow_files_and_truth(clip) -> None:
    _, paths, _ = clip
    for i in range(1, 6):
        assert paths.forward(i, i + 1).exists() and paths.backward(i + 1, i).exists()
    assert paths.forward(1, 3).exists() and paths.backward(3, 1).exists()
    assert not paths.forward(1, 4).exists()
    truth = json.loads((paths.flow / "truth.json").read_text())
    assert truth["offsets"] == [1, 2] and len(truth["camera"]) == 6 and "CC0" in truth["licence"]
    flow = read_flo(paths.forward(1, 2))
    assert flow.shape == (96, 144, 2)
    assert 0.5 < np.abs(flow).mean() < 10  # a visible but small motion per frame


def test_true_flow_warps_frames_onto_each_other(clip) -> None:
    """Backward-warping frame i by the true backward flow of frame j reproduces frame j."""
    mp4, paths, _ = clip
    frames = read_video(mp4)
    for i, j in [(1, 2), (4, 5), (2, 4)]:
        flow = read_flo(paths.backward(j, i))
        warped = backward_warp(frames[i - 1], flow)
        inside = (slice(8, -8), slice(8, -8))  # away from pixels that came from outside the view
        err_true = np.abs(warped[inside] - frames[j - 1][inside]).mean()
        err_none = np.abs(frames[i - 1][inside] - frames[j - 1][inside]).mean()
        assert err_true < 0.25 * err_none, (i, j, err_true, err_none)
        assert err_true < 0.03


def test_forward_and_backward_flows_are_consistent(clip) -> None:
    _, paths, _ = clip
    fwd, bwd = read_flo(paths.forward(2, 3)), read_flo(paths.backward(3, 2))
    # following the backward flow then the forward flow returns to the start
    round_trip = bwd + backward_warp(fwd, bwd)
    assert np.abs(round_trip[10:-10, 10:-10]).max() < 0.05


def test_true_flow_is_exact_for_a_known_motion() -> None:
    shift = np.eye(3)
    shift[0, 2] = 3.0  # the camera moves 3 photo pixels right: the scene moves 3 px left
    flow = demo.true_flow(np.eye(3), shift, 4, 5)
    assert np.allclose(flow[..., 0], -3.0) and np.allclose(flow[..., 1], 0.0)


def test_clip_rejects_bad_sizes(tmp_path: Path) -> None:
    with pytest.raises(StyleflowError, match="height"):
        demo.make_clip(tmp_path / "x.mp4", height=15)
    with pytest.raises(StyleflowError, match="frames"):
        demo.make_clip(tmp_path / "x.mp4", frames=1, height=32)
    assert not (tmp_path / "x.mp4").exists()


def test_style_image(tmp_path: Path) -> None:
    out = tmp_path / "swirls.png"
    demo.make_style(out, height=96, width=128, seed=3)
    image = read_image(out)
    assert image.shape == (96, 128, 3)
    note = json.loads((tmp_path / "swirls.png.json").read_text())
    assert "CC0" in note["licence"] and note["seed"] == 3
    # painting-like: strong colours, lots of local structure
    assert image.std(axis=(0, 1)).mean() > 0.08
    assert np.abs(np.diff(image, axis=1)).mean() > 0.02
    saturation = image.max(axis=2) - image.min(axis=2)
    assert saturation.mean() > 0.25


def test_style_image_is_deterministic() -> None:
    a = demo.style_image(64, 80, seed=1)
    assert np.array_equal(a, demo.style_image(64, 80, seed=1))
    assert not np.array_equal(a, demo.style_image(64, 80, seed=2))

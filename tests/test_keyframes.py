"""Few-shot training on keyframes (``styleflow train --keyframes``, issue 26): keyframe choice,
keyframes optimised and cached once, resume, the supervised term, refusals. Tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleflow.cli.main import main
from styleflow.data.demo import make_clip, make_style
from styleflow.errors import StyleflowError
from styleflow.ff.keyframes import KeyframeTargets, keyframe_numbers
from styleflow.ff.model import load_model
from styleflow.ff.net import NetConfig, TransformNet
from styleflow.ff.train import TrainSettings, train
from styleflow.io.images import write_image
from styleflow.optim.stylizer import Stylizer

KEY = dict(size=32, steps=4, batch=2, width=8, blocks=1, checkpoint_every=2, keyframes=2, keyframe_iterations=3,
           temporal_weight=0.0)


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    d = tmp_path_factory.mktemp("kf")
    make_style(d / "style.png", height=64, width=96)
    make_clip(d / "clip.mp4", frames=6, height=48)
    photos = d / "photos"
    photos.mkdir()
    write_image(photos / "p.png", np.random.default_rng(0).random((40, 56, 3)).astype(np.float32))
    return d


def test_keyframe_numbers_are_span_centres():
    assert keyframe_numbers(200, 4) == [25, 75, 125, 175]
    assert keyframe_numbers(48, 4) == [6, 18, 30, 42]
    assert keyframe_numbers(3, 5) == [1, 2, 3]
    with pytest.raises(StyleflowError):
        keyframe_numbers(10, 0)


def test_supervised_term_lowers_the_distance_to_the_target():
    gy, gx = np.mgrid[0:40, 0:48].astype(np.float32)
    frame = np.stack([gx / 47, gy / 39, 0.5 + 0.4 * np.sin(gx / 5) * np.cos(gy / 7)], axis=-1).astype(np.float32)
    target = (1.0 - frame)[:, :, [2, 0, 1]].copy()  # a "style": inverted, channels swapped
    keys = KeyframeTargets([frame], [target], crop=32)
    x, y = keys.batch(5, 2, 0)
    assert x.shape == y.shape == (2, 3, 32, 32)
    assert torch.equal(x, keys.batch(5, 2, 0)[0]) and not torch.equal(x, keys.batch(6, 2, 0)[0])
    torch.manual_seed(0)
    net = TransformNet(NetConfig(8, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for step in range(20):
        loss = keys.losses(net, step, 2, 0, torch.device("cpu"))["keyframe"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])


@pytest.mark.slow
def test_keyframes_optimised_once_cached_and_resumed(material, tmp_path, monkeypatch):
    args = ([material / "style.png"], [material / "clip.mp4"])
    s = TrainSettings(**KEY)
    cache = tmp_path / "keys"
    calls = []
    real = Stylizer.stylize

    def counted(self, content, *a, **k):
        calls.append(content.shape)
        return real(self, content, *a, **k)

    monkeypatch.setattr(Stylizer, "stylize", counted)
    rec = train(*args, tmp_path / "whole.pt", s, progress=False, keyframe_cache=cache)
    assert len(calls) == 2 and len(list(cache.glob("key_*.png"))) == 2
    key = rec["keyframes"]
    assert key["count"] == 2 and key["iterations"] == [3, 3] and key["optimisation"]["iterations"] == 3
    assert [p.rsplit("_", 1)[1] for p in key["frames"]] == ["000002.png", "000005.png"]  # centres of 6 frames
    assert rec["settings"]["keyframes"] == 2 and rec["final_losses"]["keyframe"] > 0
    # a killed run resumes to the same model; the keyframes of its work folder are not optimised again
    stopped = train(*args, tmp_path / "part.pt", s, progress=False, stop_after=2)
    assert stopped["stopped_at"] == 2 and len(calls) == 4
    assert len(list((tmp_path / "part.pt.work" / "keyframes").glob("key_*.png"))) == 2
    train(*args, tmp_path / "part.pt", s, progress=False)
    assert len(calls) == 4
    a, b = load_model(tmp_path / "whole.pt").net.state_dict(), load_model(tmp_path / "part.pt").net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the shared cache serves a second model; other optimisation settings are optimised afresh
    train(*args, tmp_path / "again.pt", TrainSettings(**{**KEY, "steps": 2}), progress=False, keyframe_cache=cache)
    assert len(calls) == 4
    train(*args, tmp_path / "other.pt", TrainSettings(**{**KEY, "steps": 2, "keyframe_iterations": 2}),
          progress=False, keyframe_cache=cache)
    assert len(calls) == 6


def test_cli_keyframes_bad_input(material, tmp_path, capsys):
    out = tmp_path / "bad.pt"
    base = ["train", str(material / "style.png"), "-o", str(out), "--width", "8", "--blocks", "1", "--no-progress",
            "--size", "32", "--steps", "2"]
    cases = [
        (["--data", str(material / "photos"), "--keyframes", "2"], "needs a video"),
        (["--data", str(material / "clip.mp4"), "--keyframes", "-1"], "--keyframes -1"),
        (["--data", str(material / "clip.mp4"), "--keyframes", "2", "--keyframe-iterations", "0"],
         "--keyframe-iterations 0"),
        (["--data", str(material / "clip.mp4"), "--keyframes", "2", "--keyframe-weight", "0"], "--keyframe-weight 0"),
    ]
    for extra, text in cases:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert text in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists() and not (tmp_path / "bad.pt.work").exists()


def test_keyframe_style_and_feature_terms():
    """``KeyframeTargets.losses``: the Gram and feature parts are the meter's formulas on the crops
    against the stylised crops' own Grams and features, zero when the output is the target, weighted
    by the objective, and off unless asked for."""
    from styleflow.loss.gram import gram
    from styleflow.loss.objective import Objective
    from styleflow.options.settings import settings_from

    rng = np.random.default_rng(3)
    frame = rng.random((40, 48, 3)).astype(np.float32)
    stripes = (0.5 + 0.5 * np.sin(np.arange(48, dtype=np.float32) / 1.5))[None, :, None]
    target = np.clip(0.5 * frame + 0.5 * stripes, 0, 1).astype(np.float32)  # a "brush texture" over the frame
    meter = Stylizer(settings_from("gatys", {"weights": "random", "precision": "float32"}), [target],
                     device="cpu").meter
    identity = torch.nn.Identity()
    cpu = torch.device("cpu")
    same = KeyframeTargets([frame], [frame], crop=32).losses(identity, 0, 2, 0, cpu, meter, True)
    assert set(same) == {"keyframe", "keyframe_style", "keyframe_feature"}
    assert all(float(v) < 1e-10 for v in same.values())
    keys = KeyframeTargets([frame], [target], crop=32)
    parts = keys.losses(identity, 0, 2, 0, cpu, meter, True)
    x, y = keys.batch(0, 2, 0)
    fx, fy = meter.features(x), meter.features(y)
    style = sum(w * torch.mean((meter.s2 * gram(fx[n]) - meter.s2 * gram(fy[n])) ** 2)
                for n, w in meter.style_layers.items())
    feature = sum(w * meter.s2 * torch.mean((fx[n] - fy[n]) ** 2) for n, w in meter.content_layers.items())
    assert float(parts["keyframe_style"]) > 0 and float(parts["keyframe_feature"]) > 0
    torch.testing.assert_close(parts["keyframe_style"], style, rtol=1e-4, atol=0)
    torch.testing.assert_close(parts["keyframe_feature"], feature, rtol=1e-4, atol=0)
    torch.testing.assert_close(parts["keyframe"], (x - y).abs().mean())
    assert set(keys.losses(identity, 0, 2, 0, cpu, meter, False)) == {"keyframe"}
    total = Objective(0, 0, keyframe_weight=1, keyframe_style_weight=10, keyframe_feature_weight=100).total(parts)
    torch.testing.assert_close(total, parts["keyframe"] + 10 * parts["keyframe_style"] + 100 * parts["keyframe_feature"])
    with pytest.raises(StyleflowError, match="--keyframe-style-weight"):
        TrainSettings(**{**KEY, "keyframe_style_weight": -1.0})


@pytest.mark.slow
def test_keyframe_style_term_trains(material, tmp_path):
    """``--keyframe-style-weight``: the part is computed and recorded every step of a training."""
    rec = train([material / "style.png"], [material / "clip.mp4"], tmp_path / "ks.pt",
                TrainSettings(**{**KEY, "steps": 2, "keyframe_style_weight": 1e3, "keyframe_feature_weight": 1.0}),
                progress=False, keyframe_cache=tmp_path / "keys")
    assert rec["settings"]["keyframe_style_weight"] == 1e3
    assert rec["final_losses"]["keyframe_style"] > 0 and rec["final_losses"]["keyframe_feature"] > 0
    csv = (tmp_path / "ks.loss.csv").read_text().splitlines()
    assert "keyframe_style" in csv[0] and len(csv) == 3

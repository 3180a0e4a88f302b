"""bench/bench_ghosts.py end to end at a tiny size on the built-in demo clip (issue 24)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from styleflow.io.images import write_image

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.slow
def test_bench_ghosts_reports_every_run_against_the_fresh_reference(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(BENCH))
    import bench_ghosts

    style = tmp_path / "style.png"
    img = np.zeros((32, 32, 3), np.float32)
    img[:, ::4] = (1.0, 0.8, 0.1)
    img[::4, :] = (0.1, 0.2, 0.9)
    write_image(style, img)
    work = tmp_path / "work"
    monkeypatch.setattr(sys, "argv", [
        "bench_ghosts.py", "--clips", "demo", "--height", "32", "--frames", "4", "--fresh", "3", "4",
        "--style", str(style), "--work", str(work), "--no-progress", "--figure", str(tmp_path / "crops.png"),
        "--crop", "16", "--budget", "12", "6", "flowInit_temporalLoss", "fill:base=flowInit_temporalLoss,disocclusion_fill=recolored"])
    assert bench_ghosts.main() == 0
    out = capsys.readouterr().out
    assert "| flowInit_temporalLoss |" in out and "| fill |" in out
    summary = json.loads((work / "summary.json").read_text())
    runs = summary["clips"]["demo"]
    for label in ("flowInit_temporalLoss", "fill"):
        s = runs[label]
        assert 0.5 < s["ratio"] < 3.0 and s["warp_error"] > 0 and s["iterations"] >= 1
        assert 0.5 < s["ratio_shifted"] < 3.0 and s["ratio_shifted"] != s["ratio"]  # the off-grid crops
        assert 0 < s["mask_mean"] <= 1
    rows = (work / "demo" / "fill.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("frame,init")
    assert (work / "demo" / "fresh" / "frame_000003-i12.png").is_file()
    assert (tmp_path / "crops.png").stat().st_size > 1000

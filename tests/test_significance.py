"""Intervals, paired differences, best/tied marks, the table across the grid, the trade-off plots
and the static-region drift (issue 25), on synthetic per-frame values and tiny frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from styleflow.eval.ablation import ablation_frame, to_html, to_markdown, write_ablation
from styleflow.eval.drift import delta_e, static_drift
from styleflow.eval.grid_table import grid_frame, grid_markdown, write_grid
from styleflow.eval.plots import pareto_front, plot_grid_tradeoff, plot_tradeoff
from styleflow.eval.stats import (
    Bootstrap,
    block_length,
    expanded_tail,
    interval,
    paired,
    rank_marks,
    resample_indices,
)


def summary(variant: str, frames: list[dict], *, video: str = "clip", budget: str = "demo") -> dict:
    def mean(c):
        v = [r[c] for r in frames if r.get(c) not in (None, "")]
        return float(np.mean(v)) if v else None

    return {"video": video, "style": "starry", "resolution": 64, "iterations": budget, "variant": variant,
            "frames": len(frames), "warp_error": mean("warp_error"), "content_loss": mean("content_loss"),
            "style_loss": mean("style_loss"), "seconds_per_frame": mean("seconds"),
            "warp_error_k3": mean("warp_error_k3"), "loss_backbone": "vgg16", "flow_method": "dis"}


def per_frame(warp: np.ndarray, style: np.ndarray, n: int = 10) -> list[dict]:
    """Per-frame rows as the metrics stage writes them (frame 1 has no warping error)."""
    rows = []
    for i in range(n):
        rows.append({"frame": i + 1, "warp_error": "" if i == 0 else float(warp[i]), "content_loss": 1.0,
                     "style_loss": float(style[i]), "seconds": 2.0, "warp_error_k3": float(warp[i]) if i >= 3 else ""})
    return rows


RNG = np.random.default_rng(1)
BASE = 0.01 + 0.002 * np.sin(np.arange(10))  # the clip's own frame-to-frame difficulty
NOISE = RNG.normal(0, 1e-4, 10)
NO_INIT = per_frame(BASE, 0.02 + NOISE)
SAME = per_frame(BASE, 0.02 + NOISE)  # a copy under another name
BETTER = per_frame(BASE * 0.5 + NOISE * 0.1, 0.03 + NOISE)  # half the flicker, more style loss


# ------------------------------------------------------------ the bootstrap


def test_block_length_rule() -> None:
    assert block_length(np.zeros(9)) == 3 and block_length(np.zeros(1000)) == 10  # ceil(n^(1/3))
    assert block_length([1.0]) == 1 and block_length([1.0, 2.0, 3.0]) == 1  # at most n // 2
    ar = np.zeros(1000)
    e = np.random.default_rng(0).normal(size=1000)
    for i in range(1, 1000):
        ar[i] = 0.9 * ar[i - 1] + e[i]
    assert 25 < block_length(ar) < 60  # AR(1) plug-in: 6^(1/3) (0.9/0.19)^(2/3) 10 ≈ 51


def test_intervals_are_reproducible_and_cover_like_the_textbook() -> None:
    x = np.random.default_rng(5).normal(3.0, 2.0, 400)
    a, b = interval(x), interval(x)
    assert a == b and a.lo < a.mean < a.hi and a.mean == pytest.approx(x.mean())
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))  # iid: the bootstrap's half-width ≈ the normal one
    assert (a.hi - a.lo) / 2 == pytest.approx(half, rel=0.25)
    assert interval(x, Bootstrap(seed=1)) != a
    # the same interval recomputed independently from the documented procedure
    idx = resample_indices(len(x), a.block, 2000, 0)
    from scipy.stats import norm, t

    tail = norm.sf(math.sqrt(400 / 399) * t.ppf(0.975, 399))  # the expanded percentile interval
    assert np.quantile(x[idx].mean(axis=1), [tail, 1 - tail]) == pytest.approx([a.lo, a.hi])
    assert expanded_tail(9) == pytest.approx(norm.sf(math.sqrt(9 / 8) * 2.306004), rel=1e-5)
    starts = np.random.default_rng(0).integers(0, 400, size=(2000, math.ceil(400 / a.block)))
    assert idx[7, : a.block].tolist() == [(starts[7, 0] + j) % 400 for j in range(a.block)]
    assert math.isnan(interval([1.0]).lo) and interval([np.nan, 2.0, np.nan]).n == 1


def test_paired_difference_and_marks() -> None:
    s = lambda rows: {r["frame"]: (r["warp_error"] if r["warp_error"] != "" else math.nan) for r in rows}  # noqa: E731
    d = paired(s(BETTER), s(NO_INIT))
    want = np.mean([BETTER[i]["warp_error"] - NO_INIT[i]["warp_error"] for i in range(1, 10)])
    assert d.mean == pytest.approx(want) and d.hi < 0 and d.excludes_zero()
    same = paired(s(SAME), s(NO_INIT))
    assert same.mean == 0 and not same.excludes_zero()
    assert rank_marks({"a": s(NO_INIT), "b": s(BETTER)}) == {"a": "", "b": "best"}
    assert rank_marks({"a": s(NO_INIT), "b": s(SAME)}) == {"a": "tied", "b": "tied"}


# ------------------------------------------------------------ the tables


def table(reference: str = "noInit"):
    runs = [("noInit", NO_INIT), ("renamedNoInit", SAME), ("flowInit_temporalLoss", BETTER)]
    return ablation_frame([summary(v, f) for v, f in runs], [f for _, f in runs], reference)


def test_table_marks_significant_best_and_tied_and_pairs_with_the_reference() -> None:
    df = table().set_index("variant")
    assert df.loc["flowInit_temporalLoss", "warp_error_mark"] == "best"
    assert df.loc["noInit", "warp_error_mark"] == "" == df.loc["renamedNoInit", "warp_error_mark"]
    # two variants that differ by nothing but the name: tied for the lowest style loss
    assert df.loc["noInit", "style_loss_mark"] == "tied" == df.loc["renamedNoInit", "style_loss_mark"]
    assert df.loc["flowInit_temporalLoss", "style_loss_mark"] == ""
    assert df.loc["renamedNoInit", "warp_error_vs_ref"] == 0 and math.isnan(df.loc["noInit", "warp_error_vs_ref"])
    row = df.loc["flowInit_temporalLoss"]
    assert row.warp_error_vs_ref_hi < 0 < row.style_loss_vs_ref_lo  # better flicker, worse style
    assert row.warp_error_lo < row.warp_error < row.warp_error_hi
    assert row.warp_error_k3_vs_ref < 0 and row.warp_error_k3_mark == "best"
    assert (df.reference == "noInit").all()
    md = to_markdown(table())
    assert "≈0.02" in md and "Paired difference to noInit" in md and "**" in md and " [" in md
    assert "warping error t→t+3" in md
    assert 'class="tied"' in to_html(table()) and 'class="sig"' in to_html(table())


def test_another_reference_and_summaries_without_frames() -> None:
    df = table("flowInit_temporalLoss").set_index("variant")
    assert df.loc["noInit", "warp_error_vs_ref_lo"] > 0
    plain = ablation_frame([summary("noInit", NO_INIT), summary("flowInit_temporalLoss", BETTER)])
    assert sorted(plain.warp_error_mark) == ["", "lowest"] and plain.warp_error_lo.isna().all()


def test_grid_table_counts_wins_and_aggregates_over_runs(tmp_path: Path) -> None:
    runs, frames = [], []
    for video in ("a", "b", "c"):
        for v, f in (("noInit", NO_INIT), ("flowInit_temporalLoss", BETTER)):
            runs.append(summary(v, f, video=video))
            frames.append(f)
    runs[-1] = summary("flowInit_temporalLoss", NO_INIT, video="c")  # no better on video c
    frames[-1] = NO_INIT
    df = write_ablation(runs, tmp_path / "a.csv", frames=frames)
    grid = write_grid(df, tmp_path / "g.csv", tmp_path / "g.md", tmp_path / "g.html").set_index("variant")
    row = grid.loc["flowInit_temporalLoss"]
    assert row.runs == 3 and row.warp_error_wins == 2 and row.warp_error_sig_wins == 2 and row.warp_error_compared == 3
    values = df[df.variant == "flowInit_temporalLoss"].warp_error
    half = 4.302653 * values.std(ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert row.warp_error == pytest.approx(values.mean()) and row.warp_error_hi == pytest.approx(values.mean() + half)
    assert "2/3 (2)" in (tmp_path / "g.md").read_text() and pd.read_csv(tmp_path / "g.csv").shape[0] == 2
    one = grid_frame(df[df.video == "a"]).set_index("variant").loc["flowInit_temporalLoss"]
    assert one.interval == "over frames (1 run)" and one.warp_error_lo == df.warp_error_lo[df.video == "a"].min()
    assert "over runs" in grid_markdown(grid.reset_index())
    plot_grid_tradeoff(grid.reset_index(), tmp_path / "grid")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_tradeoff_plot_with_intervals_and_front(tmp_path: Path) -> None:
    assert pareto_front([(1, 3), (2, 2), (3, 3), (0.5, 5), (math.nan, 0)]) == [3, 0, 1]
    runs = [(summary(v, f), [{k: str(x) for k, x in r.items()} for r in f])
            for v, f in (("noInit", NO_INIT), ("flowInit_temporalLoss", BETTER))]
    paths = plot_tradeoff(runs, tmp_path / "tradeoff")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 0 for p in paths)
    assert "Pareto front" in paths[1].read_text()


# ------------------------------------------------------------ static-region drift


def test_static_drift_against_known_colours() -> None:
    n, h, w = 20, 8, 10
    inputs = [np.full((h, w, 3), 0.5, np.float32) for _ in range(n)]
    outputs = [np.full((h, w, 3), [0.2 + 0.01 * i, 0.4, 0.6], np.float32) for i in range(n)]
    flows = [np.zeros((h, w, 2), np.float32) for _ in range(n - 1)]
    for f in flows:
        f[:, :3] = 2.0  # the left columns move: not static
    for o in outputs:
        o[:, :3] = 0.0
    d = static_drift(outputs, inputs, flows)
    first, last = np.array([0.2 + 0.005, 0.4, 0.6]), np.array([0.2 + 0.01 * 18.5, 0.4, 0.6])  # tenths: 2 frames
    assert d["drift_de"] == pytest.approx(delta_e(first, last)) and d["drift_de"] > 5
    assert d["drift_de_input"] == pytest.approx(0.0, abs=1e-9) and d["static_fraction"] == pytest.approx(0.7)
    pan = [np.ones((h, w, 2), np.float32)] * (n - 1)
    assert math.isnan(static_drift(outputs, inputs, pan)["drift_de"])


# ------------------------------------------------------------ the config's metrics section


def test_metrics_config_defaults_and_bad_values() -> None:
    import yaml
    from snakemake.utils import validate

    repo = Path(__file__).resolve().parents[1]
    schema = str(repo / "workflow" / "schemas" / "config.schema.yaml")
    load = lambda name: yaml.safe_load((repo / "config" / name).read_text())  # noqa: E731
    cfg = load("tiny.yaml")
    validate(cfg, schema)
    assert cfg["metrics"]["reference"] == "noInit" and cfg["metrics"]["long_term_offsets"] == [10]
    assert cfg["metrics"]["bootstrap"] == {"resamples": 2000, "seed": 0, "confidence": 0.95}
    default = load("config.yaml")
    validate(default, schema)
    assert default["metrics"]["long_term_offsets"] == [5]  # the 10-frame demo clip
    for bad in ({"long_term_offsets": [1]}, {"reference": "no init"}, {"bootstrap": {"confidence": 1.5}}):
        cfg = load("tiny.yaml")
        cfg["metrics"] = bad
        with pytest.raises(Exception, match="metrics"):
            validate(cfg, schema)

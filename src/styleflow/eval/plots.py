"""Plots of one (video, style, resolution) group of runs, as PNG and SVG (matplotlib, Agg).

* :func:`plot_warp_error`: warping error per frame pair, one line per run (variant);
* :func:`plot_tradeoff`: style loss against warping error (left) and against the long-term
  warping error t → t+k (right), one point per run with both 95 % intervals as error bars and
  the Pareto front (the runs no other run beats on both) — lower left is better on both;
* :func:`plot_seconds`: seconds per frame by run;
* :func:`plot_grid_tradeoff`: the same trade-off over the whole grid, one point per variant
  (mean over runs, intervals of :mod:`styleflow.eval.grid_table`).

Each takes ``runs``: a list of ``(summary, frames)`` with ``summary`` an ablation row
(:func:`styleflow.eval.ablation.run_summary`) and ``frames`` the run's per-frame metric rows.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from styleflow.eval.ablation import long_term_offsets, read_summaries
from styleflow.eval.significance import frame_series
from styleflow.eval.stats import Bootstrap, interval
from styleflow.io.atomic import atomic_path

Run = tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]


def _pyplot():
    import matplotlib  # here, not at the top: matplotlib takes ~1.7 s; the workflow imports this module

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "styleflow"  # stable SVG ids: same data, same file
    return plt


def label(summary: Mapping[str, Any], runs: Sequence[Run]) -> str:
    """The variant's name, prefixed by the budget when the group has more than one budget."""
    budgets = {s["iterations"] for s, _ in runs}
    return f"{summary['iterations']}/{summary['variant']}" if len(budgets) > 1 else str(summary["variant"])


def _title(runs: Sequence[Run], what: str) -> str:
    s = runs[0][0]
    return f"{what}\n{s['video']} / {s['style']} / {s['resolution']} px"


def _save(fig, out_base: str | os.PathLike[str]) -> list[Path]:
    """Save ``fig`` as ``out_base.png`` and ``out_base.svg`` (atomically); return both paths."""
    paths = []
    for ext, extra in (("png", {"dpi": 120, "metadata": {"Software": None}}), ("svg", {"metadata": {"Date": None}})):
        p = Path(f"{out_base}.{ext}")
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", **extra)
        paths.append(p)
    return paths


def _num(v: Any) -> float:
    try:
        return float(v) if v not in (None, "") else math.nan
    except (TypeError, ValueError):
        return math.nan


def plot_warp_error(runs: Sequence[Run], out_base: str | os.PathLike[str]) -> list[Path]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    from matplotlib.ticker import MaxNLocator  # with matplotlib, only when plotting (see _pyplot)

    for summary, frames in runs:
        xs = [int(r["frame"]) for r in frames if not math.isnan(_num(r.get("warp_error")))]
        ys = [_num(r["warp_error"]) for r in frames if not math.isnan(_num(r.get("warp_error")))]
        (line,) = ax.plot(xs, ys, marker="o", markersize=3,
                          label=f"{label(summary, runs)} (mean {_num(summary['warp_error']):.3g})")
        png = [(int(r["frame"]), _num(r.get("warp_error_png"))) for r in frames]
        png = [(x, y) for x, y in png if not math.isnan(y)]
        if png:  # the same on the lossless frames: dashed, same colour
            ax.plot([x for x, _ in png], [y for _, y in png], linestyle="--", linewidth=1, color=line.get_color(),
                    label=f"{label(summary, runs)}, PNG frames (mean {_num(summary.get('warp_error_png')):.3g})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("frame t (pair t−1 → t); solid: encoded video, dashed: lossless PNG frames")
    ax.set_ylabel("warping error E(t)")
    ax.set_title(_title(runs, "Temporal warping error per frame (lower: less flicker)"), fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths = _save(fig, out_base)
    plt.close(fig)
    return paths


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (lower is better), sorted
    by the first coordinate; points with a NaN are left out."""
    ok = [i for i, (x, y) in enumerate(points) if not (math.isnan(x) or math.isnan(y))]
    front = [i for i in ok if not any(points[j][0] <= points[i][0] and points[j][1] <= points[i][1]
                                      and points[j] != points[i] for j in ok)]
    return sorted(front, key=lambda i: points[i])


def _errorbar(lo: float, mean: float, hi: float) -> list[float]:
    if any(math.isnan(v) for v in (lo, mean, hi)):
        return [0.0, 0.0]
    return [max(0.0, mean - lo), max(0.0, hi - mean)]


def _tradeoff_panel(ax, points: Sequence[tuple[str, tuple[float, float, float], tuple[float, float, float]]],
                    xlabel: str, empty: str) -> None:
    """One panel: ``(label, (x_lo, x, x_hi), (y_lo, y, y_hi))`` per point, error bars, Pareto front."""
    shown = [(n, x, y) for n, x, y in points if not (math.isnan(x[1]) or math.isnan(y[1]))]
    if not shown:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, fontsize=9, wrap=True)
        ax.set_xticks([])  # the y axis is shared with the other panel: leave it
        ax.set_xlabel(xlabel)
        return
    for name, x, y in shown:
        ax.errorbar([x[1]], [y[1]], xerr=[[v] for v in _errorbar(*x)], yerr=[[v] for v in _errorbar(*y)],
                    fmt="o", markersize=5, capsize=3, elinewidth=1)
        ax.annotate(name, (x[1], y[1]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    front = pareto_front([(x[1], y[1]) for _, x, y in shown])
    if len(front) > 1:
        fx, fy = [shown[i][1][1] for i in front], [shown[i][2][1] for i in front]
        ax.step(fx, fy, where="post", color="0.4", linestyle=":", linewidth=1.2, label="Pareto front")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.margins(0.2)


def run_interval(summary: Mapping[str, Any], frames: Sequence[Mapping[str, Any]], metric: str,
                 boot=None) -> tuple[float, float, float]:
    """``(lo, mean, hi)`` of a run's metric: the mean from its summary, the interval from its frames."""

    mean = _num(summary.get(metric))
    series = frame_series(frames, metric)
    if series is None or math.isnan(mean):
        return (math.nan, mean, math.nan)
    iv = interval([series[f] for f in sorted(series)], boot or Bootstrap())
    return (iv.lo, mean, iv.hi)


def _long_offset(keys) -> int | None:

    offsets = long_term_offsets(keys)
    return offsets[0] if offsets else None


def plot_tradeoff(runs: Sequence[Run], out_base: str | os.PathLike[str], boot=None) -> list[Path]:
    plt = _pyplot()
    k = _long_offset(runs[0][0].keys())
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, metric, xlabel in ((axes[0], "warp_error", "warping error t−1 → t (mean over pairs, 95 % interval)"),
                               (axes[1], f"warp_error_k{k}" if k else None, f"warping error t → t+{k or 'k'}")):
        points = [(label(s, runs), run_interval(s, f, metric, boot) if metric else (math.nan,) * 3,
                   run_interval(s, f, "style_loss", boot)) for s, f in runs]
        n = runs[0][0].get("frames")
        _tradeoff_panel(ax, points, xlabel, f"no frame pair {k} apart: the clip has {n} frames"
                        if k else "no long-term offset configured (metrics: long_term_offsets)")
    axes[0].set_ylabel("style loss (fixed backbone, mean over frames)")
    fig.suptitle(_title(runs, "Style against temporal consistency (lower left is better)"), fontsize=10)
    paths = _save(fig, out_base)
    plt.close(fig)
    return paths


def plot_grid_tradeoff(grid, out_base: str | os.PathLike[str]) -> list[Path]:
    """The trade-off over the grid: one point per row of the grid table (variant), both panels."""
    plt = _pyplot()
    k = _long_offset(grid.columns)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)

    def tri(row, c):
        return tuple(_num(row.get(x)) for x in (f"{c}_lo", c, f"{c}_hi")) if c in row else (math.nan,) * 3

    names = [f"{r['iterations']}/{r['variant']}" if grid["iterations"].nunique() > 1 else str(r["variant"])
             for _, r in grid.iterrows()]
    if "resolution" in grid:
        names = [f"{n} ({r['resolution']} px)" for n, (_, r) in zip(names, grid.iterrows())]
    for ax, metric, xlabel in ((axes[0], "warp_error", "warping error t−1 → t"),
                               (axes[1], f"warp_error_k{k}" if k else "", f"warping error t → t+{k or 'k'}")):
        points = [(n, tri(r, metric), tri(r, "style_loss")) for n, (_, r) in zip(names, grid.iterrows())]
        how = "mean over runs, 95 % interval" if len(grid) and grid["runs"].min() > 1 else "1 run: 95 % interval over its frames"
        _tradeoff_panel(ax, points, f"{xlabel} ({how})",
                        "no run has a frame pair that far apart" if k else "no long-term offset configured")
    axes[0].set_ylabel("style loss (mean over runs)")
    runs = int(grid["runs"].max()) if len(grid) else 0
    fig.suptitle(f"Style against temporal consistency over the grid ({runs} run(s) per variant; lower left is better)",
                 fontsize=10)
    paths = _save(fig, out_base)
    plt.close(fig)
    return paths


def plot_seconds(runs: Sequence[Run], out_base: str | os.PathLike[str]) -> list[Path]:
    plt = _pyplot()
    names = [label(s, runs) for s, _ in runs]
    values = [_num(s["seconds_per_frame"]) for s, _ in runs]
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(runs) + 1.5))
    bars = ax.barh(names, values, color="#4c72b0")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=8, padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per frame (stylisation, mean)")
    ax.set_title(_title(runs, "Time per frame by variant"), fontsize=10)
    ax.margins(x=0.15)
    paths = _save(fig, out_base)
    plt.close(fig)
    return paths


def plot_group(runs: Sequence[Run], out_dir: str | os.PathLike[str], boot=None) -> list[Path]:
    """All three plots of a group into ``out_dir`` (``warp_error``, ``tradeoff``, ``seconds`` .png/.svg)."""
    out = Path(out_dir)
    return (plot_warp_error(runs, out / "warp_error") + plot_tradeoff(runs, out / "tradeoff", boot)
            + plot_seconds(runs, out / "seconds"))


def read_runs(summaries: Sequence[str | os.PathLike[str]], frames: Sequence[str | os.PathLike[str]]) -> list[Run]:
    """``(summary, per-frame rows)`` of each run from its ``metrics.json`` and ``metrics.csv``."""

    if len(summaries) != len(frames):
        raise ValueError("plots: one metrics.csv per metrics.json is needed")
    runs = []
    for summary, path in zip(read_summaries(summaries), frames):
        with open(path, newline="", encoding="utf-8") as fh:
            runs.append((summary, list(csv.DictReader(fh))))
    runs.sort(key=lambda r: (str(r[0]["iterations"]), str(r[0]["variant"])))
    return runs

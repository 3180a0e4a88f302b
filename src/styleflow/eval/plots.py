"""Plots of one (video, style, resolution) group of runs, as PNG and SVG (matplotlib, Agg).

* :func:`plot_warp_error`: warping error per frame pair, one line per run (variant);
* :func:`plot_tradeoff`: style loss against warping error, one point per run — lower left is
  better on both;
* :func:`plot_seconds`: seconds per frame by run.

Each takes ``runs``: a list of ``(summary, frames)`` with ``summary`` an ablation row
(:func:`styleflow.eval.ablation.run_summary`) and ``frames`` the run's per-frame metric rows.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from styleflow.io.atomic import atomic_path

Run = tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]


def _pyplot():
    import matplotlib

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
    from matplotlib.ticker import MaxNLocator

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


def plot_tradeoff(runs: Sequence[Run], out_base: str | os.PathLike[str]) -> list[Path]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for summary, _ in runs:
        x, y = _num(summary["warp_error"]), _num(summary["style_loss"])
        ax.scatter([x], [y], s=40)
        ax.annotate(label(summary, runs), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("warping error (mean over frame pairs)")
    ax.set_ylabel("style loss (fixed backbone, mean over frames)")
    ax.set_title(_title(runs, "Style against temporal consistency (lower left is better)"), fontsize=10)
    ax.grid(alpha=0.3)
    ax.margins(0.2)
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


def plot_group(runs: Sequence[Run], out_dir: str | os.PathLike[str]) -> list[Path]:
    """All three plots of a group into ``out_dir`` (``warp_error``, ``tradeoff``, ``seconds`` .png/.svg)."""
    out = Path(out_dir)
    return (plot_warp_error(runs, out / "warp_error") + plot_tradeoff(runs, out / "tradeoff")
            + plot_seconds(runs, out / "seconds"))


def read_runs(summaries: Sequence[str | os.PathLike[str]], frames: Sequence[str | os.PathLike[str]]) -> list[Run]:
    """``(summary, per-frame rows)`` of each run from its ``metrics.json`` and ``metrics.csv``."""
    import csv

    from styleflow.eval.ablation import read_summaries

    if len(summaries) != len(frames):
        raise ValueError("plots: one metrics.csv per metrics.json is needed")
    runs = []
    for summary, path in zip(read_summaries(summaries), frames):
        with open(path, newline="", encoding="utf-8") as fh:
            runs.append((summary, list(csv.DictReader(fh))))
    runs.sort(key=lambda r: (str(r[0]["iterations"]), str(r[0]["variant"])))
    return runs

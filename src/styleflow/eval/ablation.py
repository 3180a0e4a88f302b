"""The ablation table: one row per run, as CSV, Markdown and HTML, the best value of each metric marked.

A run is one (video, style, resolution, iterations, variant) of the grid; ``iterations`` is the
name of its iteration budget (the grid's axis; ``first_iterations``/``later_iterations`` hold the
budgets the run actually used, which a variant such as ``moreSteps`` may set itself). Rows come from
the per-run ``metrics.json`` summaries written by the metrics stage (:func:`run_summary`).

Lower is better for every compared metric (:data:`COMPARED`); within each (video, style,
resolution) group the lowest value is marked (bold in Markdown and HTML).
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_text

KEY = ("video", "style", "resolution", "iterations", "variant")
GROUP = ("video", "style", "resolution")

#: Columns of results/ablation.csv, in order.
ABLATION_COLUMNS = (
    *KEY,
    "frames",
    "warp_error",
    "content_loss",
    "style_loss",
    "temporal_loss",
    "warp_error_png",
    "seconds_per_frame",
    "iterations_per_frame",
    "training_seconds",
    "first_iterations",
    "later_iterations",
    "warp_mask",
    "backbone",
    "weights_file",
    "loss_backbone",
    "flow_method",
    "measured_on",
    "plan",
)

#: Metrics compared within a group (lower is better) and how they are titled.
COMPARED = {
    "warp_error": "warping error",
    "warp_error_png": "warping error on the lossless frames",
    "content_loss": "content loss",
    "style_loss": "style loss",
    "seconds_per_frame": "s / frame",
}

#: Columns shown in the Markdown and HTML tables (the CSV has them all).
SHOWN = ("iterations", "variant", "frames", "warp_error", "warp_error_png", "content_loss", "style_loss",
         "temporal_loss", "seconds_per_frame", "iterations_per_frame", "training_seconds")

TITLES = {
    "iterations": "budget", "variant": "variant", "frames": "frames", "warp_error": "warping error ↓",
    "warp_error_png": "warping error, PNG frames ↓",
    "content_loss": "content loss ↓", "style_loss": "style loss ↓", "temporal_loss": "temporal loss (run)",
    "seconds_per_frame": "s / frame ↓", "iterations_per_frame": "iterations / frame",
    "training_seconds": "training s (model)",
}


def run_summary(
    run: Mapping[str, Any],
    record: Mapping[str, Any],
    clip_summary: Mapping[str, Any],
    run_means: Mapping[str, Any],
    *,
    flow_method: str,
    measured_on: str,
) -> dict[str, Any]:
    """One ablation row: the run's grid key (``video, style, resolution, iterations, variant``),
    its ``run.json`` record, the clip's metric summary and the means from its ``frames.csv``."""
    missing = [k for k in KEY if k not in run]
    if missing:
        raise StyleflowError(f"run summary: missing key(s) {', '.join(missing)}")
    loss = clip_summary.get("loss_backbone") or {}
    return {
        **{k: run[k] for k in KEY},
        "resolution": int(run["resolution"]),
        "frames": int(clip_summary["frames"]),
        "warp_error": clip_summary["warp_error"],
        "content_loss": clip_summary["content_loss"],
        "style_loss": clip_summary["style_loss"],
        "temporal_loss": run_means.get("temporal_loss"),
        "seconds_per_frame": run_means.get("seconds_per_frame"),
        "iterations_per_frame": run_means.get("iterations_per_frame"),
        # feed-forward variants: the seconds their network took to train (once, shared by its runs)
        "training_seconds": record.get("training_seconds"),
        "first_iterations": record.get("first_iterations"),
        "later_iterations": record.get("iterations"),
        "warp_mask": clip_summary.get("warp_mask"),
        "backbone": f"{record.get('backbone')} ({record.get('weights_source')})",
        "weights_file": record.get("weights_file"),
        "loss_backbone": f"{loss.get('backbone')} ({loss.get('weights_source')})" if loss else None,
        "flow_method": flow_method,
        "measured_on": measured_on,
        "plan": record.get("plan"),  # the hash of the run's plan (workflow/rules/plan.smk)
        "details": {"height": clip_summary.get("height"), "width": clip_summary.get("width"),
                    "warp_pairs": clip_summary.get("warp_pairs"), "loss_backbone": loss or None,
                    "seconds_total": run_means.get("seconds_total")},
    }


def read_summaries(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    out = []
    for p in paths:
        try:
            out.append(json.loads(Path(p).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise StyleflowError(f"{p}: not a readable metrics summary ({exc}); re-run the metrics stage") from None
    return out


def ablation_frame(summaries: Sequence[Mapping[str, Any]]):
    """The ablation table as a pandas DataFrame: one row per run, sorted by key.

    Raises:
        StyleflowError: two summaries describe the same run.
    """
    import pandas as pd

    rows = [{c: s.get(c) for c in ABLATION_COLUMNS} for s in summaries]
    df = pd.DataFrame(rows, columns=list(ABLATION_COLUMNS))
    dup = df.duplicated(subset=list(KEY), keep=False)
    if dup.any():
        first = df[dup].iloc[0]
        raise StyleflowError(
            "ablation: run " + "/".join(str(first[k]) for k in KEY) + " appears more than once; "
            "each (video, style, resolution, iterations, variant) must be summarised once"
        )
    for c in COMPARED:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df.sort_values(list(KEY), kind="stable").reset_index(drop=True)


def best_mask(df) -> dict[str, Any]:
    """``{metric: boolean Series}``: True where a row holds its group's lowest value of the metric."""
    out = {}
    for c in COMPARED:
        lowest = df.groupby(list(GROUP))[c].transform("min")
        out[c] = (df[c] == lowest) & df[c].notna()
    return out


def fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e4:
            return f"{v:.4g}"
        return f"{v:.3e}"
    return str(v)


def _groups(df):
    for key, sub in df.groupby(list(GROUP), sort=True):
        yield dict(zip(GROUP, key)), sub


def to_markdown(df) -> str:
    """Markdown: one section and table per (video, style, resolution), best values in bold."""
    best = best_mask(df)
    lines = [
        "# Ablation",
        "",
        "One row per run. Lower is better for warping error (Lai et al. 2018, on the encoded video; "
        "also on the lossless PNG frames, without the codec's share), content and style loss (one fixed backbone for every run) and seconds per frame; "
        "the best value of each in its group is **bold**.",
        "",
    ]
    if len(df):
        first = df.iloc[0]
        lines += [f"Losses measured with: {first['loss_backbone']}; flow: {first['flow_method']}.", ""]
    for g, sub in _groups(df):
        lines += [f"## {g['video']} / {g['style']} / {g['resolution']} px", ""]
        lines.append("| " + " | ".join(TITLES[c] for c in SHOWN) + " |")
        lines.append("|" + "|".join(" --- " if c in ("iterations", "variant") else " ---: " for c in SHOWN) + "|")
        for i, row in sub.iterrows():
            cells = []
            for c in SHOWN:
                text = fmt(row[c]).replace("|", "\\|")
                if c in best and bool(best[c][i]):
                    text = f"**{text}**"
                cells.append(text)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def to_html(df, title: str = "Ablation") -> str:
    """A self-contained HTML page with the same tables as :func:`to_markdown`."""
    best = best_mask(df)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0 2em}"
        "th,td{border:1px solid #ccc;padding:0.3em 0.7em;text-align:right}"
        "th{background:#f0f0f0}td.name{text-align:left}td.best{font-weight:bold;background:#e6f4e6}"
        "p.note{max-width:60em}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        '<p class="note">One row per run. Lower is better for the warping error (Lai et al. 2018, '
        "measured on the encoded video with the flow of the input frames; also on the lossless PNG "
        "frames, without what the codec adds), the content and style "
        "losses (one fixed backbone for every run) and the seconds per frame; the best value of "
        "each in its group is <b>bold</b> on green.</p>",
    ]
    if len(df):
        first = df.iloc[0]
        parts.append(f'<p class="note">Losses measured with {esc(str(first["loss_backbone"]))}; '
                     f"optical flow {esc(str(first['flow_method']))}.</p>")
    for g, sub in _groups(df):
        gid = f"{g['video']}-{g['style']}-{g['resolution']}"
        parts.append(f"<h2>{esc(str(g['video']))} / {esc(str(g['style']))} / {g['resolution']} px</h2>")
        parts.append(f'<table class="ablation" id="ablation-{esc(gid)}"><thead><tr>'
                     + "".join(f"<th>{esc(TITLES[c])}</th>" for c in SHOWN) + "</tr></thead><tbody>")
        for i, row in sub.iterrows():
            cells = []
            for c in SHOWN:
                cls = []
                if c in ("iterations", "variant"):
                    cls.append("name")
                if c in best and bool(best[c][i]):
                    cls.append("best")
                attr = f' class="{" ".join(cls)}"' if cls else ""
                cells.append(f"<td{attr}>{esc(fmt(row[c]))}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def to_csv(df) -> str:
    return df.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def write_ablation(
    summaries: Sequence[Mapping[str, Any]],
    csv_path: str | os.PathLike[str],
    md_path: str | os.PathLike[str] | None = None,
    html_path: str | os.PathLike[str] | None = None,
):
    """Write the table (atomically) as CSV, and Markdown/HTML when paths are given; return it."""
    df = ablation_frame(summaries)
    write_text(csv_path, to_csv(df))
    if md_path:
        write_text(md_path, to_markdown(df))
    if html_path:
        write_text(html_path, to_html(df))
    return df

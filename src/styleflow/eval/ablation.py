"""The ablation table: one row per run, as CSV, Markdown and HTML, with intervals, paired
differences to a reference variant, and the best value of each metric marked where it is significant.

A run is one (video, style, resolution, iterations, variant) of the grid; ``iterations`` is the
name of its iteration budget (the grid's axis; ``first_iterations``/``later_iterations`` hold the
budgets the run actually used, which a variant such as ``moreSteps`` may set itself). Rows come from
the per-run ``metrics.json`` summaries written by the metrics stage (:func:`run_summary`).

Lower is better for every compared metric (:func:`compared`). With the runs' per-frame values
(``metrics.csv``), each compared metric gets a 95 % block-bootstrap interval and the paired
difference to the reference variant (:mod:`styleflow.eval.significance`); within each (video,
style, resolution) group the lowest value is **best** (bold) only where its interval of
difference separates it from every other run, else it and the runs it cannot be told from are
**tied** (``≈``). Without per-frame values the lowest value is bold, as before.
"""

from __future__ import annotations

import html
import math
import os
from typing import Any, Iterable, Mapping, Sequence

from styleflow.errors import StyleflowError
from styleflow.eval.significance import REFERENCE, add_intervals, frame_series
from styleflow.eval.stats import Bootstrap
from styleflow.eval.summaries import KEY, LONG_TERM, read_frames, read_summaries, run_summary

__all__ = [  # one run's row and reading them live in styleflow.eval.summaries; re-exported here
    "ABLATION_COLUMNS", "COMPARED", "GROUP", "KEY", "ablation_frame", "best_mask", "compared", "read_frames",
    "read_summaries", "run_summary", "tied_mask", "to_csv", "to_html", "to_markdown", "write_ablation",
]
from styleflow.io.atomic import write_text

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
    # issue 25: added at the end (existing readers keep their columns)
    "warp_error_lai",
    "warp_mask_lai",
    "warp_protocol",
    "drift_de",
    "drift_de_input",
    "static_fraction",
)

#: Long-term warping error columns ``warp_error_k{k}`` (one per configured offset) follow
#: :data:`ABLATION_COLUMNS`, then ``reference`` and the interval columns of each compared metric.

#: Metrics compared within a group (lower is better) and how they are titled.
COMPARED = {
    "warp_error": "warping error",
    "warp_error_png": "warping error on the lossless frames",
    "warp_error_lai": "warping error, Lai et al.'s mask",
    "content_loss": "content loss",
    "style_loss": "style loss",
    "seconds_per_frame": "s / frame",
}

#: Columns shown in the Markdown and HTML tables (the CSV has them all).
SHOWN = ("iterations", "variant", "frames", "warp_error", "warp_error_png", "warp_error_lai", "content_loss",
         "style_loss", "temporal_loss", "seconds_per_frame", "iterations_per_frame", "training_seconds",
         "drift_de", "drift_de_input")

TITLES = {
    "iterations": "budget", "variant": "variant", "frames": "frames", "warp_error": "warping error ↓",
    "warp_error_png": "warping error, PNG frames ↓",
    "content_loss": "content loss ↓", "style_loss": "style loss ↓", "temporal_loss": "temporal loss (run)",
    "seconds_per_frame": "s / frame ↓", "iterations_per_frame": "iterations / frame",
    "training_seconds": "training s (model)", "warp_error_lai": "warping error, Lai mask ↓",
    "drift_de": "static drift ΔE", "drift_de_input": "input's drift ΔE",
}


def long_term_offsets(columns: Iterable[str]) -> list[int]:
    """The offsets k of the ``warp_error_k{k}`` columns among ``columns``, ascending."""
    return sorted(int(m.group(1)) for c in columns if (m := LONG_TERM.match(str(c))))


def compared(df) -> list[str]:
    """The compared metrics of a table: :data:`COMPARED` and its long-term warping errors."""
    return [*COMPARED, *(f"warp_error_k{k}" for k in long_term_offsets(df.columns))]


def shown(df) -> list[str]:
    """The columns the Markdown and HTML tables show (long-term errors after the consecutive ones)."""
    out = list(SHOWN)
    at = out.index("warp_error_lai") + 1
    return out[:at] + [f"warp_error_k{k}" for k in long_term_offsets(df.columns)] + out[at:]


def title(c: str) -> str:
    m = LONG_TERM.match(c)
    return f"warping error t→t+{m.group(1)} ↓" if m else TITLES[c]


def ablation_frame(
    summaries: Sequence[Mapping[str, Any]],
    frames: Sequence[Sequence[Mapping[str, Any]] | None] | None = None,
    reference: str = REFERENCE,
    boot: Bootstrap = Bootstrap(),
):
    """The ablation table as a pandas DataFrame: one row per run, sorted by key.

    Args:
        summaries: the runs' ``metrics.json`` rows.
        frames: for each summary, its per-frame rows (``metrics.csv``; None: not available); with
            them the interval, paired-difference and mark columns are filled.
        reference: the variant paired differences are taken against.
        boot: bootstrap settings.

    Raises:
        StyleflowError: two summaries describe the same run.
    """
    import pandas as pd  # here: pandas takes ~1.6 s; the CLI and metrics jobs import this module without it

    longs = sorted({k for s in summaries for k in s if LONG_TERM.match(k)}, key=lambda c: int(c[12:]))
    columns = [*ABLATION_COLUMNS, *longs]
    rows = [{c: s.get(c) for c in columns} for s in summaries]
    df = pd.DataFrame(rows, columns=columns)
    dup = df.duplicated(subset=list(KEY), keep=False)
    if dup.any():
        first = df[dup].iloc[0]
        raise StyleflowError(
            "ablation: run " + "/".join(str(first[k]) for k in KEY) + " appears more than once; "
            "each (video, style, resolution, iterations, variant) must be summarised once"
        )
    metrics = compared(df)
    for c in metrics:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    series = [{c: frame_series(f, c) for c in metrics} for f in (frames or [None] * len(summaries))]
    if len(series) != len(df):
        raise StyleflowError(f"ablation: {len(summaries)} summaries but {len(series)} per-frame tables")
    df = add_intervals(df, series, metrics, GROUP, reference, boot)
    return df.sort_values(list(KEY), kind="stable").reset_index(drop=True)


def best_mask(df) -> dict[str, Any]:
    """``{metric: boolean Series}``: True where a row is marked ``best`` (or, without per-frame
    values, ``lowest``) in its group."""
    out = {}
    for c in compared(df):
        if c + "_mark" in df:
            out[c] = df[c + "_mark"].isin(["best", "lowest"])
        else:
            lowest = df.groupby(list(GROUP))[c].transform("min")
            out[c] = (df[c] == lowest) & df[c].notna()
    return out


def tied_mask(df) -> dict[str, Any]:
    """``{metric: boolean Series}``: True where a row is ``tied`` for its group's lowest value."""
    return {c: df[c + "_mark"] == "tied" for c in compared(df) if c + "_mark" in df}


def fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e4:
            return f"{v:.4g}"
        return f"{v:.3e}"
    return str(v)


def with_interval(row, c: str, value: str | None = None) -> str:
    """``mean [lo, hi]`` of column ``c`` in ``row`` (the mean alone without an interval)."""
    text = fmt(row[c]) if value is None else value
    lo, hi = row.get(f"{c}_lo"), row.get(f"{c}_hi")
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)) or text == "–":
        return text
    return f"{text} [{fmt(lo)}, {fmt(hi)}]"


def difference(row, c: str) -> tuple[str, bool]:
    """``Δ [lo, hi]`` of the paired difference to the reference, and whether it is significant."""
    d, lo, hi = row.get(f"{c}_vs_ref"), row.get(f"{c}_vs_ref_lo"), row.get(f"{c}_vs_ref_hi")
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return "–", False
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return f"{d:+.3g}", False
    return f"{d:+.3g} [{lo:+.3g}, {hi:+.3g}]", bool(lo > 0 or hi < 0)


def _groups(df):
    for key, sub in df.groupby(list(GROUP), sort=True):
        yield dict(zip(GROUP, key)), sub


HOW_TO_READ = (
    "Each compared metric (↓: lower is better) is the run's mean with its 95 % interval [lo, hi] "
    "(block bootstrap over frames). In each group the lowest value is **bold** only when the paired "
    "interval of every other run's difference to it excludes 0; otherwise ≈ marks the runs tied for "
    "the lowest. The second table of a group gives each variant's paired difference to the reference "
    "(run − reference, frame by frame; negative: better than the reference), **bold** when its "
    "interval excludes 0."
)


def _diff_rows(df, sub) -> list:
    ref = str(df["reference"].iloc[0]) if "reference" in df and len(df) else REFERENCE
    return [row for _, row in sub.iterrows()
            if row["variant"] != ref and any(isinstance(row.get(f"{c}_vs_ref"), float)
                                             and not math.isnan(row[f"{c}_vs_ref"]) for c in compared(df))]


def to_markdown(df) -> str:
    """Markdown: per (video, style, resolution) a table of runs (intervals, best in bold, tied ≈)
    and a table of paired differences to the reference variant."""
    best, tied, cols, metrics = best_mask(df), tied_mask(df), shown(df), compared(df)
    lines = [
        "# Ablation",
        "",
        "One row per run. Lower is better for warping error (Lai et al. 2018, on the encoded video; "
        "also on the lossless PNG frames, without the codec's share; with Lai et al.'s own mask; and "
        "between frames t and t+k), content and style loss (one fixed backbone for every run) and seconds per frame.",
        "",
        HOW_TO_READ,
        "",
    ]
    if len(df):
        first = df.iloc[0]
        lines += [f"Losses measured with: {first['loss_backbone']}; flow: {first['flow_method']}; "
                  f"reference variant: {first.get('reference', REFERENCE)}.", ""]
    for g, sub in _groups(df):
        lines += [f"## {g['video']} / {g['style']} / {g['resolution']} px", ""]
        lines.append("| " + " | ".join(title(c) for c in cols) + " |")
        lines.append("|" + "|".join(" --- " if c in ("iterations", "variant") else " ---: " for c in cols) + "|")
        for i, row in sub.iterrows():
            cells = []
            for c in cols:
                text = fmt(row[c]).replace("|", "\\|")
                if c in best and bool(best[c][i]):
                    text = f"**{text}**"
                elif c in tied and bool(tied[c][i]):
                    text = f"≈{text}"
                cells.append(with_interval(row, c, text) if c in metrics else text)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        diffs = _diff_rows(df, sub)
        if diffs:
            lines += [f"Paired difference to {sub['reference'].iloc[0]} (95 %):", ""]
            lines.append("| budget | variant | " + " | ".join(title(c) for c in metrics) + " |")
            lines.append("| --- | --- |" + "|".join(" ---: " for _ in metrics) + "|")
            for row in diffs:
                cells = []
                for c in metrics:
                    text, sig = difference(row, c)
                    cells.append(f"**{text}**" if sig else text)
                lines.append(f"| {row['iterations']} | {row['variant']} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def to_html(df, title_text: str = "Ablation") -> str:
    """A self-contained HTML page with the same tables as :func:`to_markdown`."""
    best, tied, cols, metrics = best_mask(df), tied_mask(df), shown(df), compared(df)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title_text)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0 2em}"
        "th,td{border:1px solid #ccc;padding:0.3em 0.7em;text-align:right}"
        "th{background:#f0f0f0}td.name{text-align:left}td.best{font-weight:bold;background:#e6f4e6}"
        "td.tied{background:#f7f3dc}td.sig{font-weight:bold}span.ci{color:#666;font-size:85%}"
        "p.note{max-width:60em}</style></head><body>",
        f"<h1>{esc(title_text)}</h1>",
        '<p class="note">One row per run. Lower is better for the warping error (Lai et al. 2018, '
        "measured on the encoded video with the flow of the input frames; also on the lossless PNG "
        "frames, without what the codec adds; with Lai et al.'s own mask; and between frames t and t+k), "
        "the content and style losses (one fixed backbone for every run) and the seconds per frame.</p>",
        f'<p class="note">{esc(HOW_TO_READ).replace("**bold**", "<b>bold on green</b>", 1).replace("**bold**", "<b>bold</b>")}'
        " Tied cells are on yellow.</p>",
    ]
    if len(df):
        first = df.iloc[0]
        parts.append(f'<p class="note">Losses measured with {esc(str(first["loss_backbone"]))}; '
                     f"optical flow {esc(str(first['flow_method']))}; reference variant "
                     f"{esc(str(first.get('reference', REFERENCE)))}.</p>")

    def cell(row, c, text, cls):
        ci = with_interval(row, c, "")
        extra = f' <span class="ci">{esc(ci.strip())}</span>' if c in metrics and ci.strip() else ""
        attr = f' class="{" ".join(cls)}"' if cls else ""
        return f"<td{attr}>{esc(text)}{extra}</td>"

    for g, sub in _groups(df):
        gid = f"{g['video']}-{g['style']}-{g['resolution']}"
        parts.append(f"<h2>{esc(str(g['video']))} / {esc(str(g['style']))} / {g['resolution']} px</h2>")
        parts.append(f'<table class="ablation" id="ablation-{esc(gid)}"><thead><tr>'
                     + "".join(f"<th>{esc(title(c))}</th>" for c in cols) + "</tr></thead><tbody>")
        for i, row in sub.iterrows():
            cells = []
            for c in cols:
                cls = ["name"] if c in ("iterations", "variant") else []
                text = fmt(row[c])
                if c in best and bool(best[c][i]):
                    cls.append("best")
                elif c in tied and bool(tied[c][i]):
                    cls.append("tied")
                    text = f"≈{text}"
                cells.append(cell(row, c, text, cls))
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
        diffs = _diff_rows(df, sub)
        if diffs:
            parts.append(f'<p class="note">Paired difference to {esc(str(sub["reference"].iloc[0]))} (95 %):</p>')
            parts.append(f'<table class="difference" id="difference-{esc(gid)}"><thead><tr><th>budget</th>'
                         "<th>variant</th>" + "".join(f"<th>{esc(title(c))}</th>" for c in metrics)
                         + "</tr></thead><tbody>")
            for row in diffs:
                tds = []
                for c in metrics:
                    text, sig = difference(row, c)
                    attr = ' class="sig"' if sig else ""
                    tds.append(f"<td{attr}>{esc(text)}</td>")
                parts.append(f'<tr><td class="name">{esc(str(row["iterations"]))}</td>'
                             f'<td class="name">{esc(str(row["variant"]))}</td>' + "".join(tds) + "</tr>")
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
    frames: Sequence[Sequence[Mapping[str, Any]] | None] | None = None,
    reference: str = REFERENCE,
    boot: Bootstrap = Bootstrap(),
):
    """Write the table (atomically) as CSV, and Markdown/HTML when paths are given; return it."""
    df = ablation_frame(summaries, frames, reference, boot)
    write_text(csv_path, to_csv(df))
    if md_path:
        write_text(md_path, to_markdown(df))
    if html_path:
        write_text(html_path, to_html(df))
    return df

"""The ablation across the grid: one row per variant over every video × style (× resolution).

From the per-run table (:func:`styleflow.eval.ablation.ablation_frame`), for each budget and variant
(and resolution with ``by_resolution``) and each compared metric ``c``:

* ``c``, ``c_lo``, ``c_hi``: the mean over the runs and its 95 % Student-t interval over the runs
  (runs are independent: different footage or styles). With a single run there is no spread over
  runs: the run's own interval over its frames is shown, and ``interval`` says so;
* ``c_wins``, ``c_sig_wins``, ``c_compared``: in how many of the ``c_compared`` runs that have a
  paired difference to the reference the variant is lower (better) than the reference, and in
  how many significantly so (the difference's interval below 0);
* ``runs``: how many runs the row aggregates.

Written as CSV, Markdown and HTML (``results/ablation_grid.*``), like the per-run table.
"""

from __future__ import annotations

import html
import math
import os
from typing import Any

from styleflow.eval.ablation import compared, fmt, title
from styleflow.eval.stats import CONFIDENCE, mean_interval
from styleflow.io.atomic import write_text

#: Per-run values averaged over the grid without a comparison (no lower-is-better claim).
EXTRA = ("drift_de", "drift_de_input")


def grid_frame(df, by_resolution: bool = False, confidence: float = CONFIDENCE):
    """The grid table as a DataFrame (module docstring) from the per-run table ``df``."""
    import pandas as pd  # here: pandas takes ~1.6 s and only the table needs it

    keys = ["resolution", "iterations", "variant"] if by_resolution else ["iterations", "variant"]
    metrics = compared(df)
    rows = []
    for key, sub in df.groupby(keys, sort=True):
        row: dict[str, Any] = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["runs"] = len(sub)
        row["interval"] = "over runs" if len(sub) > 1 else "over frames (1 run)"
        for c in (*metrics, *EXTRA):
            values = pd.to_numeric(sub[c], errors="coerce") if c in sub else pd.Series([math.nan] * len(sub))
            iv = mean_interval(list(values), confidence)
            lo, hi = iv.lo, iv.hi
            if len(sub) == 1 and f"{c}_lo" in sub:
                lo, hi = float(sub[f"{c}_lo"].iloc[0]), float(sub[f"{c}_hi"].iloc[0])
            row.update({c: iv.mean, f"{c}_lo": lo, f"{c}_hi": hi})
            if c in metrics and f"{c}_vs_ref" in sub:
                d = pd.to_numeric(sub[f"{c}_vs_ref"], errors="coerce")
                hi_ref = pd.to_numeric(sub[f"{c}_vs_ref_hi"], errors="coerce")
                row.update({f"{c}_wins": int((d < 0).sum()), f"{c}_sig_wins": int((hi_ref < 0).sum()),
                            f"{c}_compared": int(d.notna().sum())})
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(df) and "reference" in df:
        out["reference"] = df["reference"].iloc[0]
    return out


def _cell(row, c: str) -> str:
    text = fmt(row[c])
    lo, hi = row.get(f"{c}_lo"), row.get(f"{c}_hi")
    if text != "–" and isinstance(lo, float) and not math.isnan(lo):
        text += f" [{fmt(lo)}, {fmt(hi)}]"
    return text


def _wins(row, c: str) -> str:
    n = row.get(f"{c}_compared")
    if n is None or (isinstance(n, float) and math.isnan(n)) or int(n) == 0:
        return "–"
    return f"{int(row[f'{c}_wins'])}/{int(n)} ({int(row[f'{c}_sig_wins'])})"


HOW_TO_READ = (
    "One row per variant over every run of the grid: each metric's mean over the runs with its 95 % "
    "interval over the runs (with a single run, the run's own interval over its frames). "
    "\"wins\" k/n (j): lower than the reference in k of the n runs that have one, significantly in j."
)


def _metrics(grid) -> list[str]:
    return [c for c in compared(grid) if c in grid and grid[c].notna().any()]


def grid_markdown(grid) -> str:
    """Markdown of :func:`grid_frame`'s table."""
    keys = [k for k in ("resolution", "iterations", "variant") if k in grid]
    metrics = _metrics(grid)
    ref = grid["reference"].iloc[0] if "reference" in grid and len(grid) else "the reference"
    head = [*keys, "runs", "interval", *(title(c) for c in metrics), *(f"wins vs {ref}: {title(c)}" for c in metrics),
            *(title(c) for c in EXTRA)]
    lines = ["# Ablation across the grid", "", HOW_TO_READ, "",
             "| " + " | ".join(head) + " |", "|" + "|".join(" --- " if h in keys else " ---: " for h in head) + "|"]
    for _, row in grid.iterrows():
        cells = [str(row[k]) for k in keys] + [str(row["runs"]), str(row["interval"])]
        cells += [_cell(row, c) for c in metrics] + [_wins(row, c) for c in metrics]
        cells += [_cell(row, c) for c in EXTRA]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def grid_html(grid, title_text: str = "Ablation across the grid") -> str:
    """A self-contained HTML page of :func:`grid_frame`'s table."""
    esc = html.escape
    keys = [k for k in ("resolution", "iterations", "variant") if k in grid]
    metrics = _metrics(grid)
    ref = grid["reference"].iloc[0] if "reference" in grid and len(grid) else "the reference"
    head = [*keys, "runs", "interval", *(title(c) for c in metrics), *(f"wins vs {ref}: {title(c)}" for c in metrics),
            *(title(c) for c in EXTRA)]
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{esc(title_text)}</title>",
             "<style>body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
             "th,td{border:1px solid #ccc;padding:0.3em 0.7em;text-align:right}th{background:#f0f0f0}"
             "td.name{text-align:left}p.note{max-width:60em}</style></head><body>",
             f"<h1>{esc(title_text)}</h1>", f'<p class="note">{esc(HOW_TO_READ)}</p>',
             '<table class="grid"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for _, row in grid.iterrows():
        cells = [f'<td class="name">{esc(str(row[k]))}</td>' for k in keys] + [f"<td>{row['runs']}</td>",
                                                                                f'<td class="name">{esc(row["interval"])}</td>']
        cells += [f"<td>{esc(_cell(row, c))}</td>" for c in metrics] + [f"<td>{esc(_wins(row, c))}</td>" for c in metrics]
        cells += [f"<td>{esc(_cell(row, c))}</td>" for c in EXTRA]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts += ["</tbody></table>", "</body></html>"]
    return "\n".join(parts) + "\n"


def write_grid(df, csv_path: str | os.PathLike[str], md_path: str | os.PathLike[str] | None = None,
               html_path: str | os.PathLike[str] | None = None, by_resolution: bool = False,
               confidence: float = CONFIDENCE):
    """Write the grid table of the per-run table ``df`` (atomically); return it."""
    grid = grid_frame(df, by_resolution, confidence)
    write_text(csv_path, grid.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    if md_path:
        write_text(md_path, grid_markdown(grid))
    if html_path:
        write_text(html_path, grid_html(grid))
    return grid


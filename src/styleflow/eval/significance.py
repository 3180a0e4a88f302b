"""Which differences in the ablation table are real: intervals, paired differences, best and tied.

Works on the per-frame values the metrics stage writes (``metrics.csv``), with the bootstrap of
:mod:`styleflow.eval.stats`. For each run and each compared metric ``c`` (lower is better) it adds

* ``c_lo``, ``c_hi``: the 95 % interval of the run's mean (block bootstrap over frames);
* ``c_vs_ref``, ``c_vs_ref_lo``, ``c_vs_ref_hi``: the paired difference run − reference variant
  (same video, style, resolution and budget; frame by frame) and its interval — negative is
  better than the reference; empty for the reference itself and where the group has none;
* ``c_mark``: ``best`` / ``tied`` / empty within the (video, style, resolution) group
  (:func:`styleflow.eval.stats.rank_marks`), or ``lowest`` when some run of the group has no
  per-frame values (summaries only: the lowest mean, no claim of significance).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from styleflow.eval.stats import Bootstrap, interval, paired, rank_marks

#: Default reference variant (config ``metrics: reference``).
REFERENCE = "noInit"

#: Per-frame column of a compared metric whose name differs from the table's.
FRAME_COLUMN = {"seconds_per_frame": "seconds"}

#: Suffixes of the columns added per compared metric, in order.
SUFFIXES = ("_lo", "_hi", "_mark", "_vs_ref", "_vs_ref_lo", "_vs_ref_hi")


def frame_series(frames: Sequence[Mapping[str, Any]] | None, metric: str) -> dict[int, float] | None:
    """``{frame: value}`` of one metric from a run's per-frame rows (CSV strings or numbers);
    None when the rows are missing or lack the column."""
    if not frames:
        return None
    col = FRAME_COLUMN.get(metric, metric)
    if col not in frames[0]:
        return None
    out = {}
    for r in frames:
        try:
            v = float(r[col]) if r[col] not in (None, "") else math.nan
        except (TypeError, ValueError):
            v = math.nan
        out[int(r["frame"])] = v
    return out


def add_intervals(df, series: Sequence[Mapping[str, dict[int, float] | None]], compared: Sequence[str],
                  group: Sequence[str], reference: str = REFERENCE, boot: Bootstrap = Bootstrap()):
    """Add the interval, paired-difference and mark columns to the ablation DataFrame ``df``.

    Args:
        df: one row per run (index 0..n−1), with ``group`` columns, ``iterations`` and ``variant``.
        series: for each row of ``df`` (by position), ``{metric: {frame: value}}`` (None: no
            per-frame values for that run).
        compared: the metrics to treat (lower is better).
        group: the columns that make a group (video, style, resolution).
        reference: the variant the paired differences are taken against.
    """
    import pandas as pd  # here: pandas takes ~1.6 s and only the table needs it

    df = df.copy()
    df["reference"] = reference
    new: dict[str, list[Any]] = {c + s: [math.nan] * len(df) for c in compared for s in SUFFIXES}
    for c in compared:
        new[c + "_mark"] = [""] * len(df)
    for _, sub in df.groupby(list(group), sort=False):
        rows = list(sub.index)
        for c in compared:
            s = {i: (series[i] or {}).get(c) for i in rows}
            for i in rows:
                if s[i] is not None:
                    iv = interval([s[i][f] for f in sorted(s[i])], boot)
                    new[c + "_lo"][i], new[c + "_hi"][i] = iv.lo, iv.hi
                ref = [j for j in rows if df.at[j, "variant"] == reference
                       and df.at[j, "iterations"] == df.at[i, "iterations"]]
                if ref and ref[0] != i and s[i] is not None and s[ref[0]] is not None:
                    d = paired(s[i], s[ref[0]], boot)
                    new[c + "_vs_ref"][i], new[c + "_vs_ref_lo"][i], new[c + "_vs_ref_hi"][i] = d.mean, d.lo, d.hi
            values = pd.to_numeric(df.loc[rows, c], errors="coerce")
            if values.notna().sum() == 0:
                continue
            if all(s[i] is not None for i in rows if pd.notna(values[i])):
                marks = rank_marks({str(i): s[i] for i in rows if s[i] is not None}, boot)
                for i in rows:
                    new[c + "_mark"][i] = marks.get(str(i), "")
            else:
                new[c + "_mark"][int(values.idxmin())] = "lowest"
    for k, v in new.items():
        df[k] = v
    return df

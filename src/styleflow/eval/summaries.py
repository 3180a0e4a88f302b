"""One run's row of the ablation table (:func:`run_summary`, written by the metrics stage as
``metrics.json``) and reading the rows and the per-frame tables back for the table stage."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from styleflow.errors import StyleflowError

#: A run's key in the grid.
KEY = ("video", "style", "resolution", "iterations", "variant")

#: Long-term warping error columns ``warp_error_k{k}`` (one per configured offset).
LONG_TERM = re.compile(r"^warp_error_k(\d+)$")


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
        **{k: clip_summary.get(k) for k in ("warp_error_lai", "warp_mask_lai", "warp_protocol", "drift_de",
                                            "drift_de_input", "static_fraction")},
        **{k: v for k, v in clip_summary.items() if LONG_TERM.match(k)},
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


def read_frames(paths: Iterable[str | os.PathLike[str]]) -> list[list[dict[str, str]]]:
    """The per-frame rows of each run's ``metrics.csv``."""

    out = []
    for p in paths:
        try:
            with open(p, newline="", encoding="utf-8") as fh:
                out.append(list(csv.DictReader(fh)))
        except OSError as exc:
            raise StyleflowError(f"{p}: not a readable per-frame metrics table ({exc}); re-run the metrics stage") from None
    return out

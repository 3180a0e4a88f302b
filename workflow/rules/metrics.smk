# Metrics, ablation table, plots and side-by-side videos (issue 6; docs/metrics.md).
#
#   results/runs/{video}/{style}/h{res}/{budget}/{variant}/metrics.csv, metrics.json   per run
#   results/ablation.csv, ablation.md, ablation.html                                   all runs
#   results/plots/{video}/{style}/h{res}/{warp_error,tradeoff,seconds}.{png,svg}        per group
#   results/sidebyside/{video}/{style}/h{res}/{budget}.mp4, .html                       per group and budget
#
# The ablation depends on every run's metrics.json: adding a run computes that run's metrics
# only and re-aggregates the (cheap) table, plots and grids of its group.

from styleflow.metrics import METRIC_LOSSES

PLOTS = "results/plots/{video}/{style}/h{res}"
SIDEBYSIDE = "results/sidebyside/{video}/{style}/h{res}/{budget}"
PLOT_NAMES = ("warp_error", "tradeoff", "seconds")


def group_runs(wildcards, keys=("video", "style", "res")):
    """The grid's runs that share ``keys`` with the job's wildcards."""
    return [
        r for r in grid_runs() if all(r[k] == getattr(wildcards, k) for k in keys)
    ]


def run_key(wildcards):
    return {
        "video": wildcards.video,
        "style": wildcards.style,
        "resolution": int(wildcards.res),
        "iterations": wildcards.budget,
        "variant": wildcards.variant,
    }


def all_metrics(wildcards):
    return [os.path.join(RUN.format(**r), "metrics.json") for r in grid_runs()]


def plot_inputs(wildcards):
    runs = group_runs(wildcards)
    return {
        "summaries": [os.path.join(RUN.format(**r), "metrics.json") for r in runs],
        "frames": [os.path.join(RUN.format(**r), "metrics.csv") for r in runs],
    }


def sidebyside_videos(wildcards):
    runs = group_runs(wildcards, ("video", "style", "res", "budget"))
    return {r["variant"]: os.path.join(RUN.format(**r), "video.mp4") for r in runs}


def comparison_targets():
    """The ablation table, every group's plots and every group's side-by-side videos."""
    runs = grid_runs()
    groups = sorted({(r["video"], r["style"], r["res"]) for r in runs})
    budgets = sorted({(r["video"], r["style"], r["res"], r["budget"]) for r in runs})
    return (
        [f"results/ablation.{ext}" for ext in ("csv", "md", "html")]
        + [
            os.path.join(PLOTS.format(video=v, style=s, res=res), f"{name}.{ext}")
            for v, s, res in groups
            for name in PLOT_NAMES
            for ext in ("png", "svg")
        ]
        + [
            SIDEBYSIDE.format(video=v, style=s, res=res, budget=b) + ext
            for v, s, res, b in budgets
            for ext in (".mp4", ".html")
        ]
    )


rule metrics:
    input:
        video=f"{RUN}/video.mp4",
        record=f"{RUN}/frames.csv",
        summary=f"{RUN}/run.json",
        content=f"{PREP}/frames",
        flow=f"{PREP}/flow-{FLOW}",
        styles=style_images,
    output:
        frames=f"{RUN}/metrics.csv",
        summary=f"{RUN}/metrics.json",
    log:
        "logs/metrics/{video}/{style}/h{res}/{budget}/{variant}.log",
    benchmark:
        "benchmarks/metrics/{video}/{style}/h{res}/{budget}/{variant}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        key=run_key,
        work=f"{RUN}/frames",
        style_weights=style_weights,
        flow_method=FLOW,
        losses=METRIC_LOSSES,
    script:
        "../scripts/metrics.py"


rule ablation:
    input:
        summaries=all_metrics,
    output:
        csv=report(
            "results/ablation.csv",
            caption="../report/ablation_csv.rst",
            category="Comparison",
            subcategory="Ablation table",
            labels={"file": "ablation.csv"},
        ),
        md="results/ablation.md",
        html=report(
            "results/ablation.html",
            caption="../report/ablation.rst",
            category="Comparison",
            subcategory="Ablation table",
            labels={"file": "ablation table"},
        ),
    log:
        "logs/ablation.log",
    threads: 1
    resources:
        mem_mb=500,
    script:
        "../scripts/ablation.py"


rule plots:
    input:
        unpack(plot_inputs),
    output:
        warp_error=report(
            f"{PLOTS}/warp_error.png",
            caption="../report/plot_warp_error.rst",
            category="Comparison",
            subcategory="{video} / {style} / h{res}",
            labels={"plot": "warping error per frame"},
        ),
        tradeoff=report(
            f"{PLOTS}/tradeoff.png",
            caption="../report/plot_tradeoff.rst",
            category="Comparison",
            subcategory="{video} / {style} / h{res}",
            labels={"plot": "style vs temporal error"},
        ),
        seconds=report(
            f"{PLOTS}/seconds.png",
            caption="../report/plot_seconds.rst",
            category="Comparison",
            subcategory="{video} / {style} / h{res}",
            labels={"plot": "seconds per frame"},
        ),
        svg=[f"{PLOTS}/{name}.svg" for name in PLOT_NAMES],
    log:
        "logs/plots/{video}/{style}/h{res}.log",
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../scripts/plots.py"


rule sidebyside:
    input:
        content=f"{PREP}/frames",
        videos=lambda wildcards: list(sidebyside_videos(wildcards).values()),
    output:
        video=f"{SIDEBYSIDE}.mp4",
        player=report(
            f"{SIDEBYSIDE}.html",
            caption="../report/sidebyside.rst",
            category="Comparison",
            subcategory="{video} / {style} / h{res}",
            labels={"plot": "side by side ({budget})"},
        ),
    log:
        "logs/sidebyside/{video}/{style}/h{res}/{budget}.log",
    benchmark:
        "benchmarks/sidebyside/{video}/{style}/h{res}/{budget}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        variants=lambda wildcards: list(sidebyside_videos(wildcards)),
    script:
        "../scripts/sidebyside.py"

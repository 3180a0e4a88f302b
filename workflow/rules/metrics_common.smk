"""Helpers of the comparison stages (workflow/rules/metrics.smk): targets and grouped inputs."""

from styleflow.eval.measuring import METRIC_LOSSES  # no torch at parse time

PLOTS = "results/plots/{video}/{style}/h{res}"
SIDEBYSIDE = "results/sidebyside/{video}/{style}/h{res}/{budget}"
PLOT_NAMES = ("warp_error", "tradeoff", "seconds")
GRID_PLOT = "results/plots/grid/tradeoff"


def metrics_config(key, default=None):
    """A key of the config's `metrics:` section (schema defaults when absent)."""
    return (config.get("metrics") or {}).get(key, default)


def group_runs(wildcards, keys=("video", "style", "res")):
    """The grid's runs that share ``keys`` with the job's wildcards."""
    return [r for r in grid_runs() if all(r[k] == getattr(wildcards, k) for k in keys)]


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


def all_metric_frames(wildcards):
    """Every run's per-frame metrics, in the order of all_metrics."""
    return [os.path.join(RUN.format(**r), "metrics.csv") for r in grid_runs()]


def plot_inputs(wildcards):
    runs = group_runs(wildcards)
    return {
        "summaries": [os.path.join(RUN.format(**r), "metrics.json") for r in runs],
        "frames": [os.path.join(RUN.format(**r), "metrics.csv") for r in runs],
    }


def sidebyside_videos(wildcards):
    runs = group_runs(wildcards, ("video", "style", "res", "budget"))
    return {r["variant"]: os.path.join(RUN.format(**r), "video.mp4") for r in runs}


def sidebyside_video_files(wildcards):
    """The videos a side-by-side job shows, one per variant."""
    return list(sidebyside_videos(wildcards).values())


def sidebyside_variants(wildcards):
    """The variants a side-by-side job shows, in the order of its videos."""
    return list(sidebyside_videos(wildcards))


def comparison_targets():
    """The ablation table, every group's plots and every group's side-by-side videos."""
    runs = grid_runs()
    groups = sorted({(r["video"], r["style"], r["res"]) for r in runs})
    budgets = sorted({(r["video"], r["style"], r["res"], r["budget"]) for r in runs})
    return (
        [f"results/ablation.{ext}" for ext in ("csv", "md", "html")]
        + [f"results/ablation_grid.{ext}" for ext in ("csv", "md", "html")]
        + [f"{GRID_PLOT}.{ext}" for ext in ("png", "svg")]
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

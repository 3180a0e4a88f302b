# Metrics, ablation table, plots and side-by-side videos (issue 6; docs/metrics.md).
#
#   results/runs/{video}/{style}/h{res}/{budget}/{variant}/metrics.csv, metrics.json   per run
#   results/ablation.csv, ablation.md, ablation.html                                   all runs
#   results/ablation_grid.csv, .md, .html; results/plots/grid/tradeoff.{png,svg}        over the grid
#   results/plots/{video}/{style}/h{res}/{warp_error,tradeoff,seconds}.{png,svg}        per group
#   results/sidebyside/{video}/{style}/h{res}/{budget}.mp4, .html                       per group and budget
#
# The ablation depends on every run's metrics.json: adding a run computes that run's metrics
# only and re-aggregates the (cheap) table, plots and grids of its group.


include: "metrics_common.smk"


rule metrics:
    input:
        video=f"{RUN}/video.mp4",
        frames=f"{RUN}/frames",
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
    conda:
        "../envs/styleflow.yaml"
    threads: 2
    resources:
        runtime=job_minutes("metrics"),
        mem_mb=job_mem_mb("metrics"),
    params:
        key=run_key,
        style_weights=style_weights,
        flow_method=FLOW,
        flow_params=config["flow"]["params"],
        long_offsets=metrics_config("long_term_offsets", [10]),
        static_px=metrics_config("static_px", 0.5),
        losses=METRIC_LOSSES,
        plan=plan_hash,
        code=script_code("metrics.py"),
    script:
        "../scripts/metrics.py"


rule ablation:
    input:
        summaries=all_metrics,
        frames=all_metric_frames,
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
        grid_csv="results/ablation_grid.csv",
        grid_md="results/ablation_grid.md",
        grid_html=report(
            "results/ablation_grid.html",
            caption="../report/ablation_grid.rst",
            category="Comparison",
            subcategory="Ablation table",
            labels={"file": "ablation across the grid"},
        ),
        grid_plot=report(
            f"{GRID_PLOT}.png",
            caption="../report/plot_grid_tradeoff.rst",
            category="Comparison",
            subcategory="Ablation table",
            labels={"file": "trade-off across the grid"},
        ),
        grid_svg=f"{GRID_PLOT}.svg",
    log:
        "logs/ablation.log",
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        reference=metrics_config("reference", "noInit"),
        bootstrap=metrics_config("bootstrap", {}),
        by_resolution=metrics_config("grid_by_resolution", False),
        code=script_code("ablation.py"),
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
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        bootstrap=metrics_config("bootstrap", {}),
        code=script_code("plots.py"),
    script:
        "../scripts/plots.py"


rule sidebyside:
    input:
        content=f"{PREP}/frames",
        videos=sidebyside_video_files,
        source=sound_source,  # the content clip's sound
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
    conda:
        "../envs/styleflow.yaml"
    threads: 2
    resources:
        runtime=job_minutes("sidebyside"),
        mem_mb=job_mem_mb("sidebyside"),
    params:
        variants=sidebyside_variants,
        audio=config["encode"]["audio"],
        code=script_code("sidebyside.py"),
    script:
        "../scripts/sidebyside.py"

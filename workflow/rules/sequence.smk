# The stylised frames go to RUN/frames/, a folder that is deliberately *not* a declared output:
# Snakemake deletes the declared outputs of a job before it (re)runs it, and a directory() output
# would take every finished frame with it when an interrupted run is restarted. The declared
# outputs are the run summary and the per-frame record, published when the clip is complete.
# The script starts the folder afresh when the run's settings or inputs changed since the frames
# in it were made, and otherwise resumes at the first unfinished frame.
rule sequence:
    input:
        frames=f"{PREP}/frames",
        flow=f"{PREP}/flow-{FLOW}",
        masks=f"{PREP}/masks-{FLOW}",
        styles=style_images,
    output:
        summary=report(
            f"{RUN}/run.json",
            caption="../report/run.rst",
            category="Runs",
            subcategory="{video} / {style} / h{res}",
            labels={"budget": "{budget}", "variant": "{variant}", "file": "run.json"},
        ),
        record=f"{RUN}/frames.csv",
    log:
        "logs/sequence/{video}/{style}/h{res}/{budget}/{variant}.log",
    benchmark:
        "benchmarks/sequence/{video}/{style}/h{res}/{budget}/{variant}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 4
    resources:
        gpu=stylize_gpus,
        runtime=job_minutes("sequence"),
        mem_mb=job_mem_mb("stylize"),
    params:
        work=run_frames_of_output,
        style_weights=style_weights,
        budget=budget,
        variant=variant,
        settings=stylize_options,
    script:
        "../scripts/sequence.py"

# Stylisation, shot by shot (docs/pipeline.md, "Shots" and "Resume").
#
# The consistency checkpoint finds the clip's scene cuts (masks-{method}/cuts.json); each shot of
# each run is then a `sequence` job of its own, with a declared output folder
# RUN/shots/{first}-{last}/ (frames, frames.csv, shot.json), and `assemble` joins a run's shots into
# RUN/frames/, frames.csv and run.json. Every file a later job reads is a declared output, so the
# workflow runs without a shared file system (storage plugins, --shared-fs-usage none).
#
# Resume: Snakemake deletes a job's declared outputs before it (re)runs it, so a shot is stylised
# in a scratch folder that is *not* an output (config `scratch`, outside results/). The script
# starts that folder afresh when the run's settings or inputs changed since the frames in it were
# made, and otherwise resumes at the first unfinished frame; when the shot is complete its frames
# move into the declared output and the scratch folder is removed.


rule sequence:
    input:
        frames=f"{PREP}/frames",
        flow=f"{PREP}/flow-{FLOW}",
        masks=f"{PREP}/masks-{FLOW}",
        styles=style_images,
        model=run_model,
        plan=f"{RUN}/plan.json",
    output:
        shot=directory(f"{RUN}/shots/{{shot}}"),
    log:
        "logs/sequence/{video}/{style}/h{res}/{budget}/{variant}/{shot}.log",
    benchmark:
        "benchmarks/sequence/{video}/{style}/h{res}/{budget}/{variant}/{shot}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 4
    resources:
        gpu=stylize_gpus,
        runtime=job_minutes("sequence"),
        mem_mb=job_mem_mb("stylize"),
    params:
        shot_folder=shot_scratch,
        plan=run_plan,
    script:
        "../scripts/sequence.py"


rule assemble:
    input:
        shots=run_shots,
    output:
        frames=directory(f"{RUN}/frames"),
        summary=report(
            f"{RUN}/run.json",
            caption="../report/run.rst",
            category="Runs",
            subcategory="{video} / {style} / h{res}",
            labels={"budget": "{budget}", "variant": "{variant}", "file": "run.json"},
        ),
        record=f"{RUN}/frames.csv",
    log:
        "logs/assemble/{video}/{style}/h{res}/{budget}/{variant}.log",
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        plan=run_plan,
        code=script_code("assemble.py"),
    script:
        "../scripts/assemble.py"

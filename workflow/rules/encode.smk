rule encode:
    input:
        frames=f"{RUN}/frames",
        summary=f"{RUN}/run.json",
        content=f"{PREP}/frames",
        source=sound_source,
    output:
        video=report(
            f"{RUN}/video.mp4",
            caption="../report/video.rst",
            category="Videos",
            subcategory="{video} / {style} / h{res}",
            labels={"budget": "{budget}", "variant": "{variant}"},
        ),
    log:
        "logs/encode/{video}/{style}/h{res}/{budget}/{variant}.log",
    benchmark:
        "benchmarks/encode/{video}/{style}/h{res}/{budget}/{variant}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 2
    resources:
        runtime=job_minutes("encode"),
        mem_mb=job_mem_mb("encode"),
    params:
        audio=config["encode"]["audio"],
        code=script_code("encode.py"),
    script:
        "../scripts/encode.py"

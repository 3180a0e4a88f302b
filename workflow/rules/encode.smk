rule encode:
    input:
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
    threads: 2
    resources:
        mem_mb=1000,
    params:
        audio=config["encode"]["audio"],
        frames=lambda wildcards, input: os.path.join(
            os.path.dirname(input.summary), "frames"
        ),
    script:
        "../scripts/encode.py"

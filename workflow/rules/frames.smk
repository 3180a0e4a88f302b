rule frames:
    input:
        video=video_path,
    output:
        frames=directory(f"{PREP}/frames"),
    log:
        "logs/frames/{video}/h{res}.log",
    benchmark:
        "benchmarks/frames/{video}/h{res}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("frames"),
        mem_mb=job_mem_mb("frames"),
    params:
        height=frame_height,
        clip=clip_settings,
        code=script_code("frames.py"),
    script:
        "../scripts/frames.py"

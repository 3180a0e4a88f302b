rule frames:
    input:
        video=video_path,
    output:
        frames=directory(f"{PREP}/frames"),
    log:
        "logs/frames/{video}/h{res}.log",
    benchmark:
        "benchmarks/frames/{video}/h{res}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        height=lambda wildcards: int(wildcards.res),
        clip=lambda wildcards: video_settings(wildcards.video),
    script:
        "../scripts/frames.py"

rule demo_clip:
    output:
        video=DEMO_VIDEO,
        flow=directory(DEMO_FLOW),
    log:
        "logs/demo/clip.log",
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        frames=config["demo"]["frames"],
        height=config["demo"]["height"],
        fps=config["demo"]["fps"],
        offsets=config["flow"]["offsets"],
        code=script_code("demo_clip.py"),
    script:
        "../scripts/demo_clip.py"


rule demo_style:
    output:
        image=DEMO_STYLE,
    log:
        "logs/demo/style.log",
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        height=384,
        width=512,
        seed=0,
        code=script_code("demo_style.py"),
    script:
        "../scripts/demo_style.py"

rule demo_clip:
    output:
        video=DEMO_VIDEO,
        flow=directory(DEMO_FLOW),
    log:
        "logs/demo/clip.log",
    threads: 1
    resources:
        mem_mb=500,
    params:
        frames=config["demo"]["frames"],
        height=config["demo"]["height"],
        fps=config["demo"]["fps"],
        offsets=config["flow"]["offsets"],
    script:
        "../scripts/demo_clip.py"


rule demo_style:
    output:
        image=DEMO_STYLE,
    log:
        "logs/demo/style.log",
    threads: 1
    resources:
        mem_mb=500,
    params:
        height=384,
        width=512,
        seed=0,
    script:
        "../scripts/demo_style.py"

rule consistency:
    input:
        frames=f"{PREP}/frames",
        flow=f"{PREP}/flow-{FLOW}",
    output:
        masks=directory(f"{PREP}/masks-{FLOW}"),
    log:
        f"logs/consistency/{{video}}/h{{res}}-{FLOW}.log",
    benchmark:
        f"benchmarks/consistency/{{video}}/h{{res}}-{FLOW}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        offsets=config["flow"]["offsets"],
    script:
        "../scripts/consistency.py"

rule flow:
    input:
        frames=f"{PREP}/frames",
    output:
        flow=directory(f"{PREP}/flow-{FLOW}"),
    log:
        f"logs/flow/{{video}}/h{{res}}-{FLOW}.log",
    benchmark:
        f"benchmarks/flow/{{video}}/h{{res}}-{FLOW}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        method=FLOW,
        settings=config["flow"]["params"],
        offsets=config["flow"]["offsets"],
    script:
        "../scripts/flow.py"

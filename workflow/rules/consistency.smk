checkpoint consistency:
    input:
        frames=f"{PREP}/frames",
        flow=f"{PREP}/flow-{FLOW}",
    output:
        masks=directory(f"{PREP}/masks-{FLOW}"),
        cuts=f"{PREP}/cuts-{FLOW}/cuts.json",
    log:
        f"logs/consistency/{{video}}/h{{res}}-{FLOW}.log",
    benchmark:
        f"benchmarks/consistency/{{video}}/h{{res}}-{FLOW}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 1
    resources:
        runtime=job_minutes("consistency"),
        mem_mb=job_mem_mb("consistency"),
    params:
        offsets=config["flow"]["offsets"],
        code=script_code("consistency.py"),
    script:
        "../scripts/consistency.py"

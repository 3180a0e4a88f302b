rule flow:
    input:
        frames=f"{PREP}/frames",
    output:
        flow=flow_output(f"{PREP}/flow-{FLOW}"),
    log:
        f"logs/flow/{{video}}/h{{res}}-{FLOW}.log",
    benchmark:
        f"benchmarks/flow/{{video}}/h{{res}}-{FLOW}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 2
    resources:
        runtime=job_minutes("flow"),
        mem_mb=job_mem_mb("flow"),
    params:
        method=FLOW,
        settings=config["flow"]["params"],
        offsets=config["flow"]["offsets"],
        format=config["flow"]["format"],
        code=script_code("flow.py"),
    script:
        "../scripts/flow.py"

rule flowviz:
    input:
        frames=f"{PREP}/frames",
        flow=f"{PREP}/flow-{FLOW}",
    output:
        flow=report(
            f"{PREP}/flow-{FLOW}.mp4",
            caption="../report/flowviz.rst",
            category="Optical flow",
            subcategory="{video} / h{res}",
            labels={"video": "flow"},
        ),
        warped=report(
            f"{PREP}/warped-{FLOW}.mp4",
            caption="../report/warped.rst",
            category="Optical flow",
            subcategory="{video} / h{res}",
            labels={"video": "content warped"},
        ),
    log:
        f"logs/flowviz/{{video}}/h{{res}}-{FLOW}.log",
    benchmark:
        f"benchmarks/flowviz/{{video}}/h{{res}}-{FLOW}.tsv"
    conda:
        "../envs/styleflow.yaml"
    threads: 2
    resources:
        runtime=job_minutes("flowviz"),
        mem_mb=job_mem_mb("flowviz"),
    params:
        code=script_code("flowviz.py"),
    script:
        "../scripts/flowviz.py"

# A run's plan (issue 23): everything that decides its stylised frames, resolved once per run by
# run_plan, with a content hash that every artefact of the run carries.
#
#   results/runs/{video}/{style}/h{res}/{budget}/{variant}/plan.json     the plan and its hash
#
# plan.json is an input of every `sequence` job of the run. A changed setting changes the plan's
# params, so the `plan` job reruns, and the newer plan.json reruns every shot by its time
# (`mtime`), which needs no Snakemake metadata of the shots: a shot published by an orphaned job
# after Snakemake itself was killed is redone too. shot.json, run.json and metrics.json record the
# hash; `assemble` and `metrics` stop with a one-line error naming the run when it is not the
# plan's (docs/pipeline.md, "The run plan").


include: "plan_common.smk"


rule plan:
    output:
        plan=f"{RUN}/plan.json",
    log:
        "logs/plan/{video}/{style}/h{res}/{budget}/{variant}.log",
    localrule: True
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        plan=plan_hash,
    run:
        write_plan(wildcards, output.plan, log[0])

"""Join a run's shots into its frames folder, frames.csv and run.json (rule assemble)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.video.sequence import CSV_COLUMNS
from styleflow.video.shots import assemble_run

out, plan = snakemake.output, snakemake.params.plan  # the run's plan (rules/plan.smk)
run = assemble_run(
    snakemake.input.shots,
    out.frames,
    out.record,
    out.summary,
    CSV_COLUMNS,
    extra={"resolved": plan["settings"]["resolved"], "workflow": dict(snakemake.wildcards.items())},
    plan=plan["plan"],
)
print(f"{len(run['shots'])} shots, {run['frames']} frames, precision {run['precision']}")

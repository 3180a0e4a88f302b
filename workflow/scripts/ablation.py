"""The ablation table over every run of the grid (rule ablation)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.eval.ablation import read_summaries, write_ablation

table = write_ablation(
    read_summaries(snakemake.input.summaries),
    snakemake.output.csv,
    snakemake.output.md,
    snakemake.output.html,
)
print(f"{len(table)} runs")

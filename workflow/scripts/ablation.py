"""The ablation table over every run of the grid, and the table and plot across the grid (rule ablation)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.eval.ablation import read_frames, read_summaries, write_ablation
from styleflow.eval.grid_table import write_grid
from styleflow.eval.plots import plot_grid_tradeoff
from styleflow.eval.stats import Bootstrap

boot = Bootstrap.from_config(snakemake.params.bootstrap)
table = write_ablation(
    read_summaries(snakemake.input.summaries),
    snakemake.output.csv,
    snakemake.output.md,
    snakemake.output.html,
    frames=read_frames(snakemake.input.frames),
    reference=snakemake.params.reference,
    boot=boot,
)
grid = write_grid(table, snakemake.output.grid_csv, snakemake.output.grid_md, snakemake.output.grid_html,
                  by_resolution=snakemake.params.by_resolution, confidence=boot.confidence)
plot_grid_tradeoff(grid, snakemake.output.grid_plot[: -len(".png")])
print(f"{len(table)} runs, {len(grid)} rows across the grid")

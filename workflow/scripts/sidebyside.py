"""Content and every variant of one (video, style, resolution, budget) in a labelled grid (rule sidebyside)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.viz.sidebyside import grid_for_runs

w = snakemake.wildcards
print(grid_for_runs(
    snakemake.input.content,
    dict(zip(snakemake.params.variants, snakemake.input.videos)),
    snakemake.output.video,
    snakemake.output.player,
    title=f"{w.video} / {w.style} / {w.res} px / budget {w.budget}",
    audio=snakemake.params.audio,
))

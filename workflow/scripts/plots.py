"""Plots of one (video, style, resolution) group of runs (rule plots)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

from styleflow.eval.plots import plot_group, read_runs
from styleflow.eval.stats import Bootstrap

runs = read_runs(snakemake.input.summaries, snakemake.input.frames)
for path in plot_group(runs, Path(snakemake.output.warp_error).parent, Bootstrap.from_config(snakemake.params.bootstrap)):
    print(path)

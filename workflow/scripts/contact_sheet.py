"""Draw one contact sheet: styles x photos at one size, budget and preset (rule contact_sheet)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.viz.contact_sheet import contact_sheet_files

layout, w = snakemake.params.layout, snakemake.wildcards
grid = contact_sheet_files(
    layout["photos"],
    layout["styles"],
    {(style, photo): path for style, photo, path in layout["results"]},
    snakemake.output.sheet,
    height=int(w.res),
    title=f"{w.res} px high, {w.iters} iterations, preset {w.preset}",
)
print(f"{snakemake.output.sheet}: {grid.shape[0]} rows x {grid.shape[1]} columns")

"""Draw one contact sheet: styles x photos at one size, budget and preset (rule contact_sheet)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.viz.contact_sheet import contact_sheet_files

layout, w, inp = snakemake.params.layout, snakemake.wildcards, snakemake.input
# Only the declared inputs (as the storage localised them), matched to the layout's names by order.
style_images, start = {}, 0
for name, count in layout["styles"].items():
    style_images[name] = list(inp.styles[start : start + count])
    start += count
grid = contact_sheet_files(
    dict(zip(layout["photos"], inp.photos)),
    style_images,
    {(style, photo): path for (style, photo), path in zip(layout["results"], inp.runs)},
    snakemake.output.sheet,
    height=int(w.res),
    title=f"{w.res} px high, {w.iters} iterations, preset {w.preset}",
)
print(f"{snakemake.output.sheet}: {grid.shape[0]} rows x {grid.shape[1]} columns")

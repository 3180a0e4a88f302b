"""What each VGG layer holds: one photo, one painting, one layer's loss per image (rule layer_figure)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

import torch

from styleflow.options.settings import settings_from
from styleflow.viz.layer_figure import layer_figure_file

inp, out, p = snakemake.input, snakemake.output, snakemake.params


def progress(objective, event):
    if event.get("event") == "iteration" and event["iteration"] % 20 in (0, 1):
        print(f"{objective}: iteration {event['iteration']}, losses {event['losses']}")


torch.set_num_threads(snakemake.threads)
base = settings_from("gatys", p.settings["options"])  # backbone, weights, optimiser
record = layer_figure_file(
    inp.photo, inp.style, out.figure, size=int(snakemake.wildcards.res), iterations=p.iterations,
    layers=p.layers, base=base, seed=p.settings["seed"], device=p.settings["device"],
    names=(snakemake.wildcards.photo, snakemake.wildcards.style), callback=progress,
)  # fmt: skip
for panel in record["panels"]:
    print(f"{panel['objective']}: {panel['objective_before']:.4g} -> {panel['objective_after']:.4g}")

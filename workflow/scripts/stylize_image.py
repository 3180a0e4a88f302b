"""Stylise one photo with one style at one size, budget and preset (rule stylize_image)."""

import json
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

import torch

from styleflow.io.atomic import write_json
from styleflow.optim.stylize_image import stylize_file
from styleflow.options.settings import settings_from

inp, out, p, w = snakemake.input, snakemake.output, snakemake.params, snakemake.wildcards
torch.set_num_threads(snakemake.threads)
settings = settings_from(w.preset, dict(p.settings["options"], iterations=int(w.iters)))
record = stylize_file(
    inp.photo, list(inp.styles), out.image, settings, int(w.res), style_weights=p.style_weights,
    device=p.settings["device"], progress=True, preset=w.preset,
)  # fmt: skip
print(json.dumps({k: record[k] for k in ("losses", "iterations", "converged", "seconds")}))
# the run's resolved settings (preset contents, weights file, version) and its place in the grid
write_json(out.record, dict(record, resolved=p.settings["resolved"], workflow=dict(w.items())))

"""Paint the procedural demo style image (rule demo_style)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.data.demo import make_style

p = snakemake.params
make_style(snakemake.output.image, height=p.height, width=p.width, seed=p.seed)

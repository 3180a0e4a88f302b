"""Consistency masks and scene cuts of one prepared clip (rule consistency)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.motion.consistency import compute_masks

compute_masks(
    snakemake.input.flow,
    snakemake.output.masks,
    offsets=tuple(snakemake.params.offsets),
    frames_dir=snakemake.input.frames,
    progress=True,
)

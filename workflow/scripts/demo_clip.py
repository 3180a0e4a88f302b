"""Synthesise the demo clip and its true flow (rule demo_clip)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.data.demo import make_clip

p = snakemake.params
summary = make_clip(
    snakemake.output.video,
    snakemake.output.flow,
    frames=p.frames,
    height=p.height,
    fps=p.fps,
    offsets=p.offsets,
)
print(summary)

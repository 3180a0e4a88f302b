"""Forward and backward optical flow of one prepared clip (rule flow)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

import cv2

from styleflow.motion.flow import compute_flows

cv2.setNumThreads(snakemake.threads)
compute_flows(
    snakemake.input.frames,
    snakemake.output.flow,
    method=snakemake.params.method,
    params=snakemake.params.settings,
    offsets=tuple(snakemake.params.offsets),
    progress=True,
    flow_format=snakemake.params.format,
)

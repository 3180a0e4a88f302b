"""Extract one video's frames at one height (rule frames)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.io.frames import extract_frames

clip = snakemake.params.clip
meta = extract_frames(
    snakemake.input.video,
    snakemake.output.frames,
    snakemake.params.height,
    start=clip["start"],
    step=clip["step"],
    max_frames=clip["max_frames"],
    progress=False,
)
print({k: v for k, v in meta.items() if k != "pts"})  # the times are in meta.json

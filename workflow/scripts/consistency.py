"""Consistency masks and scene cuts of one prepared clip (rule consistency)."""

import shutil
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.io.atomic import atomic_path
from styleflow.motion.consistency import compute_masks

compute_masks(
    snakemake.input.flow,
    snakemake.output.masks,
    offsets=tuple(snakemake.params.offsets),
    frames_dir=snakemake.input.frames,
    progress=True,
)
# The scene cuts once more as a file of their own: the checkpoint's output that plans the shots
# (small, so the main process can fetch it from a storage provider without the masks).
with atomic_path(snakemake.output.cuts) as tmp:
    shutil.copyfile(Path(snakemake.output.masks) / "cuts.json", tmp)

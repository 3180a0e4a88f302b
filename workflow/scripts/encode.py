"""Encode one run's stylised frames as H.264 mp4 at the clip's frame rate (rule encode)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.io.encode import encode_video
from styleflow.io.frames import read_meta

fps = read_meta(snakemake.input.content)["fps"]
encode_video(snakemake.params.frames, snakemake.output.video, fps, progress=False)

"""Encode one run's stylised frames as H.264 mp4, timed like the content clip and with its sound (rule encode)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.io.encode import encode_video

print(encode_video(snakemake.input.frames, snakemake.output.video, meta=snakemake.input.content,
                   audio=snakemake.params.audio))

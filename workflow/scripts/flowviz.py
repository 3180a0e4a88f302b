"""Flow colour-wheel video and content-warped video of one prepared clip (rule flowviz)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from styleflow.viz.flowviz import render_flow_video, render_warped_video

frames, flow = snakemake.input.frames, snakemake.input.flow
render_flow_video(frames, flow, snakemake.output.flow)
render_warped_video(frames, flow, snakemake.output.warped)

"""Warping error and fixed-backbone losses of one run (rule metrics)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

import torch

from styleflow.eval.metrics import score_run

torch.set_num_threads(snakemake.threads)
row = score_run(
    video=snakemake.input.video,
    content=snakemake.input.content,
    flow_dir=snakemake.input.flow,
    record_csv=snakemake.input.record,
    run_json=snakemake.input.summary,
    styles=snakemake.input.styles,
    style_weights=snakemake.params.style_weights,
    key=snakemake.params.key,
    flow_method=snakemake.params.flow_method,
    frames_dir=snakemake.input.frames,
    out_csv=snakemake.output.frames,
    out_json=snakemake.output.summary,
    flow_params=snakemake.params.flow_params,
    long_offsets=snakemake.params.long_offsets,
    static_px=snakemake.params.static_px,
    plan=snakemake.params.plan,
)
print(row)

"""Train one feed-forward network at one resolution (rule train_model)."""

import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

import torch

from styleflow.ff.train import TrainSettings, train
from styleflow.io.layout import ClipPaths

inp, p = snakemake.input, snakemake.params
torch.set_num_threads(snakemake.threads)
clips = [ClipPaths(*map(Path, c)) for c in zip(inp.frames, inp.flow, inp.masks)] if inp.frames else []
settings = TrainSettings(**p.settings, weights=p.options.get("weights", "auto"), backbone=p.options.get("backbone", "auto"))
record = train(list(inp.styles), list(inp.data), snakemake.output.model, settings, device=p.device, clips=clips,
               progress=True)
print({k: record[k] for k in ("steps_done", "seconds", "steps_per_second", "precision", "final_losses")})

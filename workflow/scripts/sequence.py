"""Stylise one clip with one style, budget and variant (rule sequence).

The frames go to params.work, which Snakemake does not manage, so a restarted job resumes at the
first unfinished frame. A signature of the settings, the inputs and the styleflow version is kept
beside them: if it differs (params changed — they hold the resolved settings: preset and variant
contents, weights file, styleflow version —, inputs rebuilt, folder from elsewhere), the folder
is started afresh, so a resumed run never mixes frames made differently.
"""

import json
import shutil
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

import torch

import styleflow
from styleflow.io.atomic import atomic_path, write_json
from styleflow.io.layout import ClipPaths
from styleflow.video.sequence import start_or_resume, stylize_clip

inp, out, p = snakemake.input, snakemake.output, snakemake.params
work = Path(p.work)
files = [Path(f) for f in inp.styles] + [
    f for d in (inp.frames, inp.flow, inp.masks) for f in sorted(Path(d).iterdir())
]
signature = {
    "styleflow": styleflow.__version__,
    "params": {k: v for k, v in p.items() if k != "work"},
    "inputs": [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files if not f.name.startswith(".")],
}  # fmt: skip
outcome = start_or_resume(work, signature)
if outcome == "reset":
    print(f"{work}: settings or inputs differ from the unfinished run there; starting afresh")
elif outcome == "resume":
    print(f"{work}: resuming the unfinished run there")

torch.set_num_threads(snakemake.threads)
summary = stylize_clip(
    ClipPaths(Path(inp.frames), Path(inp.flow), Path(inp.masks)),
    list(inp.styles),
    work,
    style_weights=p.style_weights,
    variant=p.variant,
    first_iterations=p.budget["first"],
    iterations=p.budget["later"],
    options=p.settings["options"],
    device=p.settings["device"],
    seed=p.settings["seed"],
    progress=True,
)
print(summary)
# Publish the record and the summary (with the run's place in the grid) once the clip is complete.
run = dict(
    json.loads((work / "run.json").read_text()),
    resolved=p.settings["resolved"],
    workflow=dict(snakemake.wildcards.items()),
)
with atomic_path(out.record) as tmp:
    shutil.copyfile(work / "frames.csv", tmp)
write_json(out.summary, run)

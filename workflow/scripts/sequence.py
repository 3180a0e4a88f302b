"""Stylise one shot of one clip with one style, budget and variant (rule sequence).

The shot is stylised in a scratch folder Snakemake does not manage (config `scratch` joined to
params.shot_folder), so a restarted
job resumes at the first unfinished frame. A signature of the settings, the inputs, the shot and
the styleflow version is kept beside the frames: if it differs (params changed — they hold the resolved settings: preset and variant
contents, weights file, styleflow version —, inputs rebuilt, styleflow upgraded, folder from elsewhere), the folder is started afresh, so a resumed run never
mixes frames made differently. When the shot is complete its frames move to the declared output.
"""

import hashlib
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

import torch

import styleflow
from styleflow.io.layout import ClipPaths
from styleflow.video.sequence import CSV_COLUMNS, start_or_resume, stylize_shot
from styleflow.video.shots import Shot, publish_shot

inp, out, p = snakemake.input, snakemake.output, snakemake.params
work, shot = Path(snakemake.config["scratch"], p.shot_folder), Shot.parse(snakemake.wildcards.shot)
files = [Path(f) for f in inp.styles] + [
    f for d in (inp.frames, inp.flow, inp.masks) for f in sorted(Path(d).iterdir())
]
digest = hashlib.sha256()  # the inputs' contents: paths and times differ between nodes and storage
for f in files:
    if not f.name.startswith("."):
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
signature = {
    "styleflow": styleflow.__version__,
    "shot": shot.name,
    "params": dict(p.items()),
    "inputs": digest.hexdigest(),
}
outcome = start_or_resume(work, signature)
if outcome == "reset":
    print(f"{work}: settings or inputs differ from the unfinished run there; starting afresh")
elif outcome == "resume":
    print(f"{work}: resuming the unfinished run there")

torch.set_num_threads(snakemake.threads)
record, rows = stylize_shot(
    ClipPaths(Path(inp.frames), Path(inp.flow), Path(inp.masks)),
    list(inp.styles),
    work,
    shot,
    style_weights=p.style_weights,
    variant=p.variant,
    first_iterations=p.budget["first"],
    iterations=p.budget["later"],
    options=p.settings["options"],
    device=p.settings["device"],
    seed=p.settings["seed"],
    progress=True,
)
print(record)
publish_shot(work, out.shot, shot, record, rows, CSV_COLUMNS)

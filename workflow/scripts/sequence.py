"""Stylise one shot of one clip with one style, budget and variant (rule sequence).

Every setting comes from the run's plan (params.plan, workflow/rules/plan.smk); its hash must be
the one in the plan.json input, and goes into shot.json. The shot is stylised in a scratch folder
Snakemake does not manage (config `scratch` joined to params.shot_folder), so a restarted job
resumes at the first unfinished frame. A signature of the params (the plan: preset and variant
contents, weights file, styleflow version, code), the inputs' contents, the shot and the styleflow
version is kept beside the frames: if it differs, the folder is started afresh, so a resumed run
never mixes frames made differently. When the shot is complete its frames move to the declared
output.
"""

import hashlib
import json
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

import torch

import styleflow
from styleflow.errors import StyleflowError
from styleflow.io.layout import ClipPaths
from styleflow.video.sequence import CSV_COLUMNS, start_or_resume, stylize_shot
from styleflow.video.shots import Shot, publish_shot

inp, out, p = snakemake.input, snakemake.output, snakemake.params
plan = p.plan  # the run's plan (workflow/rules/plan.smk): every setting of the run, and its hash
work, shot = Path(snakemake.config["scratch"], p.shot_folder), Shot.parse(snakemake.wildcards.shot)
written = json.loads(Path(inp.plan).read_text(encoding="utf-8"))["plan"]
if written != plan["plan"]:
    raise StyleflowError(f"{inp.plan}: plan {written}, but this run's settings are plan {plan['plan']}; "
                         f"rerun its plan job: snakemake --forcerun plan")
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
settings = plan["settings"]
variant = dict(plan["variant"]) if isinstance(plan["variant"], dict) else plan["variant"]
if isinstance(variant, dict) and variant.get("model"):
    variant["model"] = inp.model[0]  # the declared input (as the storage localised it), not the param's path
record, rows = stylize_shot(
    ClipPaths(Path(inp.frames), Path(inp.flow), Path(inp.masks)),
    list(inp.styles),
    work,
    shot,
    style_weights=plan["style_weights"],
    variant=variant,
    first_iterations=plan["budget"]["first"],
    iterations=plan["budget"]["later"],
    options=settings["options"],
    device=settings["device"],
    seed=settings["seed"],
    progress=True,
    plan=plan["plan"],  # in every frame's record; frames of another plan are not reused
)
record["plan"] = plan["plan"]
print(record)
publish_shot(work, out.shot, shot, record, rows, CSV_COLUMNS)

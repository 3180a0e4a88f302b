# A run's plan (issue 23): everything that decides its stylised frames, resolved once per run by
# run_plan, with a content hash that every artefact of the run carries.
#
#   results/runs/{video}/{style}/h{res}/{budget}/{variant}/plan.json     the plan and its hash
#
# plan.json is an input of every `sequence` job of the run. A changed setting changes the plan's
# params, so the `plan` job reruns, and the newer plan.json reruns every shot by its time
# (`mtime`), which needs no Snakemake metadata of the shots: a shot published by an orphaned job
# after Snakemake itself was killed is redone too. shot.json, run.json and metrics.json record the
# hash; `assemble` and `metrics` stop with a one-line error naming the run when it is not the
# plan's (docs/pipeline.md, "The run plan").

import functools
import types

from styleflow.io.atomic import write_json
from styleflow.io.records import content_hash, normalised


@functools.lru_cache(maxsize=None)
def _plan(video, style, res, budget_name, variant_name):
    w = types.SimpleNamespace(
        video=video, style=style, res=res, budget=budget_name, variant=variant_name
    )
    contents = {
        "run": dict(zip(KEYS, (video, style, res, budget_name, variant_name))),
        "styles": list(style_images(w)),
        "style_weights": style_weights(w),
        "budget": budget(w),
        "variant": variant(w),
        "settings": stylize_options(w),
        "code": script_code("sequence.py"),
    }
    # keys sorted (as JSON reads back): a param's text does not depend on the config's key order
    return normalised({"plan": content_hash(contents), **contents})


def run_plan(wildcards):
    """The run's plan: {"plan": its content hash, "run", "styles", "style_weights", "budget",
    "variant" (the mapping, a model as its file), "settings" (options, device, seed and the
    resolved settings), "code" (the sequence script's code hash)}; resolved once per run.
    """
    return _plan(*(str(getattr(wildcards, k)) for k in KEYS))


def plan_hash(wildcards):
    """The content hash of the run's plan (params of assemble and metrics, which check it)."""
    return run_plan(wildcards)["plan"]


rule plan:
    output:
        plan=f"{RUN}/plan.json",
    localrule: True
    resources:
        runtime=job_minutes("small"),
        mem_mb=job_mem_mb("small"),
    params:
        plan=plan_hash,
    run:
        write_json(output.plan, run_plan(wildcards))

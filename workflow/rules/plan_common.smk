"""Helpers of workflow/rules/plan.smk: a run's plan, resolved once, and its hash."""

import functools
import types

from styleflow.io.atomic import write_json
from styleflow.io.records import content_hash, normalised
from styleflow.options.run import run_settings


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


@functools.lru_cache(maxsize=None)
def _plan_settings(*key):
    plan = _plan(*key)
    s = plan["settings"]
    return run_settings(
        plan["variant"],
        s["options"],
        first_iterations=plan["budget"]["first"],
        iterations=plan["budget"]["later"],
        seed=s["seed"],
    )


def plan_settings(wildcards):
    """The run's styleflow.options.run.RunSettings, from its plan exactly as the shot job resolves
    them (budgets, passes, temporal term): what the runtime estimate uses."""
    return _plan_settings(*(str(getattr(wildcards, k)) for k in KEYS))


def plan_hash(wildcards):
    """The content hash of the run's plan (params of assemble and metrics, which check it)."""
    return run_plan(wildcards)["plan"]


def write_plan(wildcards, path, log):
    """The plan rule's job: the run's plan to ``path`` (atomically), one line to ``log``."""
    plan = run_plan(wildcards)
    write_json(path, plan)
    with open(log, "w") as fh:
        print(f"plan {plan['plan']} written to {path}", file=fh)

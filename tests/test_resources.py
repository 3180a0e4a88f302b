"""What the rules ask a scheduler for (workflow/rules/resources.smk; docs/cluster.md).

Read from dry runs, the way Snakemake hands them to an executor: wall time and memory grow with
the frame height, the clip's frame count, the iterations and `attempt`; the stylisation rules ask
for a GPU unless the config says device: cpu; every rule declares a runtime and memory.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from workflow_helpers import REPO, job_resources, snakemake

TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"
GPU_RULES = {"sequence", "stylize_image", "layer_figure", "train_model"}


def by_rule(output: str) -> dict[str, list[dict[str, str]]]:
    """rule -> the resources of each of its jobs in a dry run's output."""
    jobs: dict[str, list[dict[str, str]]] = {}
    for res in job_resources(output).values():
        jobs.setdefault(res["rule"], []).append(res)
    return jobs


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A folder where the .test grid's clip is prepared up to the consistency checkpoint, so a dry
    run knows the shots and lists the per-shot `sequence` jobs (seconds at 40 px)."""
    workdir = tmp_path_factory.mktemp("resources")
    snakemake("--cores", "2", "results/prep/demo/h40/masks-dis", "--configfile", str(TEST_CONFIG),
              workdir=workdir, timeout=300)
    return workdir


def dry(workdir: Path, *args: str) -> dict[str, list[dict[str, str]]]:
    return by_rule(snakemake("-n", "--configfile", str(TEST_CONFIG), *args, workdir=workdir).stdout)


@pytest.mark.slow
def test_every_rule_declares_runtime_and_memory_and_gpu_rules_a_gpu(prepared: Path) -> None:
    jobs = dry(prepared, "--config", "device=auto")
    assert GPU_RULES <= set(jobs), sorted(jobs)
    for rule, each in jobs.items():
        if rule == "all":
            continue
        for res in each:
            assert int(res["runtime"]) >= 10 and int(res["mem_mb"]) >= 500, (rule, res)
            assert (int(res.get("gpu", 0)) == 1) == (rule in GPU_RULES), (rule, res)


@pytest.mark.slow
def test_device_cpu_asks_for_no_gpu(prepared: Path) -> None:
    jobs = dry(prepared)  # the .test config says device: cpu
    assert "sequence" in jobs
    assert all(int(r.get("gpu", 0)) == 0 for each in jobs.values() for r in each), jobs


@pytest.mark.slow
def test_runtime_and_memory_grow_with_attempt(prepared: Path) -> None:
    first = dry(prepared, "--config", "device=auto")
    # --attempt: what Snakemake passes to a job it resubmits (marked "internal use" in --help)
    third = dry(prepared, "--config", "device=auto", "--attempt", "3")
    for rule in ("sequence", "assemble", "stylize_image", "ablation"):  # prep is done in `prepared`
        a, c = first[rule][0], third[rule][0]
        assert int(c["runtime"]) == 3 * int(a["runtime"]) and int(c["mem_mb"]) == 3 * int(a["mem_mb"]), (rule, a, c)


def _resource_helpers(device: str = "auto") -> dict:
    """The helpers of workflow/rules/resources.smk (plain Python), with a stand-in config."""
    ns = {"config": {"device": device}, "os": os, "math": math, "variant_spec": lambda name: {"base": name}}
    exec(compile((REPO / "workflow/rules/resources.smk").read_text(), "resources.smk", "exec"), ns)
    return ns


def test_sequence_runtime_grows_with_frames_height_and_iterations() -> None:
    """A shot job's wall time (stylize_minutes of its frame count), the way its rule asks for it."""
    from styleflow.options.run import run_settings

    stylize_minutes = _resource_helpers()["stylize_minutes"]

    def minutes(height: int, frames: int, first: int, later: int, variant: str | dict, attempt: int) -> int:
        run = run_settings(variant, {"weights": "random"}, first_iterations=first, iterations=later)
        return stylize_minutes(height, frames, run, attempt)

    base = minutes(350, 300, 600, 300, "noInit", 1)
    # the report's settings on a GPU: ~4 h (the previous profile's figure for ~300 frames)
    assert 200 <= base <= 300, base
    assert minutes(350, 600, 600, 300, "noInit", 1) > 1.8 * base
    assert minutes(350, 300, 600, 150, "noInit", 1) < 0.6 * base
    assert minutes(175, 300, 600, 300, "noInit", 1) < 0.35 * base
    assert minutes(350, 300, 600, 300, "multiPass", 1) > 1.5 * base  # later passes count
    assert minutes(350, 300, 600, 300, "noInit", 2) == 2 * base
    # a feed-forward run optimises nothing: its estimate is the minimum, not the grid's budget's
    assert minutes(350, 300, 600, 300, {"base": "feedforward", "model": "m.pt"}, 1) == 10

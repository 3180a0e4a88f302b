"""What the rules ask a scheduler for (workflow/rules/resources.smk; docs/cluster.md).

Read from dry runs, the way Snakemake hands them to an executor: wall time and memory grow with
the frame height, the clip's frame count, the iterations and `attempt`; the stylisation rules ask
for a GPU unless the config says device: cpu; every rule declares a runtime and memory.
"""

from __future__ import annotations

from pathlib import Path

from workflow_helpers import CONFIG, REPO, job_resources, overlay, snakemake

TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"
GPU_RULES = {"sequence", "stylize_image", "layer_figure"}


def by_rule(output: str) -> dict[str, list[dict[str, str]]]:
    """rule -> the resources of each of its jobs in a dry run's output."""
    jobs: dict[str, list[dict[str, str]]] = {}
    for res in job_resources(output).values():
        jobs.setdefault(res["rule"], []).append(res)
    return jobs


def dry(tmp_path: Path, *args: str) -> dict[str, list[dict[str, str]]]:
    return by_rule(snakemake("-n", "--configfile", str(TEST_CONFIG), *args, workdir=tmp_path).stdout)


def test_every_rule_declares_runtime_and_memory_and_gpu_rules_a_gpu(tmp_path: Path) -> None:
    jobs = dry(tmp_path, "--config", "device=auto")
    assert GPU_RULES <= set(jobs), sorted(jobs)
    for rule, each in jobs.items():
        if rule == "all":
            continue
        for res in each:
            assert int(res["runtime"]) >= 10 and int(res["mem_mb"]) >= 500, (rule, res)
            assert (int(res.get("gpu", 0)) == 1) == (rule in GPU_RULES), (rule, res)


def test_device_cpu_asks_for_no_gpu(tmp_path: Path) -> None:
    jobs = dry(tmp_path)  # the .test config says device: cpu
    assert all(int(r.get("gpu", 0)) == 0 for each in jobs.values() for r in each), jobs


def test_runtime_and_memory_grow_with_attempt(tmp_path: Path) -> None:
    first = dry(tmp_path, "--config", "device=auto")
    # --attempt: what Snakemake passes to a job it resubmits (marked "internal use" in --help)
    third = dry(tmp_path, "--config", "device=auto", "--attempt", "3")
    for rule in ("sequence", "flow", "stylize_image", "ablation"):
        a, c = first[rule][0], third[rule][0]
        assert int(c["runtime"]) == 3 * int(a["runtime"]) and int(c["mem_mb"]) == 3 * int(a["mem_mb"]), (rule, a, c)


def test_sequence_runtime_grows_with_frames_height_and_iterations(tmp_path: Path) -> None:
    def sequence(**grid) -> dict[str, str]:
        data = {"videos": {"demo": {"path": "results/demo/chelsea_pan.mp4", "max_frames": grid.get("frames", 300)}},
                "resolutions": [grid.get("res", 350)], "budgets": {"tiny": {"first": 600, "later": grid.get("later", 300)}},
                "device": "auto"}
        out = snakemake("-n", "--configfile", str(CONFIG / "tiny.yaml"), overlay(tmp_path, "grid", data),
                        workdir=tmp_path).stdout
        return by_rule(out)["sequence"][0]

    base = sequence()
    # the report's settings on a GPU: ~4 h (the previous profile's figure for ~300 frames)
    assert 200 <= int(base["runtime"]) <= 300, base
    assert int(sequence(frames=600)["runtime"]) > 1.8 * int(base["runtime"])
    assert int(sequence(later=150)["runtime"]) < 0.6 * int(base["runtime"])
    small = sequence(res=175)
    assert int(small["runtime"]) < 0.35 * int(base["runtime"]) and int(small["mem_mb"]) < int(base["mem_mb"])

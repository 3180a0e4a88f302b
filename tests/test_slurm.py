"""A workflow run through profiles/slurm on a real (single-node, localhost) SLURM.

The module starts its own cluster (tests/slurm_cluster.py; skipped with a reason
where SLURM cannot be installed or started, failed instead with
STYLEFLOW_REQUIRE_SLURM=1), runs each WorkflowCase with

    snakemake --profile profiles/slurm --profile tests/slurm/profile

(the local workflow profile, profiles/default, is merged in as it is for users: its
`gpu=1` must not throttle the cluster) under a hard timeout (SIGINT, then SIGKILL),
and checks that the jobs really went through SLURM: every job's SLURM log exists,
slurmctld logged and completed it, every GPU job ran on the GPU partition with a GPU
(TRES gres:gpu:1, CUDA_VISIBLE_DEVICES set) and every other job on the CPU partition
without one, GPU jobs were queued side by side (not one at a time), a job that failed
was resubmitted with its rule's attempt-scaled runtime and resumed, the shots of a
clip with a scene cut ran as separate jobs, and the outputs equal those of a local
run.

To test another workflow (the real pipeline's tiny config), add a WorkflowCase.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from slurm_cluster import SlurmCluster, slurm_cluster_fixture
from workflow_helpers import job_resources

REPO = Path(__file__).resolve().parents[1]
SLURM_PROFILE = REPO / "profiles" / "slurm"
TEST_PROFILE = REPO / "tests" / "slurm" / "profile"
TOY = REPO / "tests" / "slurm" / "toy"
TEST_CONFIG = REPO / "tests" / "slurm" / "pipeline.yaml"
VENV_BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slurm, pytest.mark.slow]  # a cluster start and Snakemake runs: minutes

slurm = pytest.fixture(scope="module")(slurm_cluster_fixture)


@dataclass(frozen=True)
class WorkflowCase:
    """A workflow to run through the SLURM profile, and what to expect of it.

    Paths in ``expected_outputs``, ``compare_with_local`` and ``log_checks`` are
    relative to the run's working directory (a fresh temporary directory).
    """

    name: str
    snakefile: Path
    configfiles: tuple[Path, ...] = ()
    config: tuple[str, ...] = ()  # --config KEY=VALUE ...
    targets: tuple[str, ...] = ()
    expected_outputs: tuple[str, ...] = ()
    # glob patterns of files that must be byte-identical to a local (`--cores 2`)
    # run's (same set of matches in both); () = no local run
    compare_with_local: tuple[str, ...] = ()
    # rules whose jobs must run on the profile's GPU partition with one GPU
    gpu_rules: frozenset[str] = frozenset()
    # rules whose jobs must run on the profile's CPU partition without a GPU
    cpu_rules: frozenset[str] = frozenset()
    # rule whose first job fails on purpose: it must be resubmitted once with twice
    # the runtime (the rule's `N * attempt`) and then succeed
    retried_rule: str | None = None
    # runtime in minutes the retried rule's first attempt must be given
    retried_first_runtime: int | None = None
    # log file -> regular expressions that must all match in it
    log_checks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timeout: int = 300  # seconds for the whole SLURM run
    extra_args: tuple[str, ...] = ()
    # writes the case's inputs into the (empty) working directory before a run
    prepare: Callable[[Path], None] | None = None
    # at least two jobs of these rules must have been queued at the same time
    concurrent_gpu_rules: frozenset[str] = frozenset()
    # masks folder (relative) whose cuts.json says how many shots the clip has: each
    # shot must be its own SLURM job of the `sequence` rule
    shots_of: str | None = None


def _cut_clip(workdir: Path) -> None:
    """clips/cuts.mp4: two shots of three frames (a cut before frame 4)."""
    sys.path.insert(0, str(REPO / "tests" / "slurm"))
    from cut_clip import make_cut_clip

    assert make_cut_clip(workdir / "clips" / "cuts.mp4", shots=2, frames_per_shot=3, height=64) == [4]


CASES = [
    WorkflowCase(
        name="toy",
        snakefile=TOY / "Snakefile",
        config=("simulate_preemption=true", "n_frames=3", "res=40"),
        expected_outputs=(
            "results/frames/demo/h40.txt",
            "results/stylized/demo/h40.txt",
            "results/metrics/demo/h40.csv",
        ),
        compare_with_local=(
            "results/frames/demo/h40.txt",
            "results/stylized/demo/h40.txt",
            "results/metrics/demo/h40.csv",
        ),
        gpu_rules=frozenset({"sequence"}),
        cpu_rules=frozenset({"frames", "metrics"}),
        retried_rule="sequence",
        retried_first_runtime=60,  # the toy's sequence_runtime: 60 * attempt
        log_checks={
            # the toy's rules log where they ran; {gpu}/{cpu} = partition names
            "logs/frames/demo/h40.log": (r"slurm_job_id=\d+ partition={cpu} cuda_visible_devices=$",),
            "logs/metrics/demo/h40.log": (r"slurm_job_id=\d+ partition={cpu} cuda_visible_devices=$",),
            "logs/sequence/demo/h40.log": (
                r"slurm_job_id=\d+ partition={gpu} cuda_visible_devices=\d+$",
                r"^frame 1: resumed$",  # the retry resumed from the first attempt's frame
                r"^frame 3: stylized$",
            ),
        },
        timeout=240,
    ),
    # The real pipeline: one tiny run on a clip with a scene cut and the still-image rules
    # (tests/slurm/pipeline.yaml; a few minutes on SLURM).
    pytest.param(
        WorkflowCase(
            name="pipeline",
            snakefile=REPO / "Snakefile",
            configfiles=(TEST_CONFIG,),
            prepare=_cut_clip,
            expected_outputs=(
                *(f"results/runs/cuts/swirls/h40/tiny/flowInit_temporalLoss/{f}" for f in ("run.json", "frames.csv", "video.mp4")),
                "results/images/sheets/h32/i3/gatys.png",
                "results/images/layers/chelsea/swirls/h32.png",
                "results/ablation.csv",
            ),
            compare_with_local=(
                "results/prep/cuts/h40/frames/*.png",
                "results/prep/cuts/h40/flow-dis/*.flo",
                "results/prep/cuts/h40/masks-dis/*.pgm",  # cuts.json records file times: see same_cuts
                "results/runs/cuts/swirls/h40/tiny/*/frames/*.png",
                "results/images/runs/chelsea/swirls/h32/i3/gatys.png",
                "results/images/layers/chelsea/swirls/h32.png",
            ),
            # every rule that declares a GPU; every other job must land on the CPU partition
            gpu_rules=frozenset({"sequence", "stylize_image", "layer_figure"}),
            cpu_rules=frozenset({"frames", "flow", "consistency", "encode", "contact_sheet", "metrics"}),
            concurrent_gpu_rules=frozenset({"stylize_image", "layer_figure", "sequence"}),  # the two shot jobs are ready together
            shots_of="results/prep/cuts/h40/masks-dis",
            timeout=1500,  # 13 min measured on a busy 2-core machine (SLURM run), 5 min local
        ),
        marks=[
            pytest.mark.slow,
            pytest.mark.skipif(
                not (REPO / "Snakefile").is_file() or not TEST_CONFIG.is_file(),
                reason="the pipeline (Snakefile, tests/slurm/pipeline.yaml) is not there",
            ),
        ],
        id="pipeline",
    ),
]


# ---------------------------------------------------------------------- helpers
def _env() -> dict[str, str]:
    """Environment for Snakemake: the venv first on PATH (SLURM jobs inherit it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _snakemake() -> str:
    exe = VENV_BIN / "snakemake"
    return str(exe) if exe.exists() else "snakemake"


class Run:
    """A command started in its own process group, its output in ``log``; :meth:`wait` ends it."""

    def __init__(self, cmd: list[str], cwd: Path, timeout: float, log: Path):
        self.cmd, self.log, self.deadline = cmd, log, time.monotonic() + timeout
        self.timeout = timeout
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait(self) -> tuple[int, str]:
        """(exit code, output). Past the timeout: SIGINT (Snakemake then cancels its SLURM jobs),
        after 60 s more SIGKILL to the process group, and the test fails."""
        try:
            rc = self.proc.wait(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            text = self.log.read_text()
            pytest.fail(f"{self.cmd[0]} did not finish in {self.timeout} s (interrupted); output tail:\n{text[-5000:]}")
        return rc, self.log.read_text()


def run_with_timeout(cmd: list[str], cwd: Path, timeout: float, log: Path) -> tuple[int, str]:
    """Run cmd to its end (see :class:`Run`). Returns (exit code, output)."""
    return Run(cmd, cwd, timeout, log).wait()


def _case_args(case: WorkflowCase) -> list[str]:
    args = ["--snakefile", str(case.snakefile)]
    if case.configfiles:
        args += ["--configfile", *map(str, case.configfiles)]
    if case.config:
        args += ["--config", *case.config]
    return args + list(case.extra_args) + list(case.targets)


def _minutes(limit: str) -> int:
    """jobcomp TimeLimit (minutes, or [D-]HH:MM:SS as scontrol prints it) -> minutes."""
    if limit.isdigit():
        return int(limit)
    days, _, hms = limit.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return (int(days) if days else 0) * 1440 + h * 60 + m + (1 if s else 0)


@dataclass
class Submission:
    snakemake_job: str
    slurm_id: str
    log: Path
    rule: str


def parse_submissions(output: str) -> list[Submission]:
    subs = []
    for m in re.finditer(
        r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.\s*$", output, re.M
    ):
        log = Path(m.group(3))
        rule = next((p[len("rule_"):] for p in log.parts if p.startswith("rule_")), "?")
        subs.append(Submission(m.group(1), m.group(2), log, rule))
    return subs


# ---------------------------------------------------------------------- the test
@pytest.mark.parametrize("case", CASES, ids=lambda c: getattr(c, "name", None))
def test_workflow_runs_through_slurm(case: WorkflowCase, slurm: SlurmCluster, tmp_path: Path):
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')")

    workdir = tmp_path / "slurm-run"
    workdir.mkdir()
    if case.prepare:
        case.prepare(workdir)
    cmd = [
        _snakemake(),
        "--profile", str(SLURM_PROFILE),
        "--profile", str(TEST_PROFILE),
        # rules may ask for more threads (cpus-per-task) than the test node has
        "--max-threads", str(slurm.cpus),
        *_case_args(case),
    ]  # fmt: skip
    local_run = None
    if case.compare_with_local:
        # the local reference runs while the SLURM run waits on its jobs (most of its time)
        local = tmp_path / "local-run"
        local.mkdir()
        if case.prepare:
            case.prepare(local)
        local_cmd = [
            _snakemake(), "--cores", "2", "--resources", "gpu=1", "--retries", "2",
            "--workflow-profile", "none", *_case_args(case),
        ]  # fmt: skip
        local_run = Run(local_cmd, local, case.timeout, tmp_path / "snakemake-local.log")
    t0 = time.monotonic()
    rc, out = run_with_timeout(cmd, workdir, case.timeout, tmp_path / "snakemake-slurm.log")
    elapsed = time.monotonic() - t0
    assert rc == 0, f"snakemake via SLURM failed (exit {rc}) after {elapsed:.0f} s:\n{out[-6000:]}"

    # 1. the workflow's results are there
    for rel in case.expected_outputs:
        assert (workdir / rel).is_file() or (workdir / rel).is_dir(), f"missing output {rel}"

    # 2. every job was submitted with sbatch and left a SLURM log
    run_id = re.search(r"SLURM run ID: (\S+)", out)
    assert run_id, f"no 'SLURM run ID' in the output: was the slurm executor used?\n{out[-3000:]}"
    subs = parse_submissions(out)
    assert subs, f"no job was submitted to SLURM:\n{out[-3000:]}"
    rules_seen = {s.rule for s in subs}
    declared = job_resources(out)
    gpu_jobs = {s.slurm_id for s in subs if int(declared.get(s.snakemake_job, {}).get("gpu", 0)) > 0}
    gpu_rules_seen = {s.rule for s in subs if s.slurm_id in gpu_jobs}
    assert case.gpu_rules <= gpu_rules_seen, f"rules that should ask for a GPU but did not: {sorted(case.gpu_rules - gpu_rules_seen)}"
    for rule in case.gpu_rules | case.cpu_rules | ({case.retried_rule} - {None}):
        assert rule in rules_seen, f"no SLURM job for rule {rule}; submitted: {sorted(rules_seen)}"
    for s in subs:
        assert s.log.is_file(), f"SLURM log of job {s.slurm_id} ({s.rule}) missing: {s.log}"
        text = s.log.read_text()  # a checkpoint (consistency) logs itself as one
        assert f"rule {s.rule}:" in text or f"checkpoint {s.rule}:" in text, f"{s.log} does not show rule {s.rule} running"

    # 3. SLURM itself saw and finished every job
    ctld_log = slurm.slurmctld_log.read_text()
    done = slurm.completed_jobs()
    states: dict[str, str] = {}
    for s in subs:
        assert re.search(rf"\bJobId={s.slurm_id}\b", ctld_log), f"slurmctld never logged job {s.slurm_id}"
        assert s.slurm_id in done, f"job {s.slurm_id} ({s.rule}) missing from the job completion log"
        rec = done[s.slurm_id]
        assert rec["Name"] == run_id.group(1), f"job {s.slurm_id} is not from this run: {rec}"
        states[s.slurm_id] = rec["JobState"]
        info = slurm.show_job(s.slurm_id)  # scontrol: still known (MinJobAge 3600 s)
        assert info["JobState"] == rec["JobState"], (info, rec)
        gres = info.get("TresPerJob", "") + info.get("TresPerNode", "")
        if s.slurm_id in gpu_jobs:  # every job whose rule declares a GPU
            assert info["Partition"] == slurm.gpu_partition, f"{s.rule} ran on {info['Partition']}"
            assert "gpu:1" in gres, f"{s.rule} job {s.slurm_id} got no GPU: {info}"
        else:  # every other job, listed in cpu_rules or not
            assert info["Partition"] == slurm.cpu_partition, f"{s.rule} ran on {info['Partition']}"
            assert "gpu" not in gres, f"CPU rule {s.rule} was given a GPU: {gres}"

    retried = [s for s in subs if s.rule == case.retried_rule]
    for s in subs:
        if s not in retried[:-1]:
            assert states[s.slurm_id] == "COMPLETED", f"job {s.slurm_id} ({s.rule}): {states[s.slurm_id]}"

    # 4. the failed job was resubmitted with the profile's attempt-scaled runtime
    if case.retried_rule:
        assert len(retried) == 2, f"expected 2 SLURM jobs for {case.retried_rule}, got {retried}"
        first, second = retried
        assert states[first.slurm_id] == "FAILED", states[first.slurm_id]
        t1, t2 = (_minutes(done[s.slurm_id]["TimeLimit"]) for s in retried)
        assert t2 == 2 * t1, f"runtime not scaled by attempt: {t1} then {t2} minutes"
        if case.retried_first_runtime is not None:
            assert t1 == case.retried_first_runtime, f"first attempt's runtime {t1} min"

    # 4b. the rules' own runtime and memory reached sbatch (first submissions; retries grow)
    first_subs = [s for s in subs if [t.snakemake_job for t in subs].count(s.snakemake_job) == 1]
    for s in first_subs:
        res = declared.get(s.snakemake_job, {})
        info = slurm.show_job(s.slurm_id)
        if "runtime" in res:
            assert _minutes(info["TimeLimit"]) == int(res["runtime"]), (s.rule, res, info["TimeLimit"])
        if "mem_mb" in res:
            assert info.get("MinMemoryNode") == f"{res['mem_mb']}M", (s.rule, res, info.get("MinMemoryNode"))

    # 4c. GPU jobs were queued side by side: Snakemake did not hold them back one at a time
    # (the local profile's gpu=1 is scoped per machine)
    if case.concurrent_gpu_rules:
        recs = [done[s.slurm_id] for s in subs if s.rule in case.concurrent_gpu_rules]
        assert len(recs) >= 2, f"fewer than two jobs of {sorted(case.concurrent_gpu_rules)}"
        overlap = any(a is not b and b["SubmitTime"] < a["EndTime"] and a["SubmitTime"] <= b["SubmitTime"]
                      for a in recs for b in recs)
        assert overlap, f"each GPU job was submitted only after the previous one ended: {recs}"

    # 5. the jobs' own view: partition, GPU visibility, resumption
    subst = {"{cpu}": slurm.cpu_partition, "{gpu}": slurm.gpu_partition}
    for rel, patterns in case.log_checks.items():
        text = (workdir / rel).read_text()
        for pattern in patterns:
            for key, value in subst.items():
                pattern = pattern.replace(key, re.escape(value))
            assert re.search(pattern, text, re.M), f"{rel} does not match {pattern!r}:\n{text}"

    # 6. same results as a local run
    if local_run is not None:
        rc, local_out = local_run.wait()
        assert rc == 0, f"local run failed:\n{local_out[-4000:]}"
        for rel in case.compare_with_local:
            files_a = sorted(p.relative_to(workdir) for p in workdir.glob(rel) if p.is_file())
            files_b = sorted(p.relative_to(local) for p in local.glob(rel) if p.is_file())
            assert files_a, f"{rel} matches no file of the SLURM run"
            assert files_a == files_b, f"{rel}: SLURM run has {files_a}, local run {files_b}"
            for f in files_a:
                assert filecmp.cmp(workdir / f, local / f, shallow=False), f"{f} differs from the local run's"

        if case.shots_of:  # the cuts found (cuts.json also records its inputs' file times)
            a, b = (json.loads((d / case.shots_of / "cuts.json").read_text()) for d in (workdir, local))
            for key in ("cuts", "consistent_fraction", "frame_count"):
                assert a[key] == b[key], f"cuts.json {key}: SLURM run {a[key]}, local run {b[key]}"

    # 7. the shots of a clip with a cut ran as separate SLURM jobs (one per shot): one
    # completed `sequence` job per shot the cuts file plans, each with its own shot wildcard
    # (the executor files a job's log under its wildcards, joined by "_": ..._000001-000003)
    if case.shots_of:
        from styleflow.video.shots import plan_shots

        cut_record = json.loads((workdir / case.shots_of / "cuts.json").read_text())
        planned = {s.name for s in plan_shots(cut_record["cuts"], cut_record["frame_count"])}
        assert len(planned) >= 2, f"{case.shots_of}/cuts.json found no cut: the test clip is not multi-shot"
        shot_of_job = {s.slurm_id: s.log.parent.name.rsplit("_", 1)[-1] for s in subs if s.rule == "sequence"}
        completed = {j: shot for j, shot in shot_of_job.items() if done[j]["JobState"] == "COMPLETED"}
        assert sorted(completed.values()) == sorted(planned), (
            f"shots planned {sorted(planned)}; completed sequence jobs per shot {sorted(completed.values())} "
            f"(rules submitted: {sorted(rules_seen)})"
        )
        assert set(completed) <= gpu_jobs, "shot jobs must ask for a GPU like the stylisation they replace"

"""Labels cannot lie (issue 23, "what was found" 1): a shot published by an orphaned job after
Snakemake itself was killed has no Snakemake metadata, so its params cannot be compared; the run's
plan (workflow/rules/plan.smk) still reruns it when a setting changes, and every artefact of the
run carries the plan's hash."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from workflow_helpers import BIN, CONFIG, REPO, overlay, snakemake

from styleflow.errors import StyleflowError
from styleflow.video.shots import assemble_run

RUN = "results/runs/demo/swirls/h40/tiny/flowInit_temporalLoss"
SHOT = "000001-000004"


def wait_for(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_shot_published_after_snakemake_was_killed_is_redone_when_a_setting_changes(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    tiny = str(CONFIG / "tiny.yaml")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "results/ablation.csv", "--cores", "2", "--configfile", tiny]
    first_frame = tmp_path / "scratch/runs/demo/swirls/h40/tiny/flowInit_temporalLoss" / SHOT / "frame_000001.png"
    shot = tmp_path / RUN / "shots" / SHOT
    # 1. SIGKILL to Snakemake alone, once the shot has written its first frame; its job goes on
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: first_frame.exists() or proc.poll() is not None, "the first frame")
        assert proc.poll() is None, "the run ended before the shot's first frame: nothing to interrupt"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    # 2. the orphaned job finishes and publishes the shot (with no Snakemake metadata)
    wait_for(lambda: (shot / "shot.json").is_file(), "the orphaned job's shot")
    wait_for(lambda: not first_frame.parent.exists(), "the orphaned job's end")
    old = json.loads((shot / "shot.json").read_text())
    assert old["video_settings"]["temporal_weight"] == 1e4
    # 3. unlock, finish the grid
    snakemake("--unlock", "--configfile", tiny, workdir=tmp_path)
    snakemake("results/ablation.csv", "--cores", "2", "--configfile", tiny, workdir=tmp_path, timeout=600)
    # 4. change the variant's temporal weight, rerun
    cfg = yaml.safe_load(Path(tiny).read_text())
    cfg["variants"]["flowInit_temporalLoss"] = {"temporal_weight": 2.0e4}
    edited = overlay(tmp_path, "edited", cfg)
    changed_at = time.time()
    snakemake("results/ablation.csv", "--cores", "2", "--configfile", edited, workdir=tmp_path, timeout=600)
    # frames, shot.json, run.json, metrics.json and the table row: all made by the new setting
    run = tmp_path / RUN
    plan = json.loads((run / "plan.json").read_text())
    shot_record = json.loads((shot / "shot.json").read_text())
    run_record = json.loads((run / "run.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    with open(tmp_path / "results/ablation.csv", newline="") as fh:
        (row,) = [r for r in csv.DictReader(fh) if r["variant"] == "flowInit_temporalLoss"]
    assert plan["variant"]["temporal_weight"] == 2e4 and plan["plan"] != old.get("plan")
    assert shot_record["video_settings"]["temporal_weight"] == 2e4
    assert run_record["resolved"]["variant_values"]["temporal_weight"] == 2e4
    assert shot_record["plan"] == run_record["plan"] == metrics["plan"] == row["plan"] == plan["plan"]
    assert all(p.stat().st_mtime > changed_at for p in (run / "frames").glob("frame_*.png"))
    assert all(p.stat().st_mtime > changed_at for p in shot.glob("frame_*.png"))


def test_assemble_refuses_a_shot_of_another_plan(tmp_path: Path) -> None:
    shot = tmp_path / "shots" / "000001-000001"
    shot.mkdir(parents=True)
    (shot / "shot.json").write_text(json.dumps({"plan": "aaaa", "shot": [1, 1]}))
    (shot / "frames.csv").write_text("frame\n1\n")
    with pytest.raises(StyleflowError, match="made by plan aaaa, but the run's settings are plan bbbb"):
        assemble_run([shot], tmp_path / "frames", tmp_path / "frames.csv", tmp_path / "run.json", ["frame"],
                     plan="bbbb")
    assert not (tmp_path / "run.json").exists()


@pytest.mark.parametrize(
    "variant, grid, expected",
    [
        ("flowInit_temporalLoss", (6, 3), (6, 3, 1)),
        ("moreSteps", (6, 3), (500, 500, 250)),
        ({"base": "feedforward", "model": "m.pt"}, (60, 30), (0, 0, 1)),  # 0 is a budget, not "unset"
        ({"base": "multiPass", "pass_iterations": 7}, (None, None), (300, 300, 7)),
    ],
)
def test_a_runs_budgets_are_decided_in_one_place(variant, grid, expected) -> None:
    from styleflow.options.variants import resolve_variant

    _, video, _ = resolve_variant(variant)
    assert video.budgets(*grid, default=300) == expected

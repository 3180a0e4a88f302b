"""Results know what made them, in the workflow: an edited preset or built-in variant reruns the
affected runs (``snakemake -n`` schedules them) and resets an interrupted run; an unknown option key
fails at parse time naming the closest valid one; ``weights: auto`` is pinned once and recorded.

Library edits are simulated without touching the repository: a ``sitecustomize`` module on
``PYTHONPATH`` changes ``PRESETS`` / ``VARIANTS`` in every Python process the run starts (Snakemake
itself and its script jobs).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from workflow_helpers import CONFIG, kill_when, overlay, scheduled, snakemake
from workflow_helpers import job_counts as _job_counts

pytestmark = pytest.mark.slow

RUN = "results/runs/demo/swirls/h40/tiny/{variant}"
LOG = "logs/sequence/demo/swirls/h40/tiny/{variant}/000001-000004.log"
PATCH = """
from styleflow.options.presets import PRESETS
from styleflow.video.variants import VARIANTS
{edit}
"""


def job_counts(output: str) -> dict[str, int]:
    return _job_counts(output, {"frames", "flow", "consistency", "sequence"})


def targets(*variants: str) -> list[str]:
    return [f"{RUN.format(variant=v)}/run.json" for v in variants]


def run_snakemake(workdir: Path, *args: str, edit: str | None = None, timeout: float = 300) -> str:
    """Snakemake on the tiny grid in ``workdir``; ``edit``: Python run at start-up of every process."""
    old = os.environ.get("PYTHONPATH", "")
    if edit is not None:
        site = workdir / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(PATCH.format(edit=edit))
        os.environ["PYTHONPATH"] = f"{site}{os.pathsep}{old}"
    try:
        return snakemake(*args, "--configfile", str(CONFIG / "tiny.yaml"), workdir=workdir, timeout=timeout).stdout
    finally:
        os.environ["PYTHONPATH"] = old


@pytest.fixture
def built(tiny_run: Path) -> Path:
    """Both tiny runs (noInit, flowInit_temporalLoss) stylised: conftest's session-wide run of the
    tiny grid (read-only here; the dry runs below change nothing in it)."""
    return tiny_run


def test_run_records_its_resolved_settings_and_the_pinned_weights(built: Path) -> None:
    record = json.loads((built / RUN.format(variant="noInit") / "run.json").read_text())
    resolved = record["resolved"]
    assert resolved["preset"] == "gatys" and resolved["variant"] == "noInit"
    assert resolved["settings"] == record["settings"]  # what the run used is what was recorded
    assert resolved["weights"]["source"] == record["weights_source"] != "random"
    assert resolved["weights"]["backbone"] == record["backbone"]
    pin = json.loads((built / "results/weights.json").read_text())
    assert pin["requested"]["weights"] == "auto" and pin["pinned"]["weights"] == record["weights_source"]


def test_nothing_to_do_without_changes(built: Path) -> None:
    assert "Nothing to be done" in run_snakemake(built, "-n", *targets("noInit", "flowInit_temporalLoss"))


def test_an_edited_preset_schedules_the_runs_that_use_it(built: Path) -> None:
    both = targets("noInit", "flowInit_temporalLoss")
    out = run_snakemake(built, "-n", *both, edit='PRESETS["gatys"]["style_weight"] = 2e5')
    assert job_counts(out) == {"sequence": 2} and "params" in out.lower()
    # a preset the grid does not use changes nothing
    assert "Nothing to be done" in run_snakemake(built, "-n", *both, edit='PRESETS["report"]["style_weight"] = 1')


def test_an_edited_builtin_variant_schedules_only_that_variant(built: Path) -> None:
    both = targets("noInit", "flowInit_temporalLoss")
    out = run_snakemake(built, "-n", *both, edit='VARIANTS["flowInit_temporalLoss"]["temporal_weight"] = 5e3')
    assert job_counts(out) == {"sequence": 1}
    assert [j["variant"] for j in scheduled(out, "sequence")] == ["flowInit_temporalLoss"]


def test_an_interrupted_run_restarts_when_the_preset_changed(built: Path, tmp_path: Path) -> None:
    """A shot job killed mid-shot leaves its finished frames in the scratch folder (signed with the
    settings that made them); after a preset edit the next job starts the shot afresh."""
    import sys

    built = Path(shutil.copytree(built, tmp_path / "copy", ignore=shutil.ignore_patterns("site")))  # others keep theirs
    run = built / RUN.format(variant="noInit")
    shot = "000001-000004"
    scratch = built / "scratch/runs/demo/swirls/h40/tiny/noInit" / shot
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "snakemake"), "--snakefile", str(CONFIG.parent / "Snakefile"), "--directory", str(built),
           "--cores", "1", *targets("noInit"), "--forcerun", "sequence", "--configfile", str(CONFIG / "tiny.yaml")]
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    kill_when(cmd, built, scratch / "frame_000002.png", env=env)
    old = {p.name: p.stat().st_mtime_ns for p in scratch.glob("frame_*.png")}
    assert old and (scratch / ".signature.json").is_file()
    snakemake("--unlock", "--configfile", str(CONFIG / "tiny.yaml"), workdir=built)
    out = run_snakemake(built, "--cores", "2", *targets("noInit"), edit='PRESETS["gatys"]["tol"] = 0.01')
    assert job_counts(out) == {"sequence": 1}
    log = (built / "logs/sequence/demo/swirls/h40/tiny/noInit" / f"{shot}.log").read_text()
    assert "starting afresh" in log and "resuming" not in log
    frames = run / "frames"
    assert all((frames / n).stat().st_mtime_ns != m for n, m in old.items())  # not resumed from the old frames
    record = json.loads((run / "run.json").read_text())
    assert record["settings"]["tol"] == record["resolved"]["preset_values"]["tol"] == 0.01


def test_unknown_option_key_fails_the_dry_run_naming_the_closest(tmp_path: Path) -> None:
    bad = overlay(tmp_path, "bad", {"options": {"warm_tool": 0.1}})
    proc = snakemake("-n", "--configfile", str(CONFIG / "tiny.yaml"), bad, workdir=tmp_path, check=False)
    assert proc.returncode != 0
    assert "config options: option 'warm_tool': unknown key; did you mean 'warm_tol'?" in proc.stdout
    cfg = yaml.safe_load((CONFIG / "tiny.yaml").read_text())
    bad = overlay(tmp_path, "bad2", {"variants": {**cfg["variants"], "noInit": {"pases": 2}}})
    proc = snakemake("-n", "--configfile", str(CONFIG / "tiny.yaml"), bad, workdir=tmp_path, check=False)
    assert proc.returncode != 0 and "did you mean 'passes'?" in proc.stdout

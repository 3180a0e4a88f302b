"""Feed-forward models in the workflow (issue 15, item 5): the tiny grid plus one model, the
network-only and hybrid variants as rows of the same ablation table, retraining reruns only the
runs that use the model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from workflow_helpers import CONFIG, job_counts, overlay, private_copy, snakemake

pytestmark = pytest.mark.slow

MODELS = {
    "models": {"swirls_net": {"style": "swirls", "steps": 6, "batch": 1, "width": 8, "blocks": 1}},
    "variants": {"noInit": {}, "feedforward": {"model": "swirls_net"}, "modelInit": {"model": "swirls_net"}},
}


@pytest.fixture(scope="module")
def grid(tiny_run: Path, tmp_path_factory) -> Path:
    """The tiny grid plus the model variants: a private copy of the session's tiny run, so only the
    model, its two runs and the tables after them are made here (frames, flow, masks and the tiny
    grid's runs are the copy's)."""
    workdir = private_copy(tiny_run, tmp_path_factory.mktemp("ffgrid"))
    extra = overlay(workdir, "models", MODELS)
    snakemake("--cores", "2", "--configfile", str(CONFIG / "tiny.yaml"), extra, workdir=workdir, timeout=900)
    return workdir


def test_models_trained_and_used(grid: Path) -> None:
    model = grid / "results/models/swirls_net/h40"
    assert {p.name for p in model.iterdir()} >= {"model.pt", "model.loss.csv", "model.loss.png"}
    ff = json.loads((grid / "results/runs/demo/swirls/h40/tiny/feedforward/run.json").read_text())
    assert ff["total_iterations"] == 0 and ff["model"].endswith("results/models/swirls_net/h40/model.pt")
    hybrid = (grid / "results/runs/demo/swirls/h40/tiny/modelInit/frames.csv").read_text().splitlines()
    assert hybrid[1].split(",")[2] == "model (shot start)"
    with open(grid / "results/ablation.csv") as f:
        rows = {r["variant"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"noInit", "flowInit_temporalLoss", "feedforward", "modelInit"}  # tiny.yaml + overlay
    assert float(rows["feedforward"]["training_seconds"]) > 0 and float(rows["modelInit"]["training_seconds"]) > 0
    assert rows["noInit"]["training_seconds"] == ""
    assert float(rows["feedforward"]["iterations_per_frame"]) == 0


def test_retraining_reruns_only_the_model_runs(grid: Path) -> None:
    changed = overlay(grid, "more_steps", {"models": {"swirls_net": {"steps": 7}}})
    out = snakemake("-n", "--configfile", str(CONFIG / "tiny.yaml"), overlay(grid, "models", MODELS), changed,
                    workdir=grid).stdout
    counts = job_counts(out, ["train_model", "sequence", "frames", "flow", "consistency"])
    assert counts == {"train_model": 1, "sequence": 2}, counts


def test_unknown_model_name_is_a_config_error(tmp_path: Path) -> None:
    bad = overlay(tmp_path, "bad", {"variants": {"feedforward": {"model": "nope"}}})
    proc = snakemake("-n", "--configfile", str(CONFIG / "tiny.yaml"), bad, workdir=tmp_path, check=False)
    assert proc.returncode != 0 and "variants.feedforward.model" in proc.stdout and "nope" in proc.stdout

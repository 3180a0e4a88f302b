"""Keeping flows small in the workflow (issue 14, item 6): config ``flow.format: png`` stores the
KITTI 16-bit PNG flows, ``flow.keep: false`` makes the flow folder a Snakemake ``temp()`` output,
deleted once every job that reads it (masks, shots, metrics, flowviz) has finished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workflow_helpers import CONFIG, job_counts, overlay, snakemake

#: Every test here starts Snakemake (seconds each): not in the quick tier (pytest -m "not slow").
pytestmark = pytest.mark.slow

PREP = "results/prep/demo/h40"
RUN = "results/runs/demo/swirls/h40/tiny/{variant}"
LATER = {"flow", "consistency", "flowviz", "sequence", "assemble", "metrics"}


@pytest.fixture(scope="module")
def compact(tmp_path_factory) -> Path:
    """The tiny grid run to completion with compact flows that are not kept."""
    workdir = tmp_path_factory.mktemp("flowtemp")
    change = overlay(workdir, "flow", {"flow": {"format": "png", "keep": False}})
    out = snakemake("--cores", "2", "--configfile", str(CONFIG / "tiny.yaml"), change, workdir=workdir, timeout=900)
    (workdir / "run.log").write_text(out.stdout)
    return workdir


def dry_run(workdir: Path, changes: dict) -> str:
    files = [str(CONFIG / "tiny.yaml"), overlay(workdir, "change", changes)]
    return snakemake("-n", "--configfile", *files, workdir=workdir).stdout


def test_flows_are_png_and_gone_once_every_reader_has_finished(compact: Path) -> None:
    assert not (compact / PREP / "flow-dis").exists()
    assert f"Removing temporary output {PREP}/flow-dis" in (compact / "run.log").read_text()
    cuts = json.loads((compact / PREP / "masks-dis/cuts.json").read_text())
    assert cuts["flow_record"]["format"] == "png"  # the masks were made from PNG flows
    assert len(list((compact / PREP / "masks-dis").glob("reliable_*.pgm"))) == 6
    for variant in ("noInit", "flowInit_temporalLoss"):  # the readers after the checkpoint ran
        run = compact / RUN.format(variant=variant)
        assert len(list((run / "frames").glob("frame_*.png"))) == 4
        assert json.loads((run / "metrics.json").read_text())
    assert (compact / PREP / "warped-dis.mp4").stat().st_size > 0


def test_a_finished_grid_does_not_want_its_deleted_flows_back(compact: Path) -> None:
    out = dry_run(compact, {"flow": {"format": "png", "keep": False}})
    assert "Nothing to be done" in out


def test_a_new_run_of_the_clip_recomputes_the_flow_and_what_follows(compact: Path) -> None:
    """The documented price of keep: false (config/README.md): a job that needs the flow again
    brings it back, and Snakemake reruns everything after it."""
    out = dry_run(compact, {"flow": {"format": "png", "keep": False},
                            "variants": {"noInit": {}, "flowInit_temporalLoss": {}, "flowInit_noTemporalLoss": {}}})
    counts = job_counts(out, LATER)
    assert counts["flow"] == 1 and counts["consistency"] == 1 and counts["assemble"] == 3


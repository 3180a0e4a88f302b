"""The workflow without a shared file system (issue 16 item 2), the way a cloud run sees it.

The catalog's .test grid (the tiny video grid, a toy network trained by the workflow and its
feed-forward run, still images) runs from a clone of the
workflow's sources through the ``fs`` storage plugin
(``--default-storage-provider fs --shared-fs-usage none``), every job on a stand-in node that
shares nothing with the submitting host: the ``cluster-generic`` executor's submit command
(tests/nodes/submit.py) starts each job in a fresh, empty folder; the job gets the workflow's
sources from the storage (``--job-deploy-sources``) and every file it reads from the storage
provider, so a file that a rule reads without declaring it is simply not there. Its ablation rows
must equal a plain local run's (all but the timing columns and the group's marks): the session's
run of the tiny grid.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_helpers import BIN, REPO

NODES = Path(__file__).parent / "nodes"
#: Columns that measure time, not results.
TIMING = {"seconds_per_frame"}
#: The same torch thread counts as the local reference run (``--cores 2``): CPU float results depend on them.
THREADS = ("--set-threads", "sequence=2", "metrics=2")


def _missing() -> str | None:
    for module in ("snakemake_storage_plugin_fs", "snakemake_executor_plugin_cluster_generic"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[test]')"
    if shutil.which("rsync") is None:
        return "rsync is not on PATH (the fs storage plugin needs it: apt-get install rsync)"
    if shutil.which("git") is None:
        return "git is not on PATH (Snakemake archives the workflow's git-tracked sources for the jobs)"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


def table(path: Path) -> list[dict[str, str]]:
    """The table's rows without the timing columns (and their intervals, marks, differences)."""
    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if not k.startswith(tuple(TIMING))} for row in csv.DictReader(fh)]


def per_run(row: dict[str, str]) -> dict[str, str]:
    """A row's own values: without the marks, which depend on the other runs of its group."""
    return {k: v for k, v in row.items() if not k.endswith("_mark")}


#: The catalog's .test grid: the tiny video grid (config/tiny.yaml) plus a toy network (train_model)
#: and its feedforward run, and still images (stylize_image, contact_sheet, layer_figure); its extra
#: target and a file that target must make.
GRID = (REPO / ".test/config/config.yaml", ["images"], "results/images/sheets/h32/i3/gatys.png")


def test_test_grid_through_storage_on_nodes_that_share_nothing(tmp_path: Path, tiny_run: Path) -> None:
    config_file, extra_targets, made = GRID
    clone = tmp_path / "clone"  # the submitting host: a checkout of the workflow, nothing else
    clone.mkdir()
    for name in ("Snakefile", "workflow", "config"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, clone / name)
    shutil.copyfile(config_file, clone / "config" / "grid.yaml")
    subprocess.run(["git", "init", "-q"], cwd=clone, check=True)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    store, state = tmp_path / "store", tmp_path / "nodes"
    py = sys.executable
    # Run from the clone without --directory: Snakemake passes its --directory on to the jobs, which
    # would then all work in the clone instead of their own empty folders.
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [
        str(BIN / "snakemake"), "--snakefile", "Snakefile", "results/ablation.csv", *extra_targets,
        "--configfile", "config/grid.yaml", "--workflow-profile", "none",
        "--executor", "cluster-generic",
        "--cluster-generic-submit-cmd", f"{py} {NODES / 'submit.py'} {state}",
        "--cluster-generic-status-cmd", f"{py} {NODES / 'status.py'} {state}",
        "--default-storage-provider", "fs", "--default-storage-prefix", str(store),
        "--shared-fs-usage", "none", "--job-deploy-sources", "--jobs", "2", "--latency-wait", "5", *THREADS,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True, timeout=1500)
    jobs = sorted((p for p in state.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    failed = [j for j in jobs if (j / "rc").is_file() and (j / "rc").read_text().strip() != "0"]
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + "".join(f"\n== node job {j.name}:\n" + (j / "log").read_text()[-3000:] for j in failed)
    assert len(jobs) >= 10  # every job but the local demo rules ran on a node
    assert not any(str(clone) in (j / "jobscript.sh").read_text() for j in jobs)  # no node was sent to the clone
    assert all((j / "rc").read_text().strip() == "0" for j in jobs)
    # nothing was written beside the sources but the main process's record of the weights pin
    # (results/weights.json, written by onstart: a record; every job gets the pinned settings in its params)
    assert sorted(str(p.relative_to(clone)) for p in (clone / "results").rglob("*") if p.is_file()) in ([], ["results/weights.json"])
    runs = store / "results/runs/demo/swirls/h40/tiny"
    assert sorted(p.name for p in (runs / "noInit/shots").iterdir()) == ["000001-000004"]
    assert made is None or (store / made).is_file()

    # the local reference: conftest's session-wide run of the tiny grid, which is this grid's video
    # part exactly (tests/test_catalog.py checks that), with --cores 2: the same threads
    # (the grid's marks compare runs within a group, and this grid has one run more: the network's)
    remote_rows, local_rows = table(store / "results/ablation.csv"), table(tiny_run / "results/ablation.csv")
    assert sorted(r["variant"] for r in remote_rows) == ["feedforward", "flowInit_temporalLoss", "noInit"]
    assert len(local_rows) == 2
    for local in local_rows:
        remote = next(r for r in remote_rows if r["variant"] == local["variant"])
        assert per_run(remote) == per_run(local), local["variant"]
    # the network was trained on a node from the stored frames, and its run made frames from it
    assert (store / "results/models/tiny_net/h40/model.pt").is_file()
    ff = next(r for r in remote_rows if r["variant"] == "feedforward")
    assert ff["plan"] and ff["plan"] not in {r["plan"] for r in local_rows}
    assert sorted(p.name for p in (runs / "feedforward/shots").iterdir()) == ["000001-000004"]

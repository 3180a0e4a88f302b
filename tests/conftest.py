"""Shared pytest fixtures.

Real test material lives outside the repository in ``../shared/data`` (or ``$STYLEFLOW_SHARED_DATA``);
tests that need it skip with a reason when it is absent.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("STYLEFLOW_SHARED_DATA", REPO.parent / "shared" / "data"))

# ``precision: auto`` on a CPU with native bfloat16 is decided by timing the backbone; tests (and
# the Snakemake, SLURM and CLI processes they start, which inherit this environment) must not
# depend on a timing, least of all those comparing bytes across processes. auto is bfloat16 there,
# as it was by the CPU flag alone before the timing (the suite's thresholds were measured so:
# test_preserve_colors' cut frame reaches 0.351 of its 0.35 bound in float32); a CPU without
# native bfloat16 stays float32. No test reads or writes the user's decision file.
# tests/test_precision.py unsets both to exercise the timing path with a fake timer.
os.environ.setdefault("STYLEFLOW_PRECISION_AUTO", "bfloat16")
os.environ.setdefault("STYLEFLOW_PRECISION_CACHE", "off")
# No test waits for a network: ``weights: auto`` would probe torchvision's download host (up to 3 s
# per process) where its cache is empty. Every process the suite starts inherits the switch;
# tests/test_suite_hygiene.py proves a run with it makes no connection attempt.
os.environ.setdefault("STYLEFLOW_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the shared real test material; skips the test when it is not there."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"shared test material not found at {SHARED_DATA} (set STYLEFLOW_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests use tiny images: one thread avoids OpenMP spin-waits on a busy 2-core machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# ---------------------------------------------------------------- runs shared by several test modules
#
# A whole-workflow run costs minutes on 2 cores, so each grid that several test modules read is run
# once per test session and shared (read-only: a test that changes a run works on a private copy,
# workflow_helpers.private_copy). The README's command runs the modules on three pytest-xdist
# workers (``-n 3 --dist loadfile``: a module's tests, and so its module-scoped fixtures, stay on
# one worker); a file lock makes a worker that asks for a run another is making wait for it instead
# of making it again.


#: Modules that take minutes, longest first: they start first, so that the other modules fill the
#: other workers meanwhile instead of being left as a tail at the end (most of the long modules'
#: time is spent waiting on a cluster's or the storage nodes' jobs).
LONG_FIRST = ("test_slurm.py", "test_storage.py", "test_workflow.py", "test_options_workflow.py",
              "test_flow_storage.py", "test_images_workflow.py", "test_reruns.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long modules first (in LONG_FIRST's order); the rest keep their order."""
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def shared_run(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``build(folder)`` once per test session (across xdist workers); returns the folder.

    A build that raised leaves no marker: the next test that asks builds again (and fails again,
    with its own traceback)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the session's folder
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny grid (config/tiny.yaml: 4 frames at 40 px, 2 variants, CPU, real weights) run to the
    end (`rule all`: runs, metrics, ablation table, plots, side-by-side, flow videos) with
    ``--cores 2`` (so the sequence and metrics jobs get 2 threads each). Read-only for the tests."""
    from workflow_helpers import CONFIG, snakemake

    return shared_run(
        tmp_path_factory, "tiny",
        lambda folder: snakemake("--cores", "2", "--configfile", str(CONFIG / "tiny.yaml"), workdir=folder, timeout=900),
    )  # fmt: skip

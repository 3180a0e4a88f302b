"""Shared pytest fixtures.

Real test material lives outside the repository in ``../shared/data`` (or ``$STYLEFLOW_SHARED_DATA``);
tests that need it skip with a reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

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

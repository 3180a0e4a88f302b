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
# depend on a timing, least of all those comparing bytes across processes: auto is float32 there
# (what the timing picks on the Xeon host), and no test reads or writes the user's decision file.
# tests/test_precision.py unsets both to exercise the timing path with a fake timer.
os.environ.setdefault("STYLEFLOW_PRECISION_AUTO", "float32")
os.environ.setdefault("STYLEFLOW_PRECISION_CACHE", "off")


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

"""What the device benchmark runs, full-size and in its dry mode: one place for the sizes that
``prepare.py`` (the frames it carries) and ``driver.py`` (the steps it runs) must agree on.

The full plan fits 8 minutes on one CUDA GPU (each step's ``limit_s``, summed, plus the wheels'
install); the dry plan runs the same steps at toy sizes on a CPU in about a minute (the test
``tests/test_bench_device.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
#: The git-ignored folder ``prepare.py`` writes and a device run carries.
CARRY = HERE / "carry"
#: The workflow config whose first frames the workflow step runs.
REPORT_CONFIG = REPO / "config" / "report.yaml"
#: Deepest backbone layer any step needs (the gatys preset's and the metrics' relu5_1).
LAST_LAYER = "relu5_1"
#: The Python and platform the lent GPU machines run (their image: Python 3.12, x86-64).
DEVICE_PYTHON = "3.12"


@dataclass(frozen=True)
class Plan:
    """Sizes of every step (heights in pixels; frame counts; iteration budgets; seconds)."""

    name: str
    device: str
    speed_height: int  # bench_speed at the report's height (350: 350x525 for a 2:3 clip)
    speed_frames: int
    speed_report_iterations: int
    speed_extra: tuple[str, ...]  # more bench_speed arguments
    resolution_heights: tuple[int, ...]
    resolution_frames: int
    resolution_iterations: tuple[int | None, int | None]  # (first, later); None: the variant's
    resolution_coarse_iterations: int | None  # the multiscale path's coarse level; None: the preset's
    train_size: int
    train_steps: int
    train_width: int
    train_blocks: int
    train_batch: int
    workflow_height: int
    workflow_frames: int
    workflow_budget: tuple[int, int] | None  # (first, later); None: report.yaml's own (600 / 300)
    workflow_variants: tuple[str, ...] | None  # None: all of report.yaml's
    analysis_height: int
    limits_s: dict[str, int] = field(default_factory=dict)

    def frame_sets(self) -> list[tuple[int, int]]:
        """``(height, frames)`` of every prepared clip the benches use (``benchlib.prepare_clip``'s
        folders), which ``prepare.py`` extracts here so that no video is decoded on the device."""
        sets = {(self.speed_height, self.speed_frames), (self.train_size, self.resolution_frames)}
        sets.update((h, self.resolution_frames) for h in self.resolution_heights)
        return sorted(sets)


FULL = Plan(
    name="full", device="cuda",
    speed_height=350, speed_frames=6, speed_report_iterations=300, speed_extra=(),
    resolution_heights=(720, 1080), resolution_frames=3, resolution_iterations=(None, None),
    resolution_coarse_iterations=None,
    train_size=256, train_steps=300, train_width=32, train_blocks=5, train_batch=4,
    workflow_height=350, workflow_frames=10, workflow_budget=None, workflow_variants=None,
    analysis_height=256,
    limits_s={"cuda_tests": 30, "speed": 75, "resolution": 150, "workflow": 195},
)

DRY = Plan(
    name="dry", device="cpu",
    speed_height=32, speed_frames=2, speed_report_iterations=3,
    speed_extra=("--precision", "float32", "--fast-option", "iterations=4"),  # no precision timing, tiny budgets
    resolution_heights=(32, 48), resolution_frames=2, resolution_iterations=(3, 2),
    resolution_coarse_iterations=3,
    train_size=32, train_steps=2, train_width=8, train_blocks=1, train_batch=1,
    workflow_height=32, workflow_frames=2, workflow_budget=(3, 2),
    workflow_variants=("noInit", "flowInit_temporalLoss"),  # not moreSteps' 500 iterations a frame
    analysis_height=32,
    limits_s={"cuda_tests": 120, "speed": 120, "resolution": 180, "workflow": 300},
)

PLANS = {"full": FULL, "dry": DRY}


def clip_name(video: Path) -> str:
    """The carried clip's file name (its stem names the benches' work folders)."""
    return "clip" + video.suffix.lower()

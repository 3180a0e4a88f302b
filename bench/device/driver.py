"""The device benchmark's steps, each a subprocess with a time limit, and its one summary.

    python bench/device/driver.py --out OUT               # the full plan (what run.sh calls on a GPU)
    python bench/device/driver.py --dry --device cpu --out OUT --carry CARRY   # toy sizes on a CPU

Steps, in order (``plan.py`` holds their sizes and limits):

1. ``cuda_tests`` — ``pytest tests/test_cuda.py`` (they skip without CUDA);
2. ``speed`` — ``bench/bench_speed.py`` at the report's height (350 px);
3. ``resolution`` — ``bench/bench_resolution.py`` at 720 and 1080 px, after training a full-width
   network (``--width 32 --blocks 5``) for a fixed number of steps: its steps per second;
4. ``workflow`` — the first frames of ``config/report.yaml`` through Snakemake (all five variants),
   with the carried clip and painting (skipped, with the reason, when Snakemake cannot be imported).

With a carry folder (``prepare.py``), nothing is decoded, downloaded or looked up: the frames are
the carried ones, the backbone the carried float16 VGG16 (``$STYLEFLOW_VGG16_WEIGHTS``,
``$STYLEFLOW_OFFLINE``). Writes three files to OUT: ``summary.md`` (steps, status, seconds and
each bench's own tables), ``summary.json`` (every number) and ``logs.tar.gz`` (each step's log
and JSON); the benches work in ``--scratch``. A step that fails or runs out of time is recorded as
such; the others still run. Exit status 0 when every step passed or was skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan import CARRY, PLANS, REPO, REPORT_CONFIG, Plan  # noqa: E402

BENCH = REPO / "bench"


def environment(device: str) -> dict[str, Any]:
    """Python, torch, the GPU (name, memory, capability) or the CPU."""
    info: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda_available"] = torch.cuda.is_available()
        if device != "cpu" and torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                        capability=f"{p.major}.{p.minor}", cuda=torch.version.cuda)
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        info["torch_error"] = repr(exc)
    sys.path.insert(0, str(BENCH))
    from benchlib import cores, cpu_model

    info.update(cpu=cpu_model(), cores=cores())
    return info


def relocate(frames_dir: Path, video: Path) -> None:
    """Point a carried frames folder's record at the carried clip on this machine, so that
    ``prepare_clip`` reuses the frames instead of decoding the clip again."""
    meta_path = frames_dir / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["source"] = str(video.resolve())
    meta_path.write_text(json.dumps(meta))


def step(name: str, cmd: list[str], logs: Path, limit_s: float, env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd`` (cwd: the repository) with a time limit; its output in ``logs/{name}.log``."""
    log = logs / f"{name}.log"
    t = time.perf_counter()
    with open(log, "w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=max(1.0, limit_s))
            status = "passed" if rc == 0 else f"failed (exit status {rc})"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            rc, status = None, f"timed out after {limit_s:.0f} s"
    seconds = time.perf_counter() - t
    print(f"[device bench] {name}: {status} in {seconds:.1f} s", flush=True)
    return {"name": name, "status": status, "rc": rc, "seconds": round(seconds, 1), "log": log.name,
            "limit_s": round(limit_s), "command": " ".join(cmd)}


def tail(path: Path, lines: int = 12) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""


def stdout_tables(log: Path) -> str:
    """The Markdown a bench printed (its lines from the first table or header on)."""
    text = log.read_text(errors="replace").splitlines() if log.is_file() else []
    keep = [ln for ln in text if ln.startswith(("|", "clip:", "network trained", "#")) or ln.strip() == ""]
    return "\n".join(keep).strip()


def workflow_config(plan: Plan, clip: Path, style: Path, work: Path) -> Path:
    """``config/report.yaml`` with the carried clip and painting, the plan's frames, height and
    budget (None: the report's own), ``device`` (cpu in the dry plan)."""
    import yaml

    cfg = yaml.safe_load(REPORT_CONFIG.read_text())
    cfg["videos"] = {"clip": {"path": str(clip.resolve()), "start": 0, "step": 1, "max_frames": plan.workflow_frames}}
    cfg["styles"] = {"painting": {"images": [str(style.resolve())]}}
    cfg["resolutions"] = [plan.workflow_height]
    if plan.workflow_budget:
        cfg["budgets"] = {"report": {"first": plan.workflow_budget[0], "later": plan.workflow_budget[1]}}
    cfg["device"] = plan.device
    cfg["scratch"] = str((work / "scratch").resolve())
    path = work / "report-device.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_workflow(plan: Plan, clip: Path, style: Path, carry: Path | None, scratch: Path, limit_s: float,
                 env: dict[str, str]) -> dict[str, Any]:
    """Step 4: Snakemake on the report's grid, the clip's frames seeded from the carry folder."""
    probe = subprocess.run([sys.executable, "-c", "import snakemake, yaml, jsonschema"], env=env,
                           capture_output=True, text=True)
    if probe.returncode:
        why = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return {"name": "workflow", "status": f"skipped: Snakemake cannot be imported here ({why}); "
                "run bench/device/prepare.py where a package registry answers, to carry its wheels",
                "rc": None, "seconds": 0.0}
    work = scratch / "workflow"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = workflow_config(plan, clip, style, work)
    seeded = carry / "workflow" / "frames" if carry else None
    if seeded and seeded.is_dir():
        frames = work / "results" / "prep" / "clip" / f"h{plan.workflow_height}" / "frames"
        shutil.copytree(seeded, frames)
        relocate(frames, clip)
        old = time.time() - 3600
        os.utime(clip, (old, old))  # the frames are newer than their input: the frames rule does not rerun
    import yaml

    variants = list(plan.workflow_variants or yaml.safe_load(REPORT_CONFIG.read_text())["variants"])
    runs = [f"results/runs/clip/painting/h{plan.workflow_height}/report/{v}" for v in variants]
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work),
           "--configfile", str(config), "--resources", "gpu=1", "--rerun-triggers", "mtime",  # (both take lists)
           "--scheduler", "greedy", "--cores", "4", *[f"{r}/run.json" for r in runs]]
    result = step("workflow", cmd, scratch / "logs", limit_s, env)
    per_variant = {}
    for v, r in zip(variants, runs):
        path = work / r / "run.json"
        if path.is_file():
            rec = json.loads(path.read_text())
            per_variant[v] = {k: rec.get(k) for k in ("frames", "total_iterations", "seconds_stylising", "device",
                                                       "precision", "backbone", "weights_source", "weights_file")}
        else:
            shot_frames = list((work / "scratch").rglob("frame_*.png")) + list((work / r).rglob("frame_*.png"))
            per_variant[v] = {"frames_done": len(shot_frames), "finished": False}
    result["variants"] = per_variant
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="driver", description=__doc__.split("\n\n")[0])
    p.add_argument("--dry", action="store_true", help="toy sizes (the test's; a CPU is enough)")
    p.add_argument("--device", help="cpu | cuda (default: the plan's: cuda, or cpu when --dry)")
    p.add_argument("--out", type=Path, required=True,
                   help="folder for summary.md, summary.json and logs.tar.gz (three files: a device's $OUT returns few)")
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "styleflow-device",
                   help="working folder: the benches' clips and outputs, the workflow, the logs (default %(default)s)")
    p.add_argument("--carry", type=Path, default=CARRY, help=f"prepare.py's folder (default {CARRY})")
    p.add_argument("--only", nargs="+", choices=["cuda_tests", "speed", "resolution", "workflow"],
                   help="run only these steps")
    a = p.parse_args(argv)
    plan = PLANS["dry" if a.dry else "full"]
    device = a.device or plan.device
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    scratch = a.scratch.resolve()
    logs = scratch / "logs"  # run.sh may have written wheels.log there already
    logs.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    carry = a.carry.resolve() if (a.carry / "manifest.json").is_file() else None
    work = scratch / "work"
    shutil.rmtree(work, ignore_errors=True)
    if carry:
        prepared = json.loads((carry / "manifest.json").read_text()).get("plan")
        if prepared != plan.name:
            p.error(f"--carry {carry}: prepared for the {prepared} plan, not the {plan.name} plan; "
                    f"run python bench/device/prepare.py{' --dry' if a.dry else ''}")
        clip = next(carry.glob("clip.*"))
        style = next(carry.glob("style.*"))
        shutil.copytree(carry / "work", work)
        for frames in work.glob("*/frames"):
            relocate(frames, clip)
        env.update(STYLEFLOW_VGG16_WEIGHTS=str(carry / "vgg16.pth"), STYLEFLOW_OFFLINE="1")
        inputs = ["--video", str(clip), "--style", str(style)]
    else:  # no carry folder: the benches' own choice of clip and weights (needs FFmpeg)
        clip = style = None  # type: ignore[assignment]
        inputs = []
    py = sys.executable
    results = []
    todo = a.only or ["cuda_tests", "speed", "resolution", "workflow"]
    for name in todo:
        (logs / f"{name}.json").unlink(missing_ok=True)  # no stale figures in the summary
    for old in logs.glob("crop-h*.png"):
        old.unlink()

    def limit(name: str) -> float:
        return plan.limits_s[name]

    if "cuda_tests" in todo:
        results.append(step("cuda_tests", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                                           "tests/test_cuda.py"], logs, limit("cuda_tests"), env))
    if "speed" in todo:
        results.append(step("speed", [py, str(BENCH / "bench_speed.py"), "--height", str(plan.speed_height),
                                      "--frames", str(plan.speed_frames), "--report-iterations",
                                      str(plan.speed_report_iterations), *plan.speed_extra, "--device", device, "--work", str(work),
                                      "--json", str(logs / "speed.json"), *inputs], logs, limit("speed"), env))
    if "resolution" in todo:
        first, later = plan.resolution_iterations
        budgets = [*(["--first-iterations", str(first)] if first else []), *(["--iterations", str(later)] if later else []),
                   *(["--coarse-iterations", str(plan.resolution_coarse_iterations)]
                     if plan.resolution_coarse_iterations else [])]
        results.append(step("resolution", [
            py, str(BENCH / "bench_resolution.py"), "--heights", *map(str, plan.resolution_heights),
            "--frames", str(plan.resolution_frames), *budgets, "--train-steps", str(plan.train_steps),
            "--train-size", str(plan.train_size), "--train-batch", str(plan.train_batch),
            "--width", str(plan.train_width), "--blocks", str(plan.train_blocks),
            "--analysis-height", str(plan.analysis_height), "--multiscale", "--crops", str(logs),
            "--device", device, "--work", str(work),
            "--json", str(logs / "resolution.json"), *inputs], logs, limit("resolution"), env))
    if "workflow" in todo:
        if clip is None:
            results.append({"name": "workflow", "status": "skipped: needs a carry folder (prepare.py)", "rc": None,
                            "seconds": 0.0})
        else:
            results.append(run_workflow(plan, clip, style, carry, scratch, limit("workflow"), env))
    summary = {"plan": plan.name, "device": device, "environment": environment(device),
               "carry": json.loads((carry / "manifest.json").read_text()) if carry else None,
               "seconds": round(time.perf_counter() - t0, 1), "steps": results}
    for name in ("speed", "resolution"):
        path = logs / f"{name}.json"
        summary[name] = json.loads(path.read_text()) if name in todo and path.is_file() else None
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    (out / "summary.md").write_text(render(summary, logs))
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        for f in sorted(logs.iterdir()):
            tar.add(f, arcname=f"logs/{f.name}")
    print((out / "summary.md").read_text())
    ok = all(r["status"] == "passed" or r["status"].startswith("skipped") for r in results)
    return 0 if ok else 1


def render(s: dict[str, Any], logs: Path) -> str:
    env = s["environment"]
    where = env.get("gpu") or f"{env.get('cpu')} ({env.get('cores')} cores)"
    lines = [f"# Device benchmark ({s['plan']} plan) on {where}", "",
             f"torch {env.get('torch')}, CUDA {env.get('cuda', '-')}, Python {env.get('python')}; "
             f"device {s['device']}; {s['seconds']} s in all.", "",
             "| step | status | seconds | limit s |", "|---|---|---:|---:|"]
    lines += [f"| {r['name']} | {r['status']} | {r['seconds']} | {r.get('limit_s', '-')} |" for r in s["steps"]]
    res = s.get("resolution") or {}
    if res.get("training", {}).get("trained_here"):
        t = res["training"]
        lines += ["", f"Network training (--width {PLANS[s['plan']].train_width} --blocks {PLANS[s['plan']].train_blocks}): "
                  f"{t['train_steps']} steps in {t['train_seconds']:.1f} s, **{t['steps_per_s']:.2f} steps/s**."]
    for r in s["steps"]:
        lines += ["", f"## {r['name']}", ""]
        if r["name"] in ("speed", "resolution"):
            lines.append(stdout_tables(logs / r["log"]) or "(no table)")
        if r["name"] == "cuda_tests" and r.get("log"):
            lines.append("pytest: " + (tail(logs / r["log"], 1) or "(no output)"))
        if r.get("variants"):
            lines += ["| variant | frames | iterations | seconds stylising | precision | backbone |", "|---|---:|---:|---:|---|---|"]
            for v, x in r["variants"].items():
                lines.append(f"| {v} | {x.get('frames', x.get('frames_done'))} | {x.get('total_iterations', '-')} | "
                             f"{x.get('seconds_stylising', '-')} | {x.get('precision', '-')} | {x.get('backbone', '-')} |")
        if r["status"] != "passed" and r.get("log"):
            lines += ["```", tail(logs / r["log"]), "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

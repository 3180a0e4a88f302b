"""Helpers for tests that run the pipeline's Snakefile in a temporary folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONFIG = REPO / "config"


def snakemake(*args: str, workdir: Path, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Run the pipeline's Snakefile with ``workdir`` as working directory; output in stdout."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    proc.stdout = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}")
    return proc


def job_counts(output: str, rules: Iterable[str]) -> dict[str, int]:
    """The first "Job stats" table of a Snakemake run, as {rule: count}, for ``rules`` only."""
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}
    wanted = set(rules)
    return {rule: n for rule, n in counts.items() if rule in wanted}


def job_resources(output: str) -> dict[str, dict[str, str]]:
    """Snakemake job id -> the resources Snakemake printed for it ("resources: gpu=1, ..."),
    with the rule's name under "rule"; the first block of each job id (a retry reprints it)."""
    found: dict[str, dict[str, str]] = {}
    for m in re.finditer(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", output, re.M):
        job = re.search(r"^    jobid: (\d+)$", m.group(2), re.M)
        res = re.search(r"^    resources: (.*)$", m.group(2), re.M)
        if job and res and job.group(1) not in found:
            values = dict(kv.split("=", 1) for kv in res.group(1).split(", ") if "=" in kv)
            found[job.group(1)] = {"rule": m.group(1), **values}
    return found


def scheduled(output: str, rule: str) -> list[dict[str, str]]:
    """Wildcards of every job of ``rule`` in a dry run's output."""
    jobs = []
    for block in re.split(r"\n(?=\[.*\]\n)|\n(?=rule \w+:)", output):
        m = re.search(r"^rule (\w+):", block, re.M)
        if m and m.group(1) == rule:
            w = re.search(r"wildcards: (.*)", block)
            jobs.append(dict(kv.split("=", 1) for kv in w.group(1).split(", ")) if w else {})
    return jobs


def overlay(workdir: Path, name: str, data: dict) -> str:
    """Write ``data`` as ``workdir/name.yaml``; return its path (for ``--configfile``)."""
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def kill_when(cmd: list[str], workdir: Path, path: Path, timeout: float = 240, env: dict | None = None) -> None:
    """Run ``cmd`` in ``workdir`` and kill its whole process group with SIGKILL (as a power cut
    would: no clean-up) as soon as ``path`` exists; fails if it ends first or ``path`` never appears."""
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert proc.poll() is None, f"the run ended before {path.name} appeared: nothing to interrupt"
            assert time.monotonic() < deadline, f"{path.name} did not appear within {timeout:.0f} s"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def private_copy(run: Path, tmp_path: Path) -> Path:
    """A copy of a shared run (results, logs, Snakemake's records, modification times kept) for a
    test that changes it, so the shared run stays as it was for the other tests."""
    import shutil

    copy = tmp_path / run.name
    shutil.copytree(run, copy, symlinks=True)
    return copy

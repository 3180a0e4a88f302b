"""A throw-away single-node SLURM cluster on localhost, for tests.

``SlurmCluster.start()`` runs ``tests/slurm/start_cluster.sh`` (installs the Debian
packages if missing, writes slurm.conf/gres.conf, starts munged, slurmctld and slurmd,
waits for an idle node with two partitions, ``cpu`` and ``gpu``, and one schedulable
GPU); ``stop()`` runs ``tests/slurm/stop_cluster.sh``, which stops exactly the daemons
that were started and restores the configuration files that were replaced.

Use as a context manager, or through the ``slurm_cluster`` fixture factory::

    slurm = pytest.fixture(scope="module")(slurm_cluster_fixture)

Where SLURM cannot be set up (not root, no apt-get, install fails, another SLURM
already runs) the fixture skips with the script's reason; with
``STYLEFLOW_REQUIRE_SLURM=1`` (CI) it fails instead, so that a broken setup cannot
hide behind a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
START = HERE / "slurm" / "start_cluster.sh"
STOP = HERE / "slurm" / "stop_cluster.sh"
SKIP_EXIT = 77  # start_cluster.sh: "SLURM cannot run here"
START_TIMEOUT = 300  # seconds; includes apt-get update + install on a fresh machine


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be set up on this machine (the reason is the message)."""


@dataclass
class SlurmCluster:
    """Handle on the test cluster; ``state_dir`` holds its spool, PID files and logs."""

    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    running: bool = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "SlurmCluster":
        """Start the cluster; raise SlurmUnavailable (skip) or RuntimeError (bug)."""
        if sys.platform != "linux":
            raise SlurmUnavailable("the SLURM test cluster needs Linux")
        if os.geteuid() != 0:
            raise SlurmUnavailable("the SLURM test cluster must be started as root")
        if shutil.which("bash") is None:
            raise SlurmUnavailable("bash not found")
        try:
            proc = subprocess.run(
                [str(START), str(self.state_dir)],
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            subprocess.run([str(STOP), str(self.state_dir), "--keep-logs"], timeout=120)
            raise RuntimeError(f"start_cluster.sh did not finish in {START_TIMEOUT} s") from exc
        if proc.returncode == SKIP_EXIT:
            reasons = [ln for ln in proc.stderr.splitlines() if "SKIP:" in ln]
            reason = reasons[-1].split("SKIP:", 1)[1].strip() if reasons else proc.stderr.strip()
            raise SlurmUnavailable(reason)
        if proc.returncode != 0:
            raise RuntimeError(
                f"start_cluster.sh failed (exit {proc.returncode}); it rolled back.\n"
                f"{proc.stderr[-4000:]}"
            )
        self.env = dict(
            line.split("=", 1) for line in proc.stdout.splitlines() if re.match(r"^[A-Z_]+=", line)
        )
        self.running = True
        return self

    def stop(self) -> None:
        """Stop the daemons this cluster started and restore replaced config files."""
        if not self.running:
            return
        proc = subprocess.run(
            [str(STOP), str(self.state_dir), "--keep-logs"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.running = False
        if proc.returncode != 0:
            raise RuntimeError(f"stop_cluster.sh failed:\n{proc.stderr[-4000:]}")

    def __enter__(self) -> "SlurmCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ facts
    @property
    def node(self) -> str:
        return self.env["NODE"]

    @property
    def cpus(self) -> int:
        """CPUs of the node, as `slurmd -C` reports them (no job can ask for more)."""
        return int(self.env.get("CPUS") or 1)

    @property
    def cpu_partition(self) -> str:
        return self.env["CPU_PARTITION"]

    @property
    def gpu_partition(self) -> str:
        return self.env["GPU_PARTITION"]

    @property
    def slurmctld_log(self) -> Path:
        return Path(self.env["SLURMCTLD_LOG"])

    @property
    def jobcomp_log(self) -> Path:
        return Path(self.env["JOBCOMP_LOG"])

    def show_job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (jobs stay visible for MinJobAge=3600 s)."""
        out = subprocess.run(
            ["scontrol", "show", "job", "--oneliner", str(job_id)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return _key_values(out)

    def completed_jobs(self) -> dict[str, dict[str, str]]:
        """Job completion log (jobcomp/filetxt): job id -> record, for every finished job."""
        records: dict[str, dict[str, str]] = {}
        if self.jobcomp_log.is_file():
            for line in self.jobcomp_log.read_text().splitlines():
                rec = _key_values(line)
                if "JobId" in rec:
                    records[rec["JobId"]] = rec
        return records


def _key_values(line: str) -> dict[str, str]:
    """Parse SLURM's ``Key=Value Key=Value`` records (values without spaces)."""
    return dict(m.groups() for m in re.finditer(r"(\S+?)=(\S*)", line))


def slurm_cluster_fixture(tmp_path_factory) -> Iterator[SlurmCluster]:
    """Pytest fixture body: wrap with ``pytest.fixture(scope=...)`` in a test module."""
    import pytest

    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm-cluster"))
    required = os.environ.get("STYLEFLOW_REQUIRE_SLURM") == "1"
    try:
        cluster.start()
    except SlurmUnavailable as exc:
        if required:
            pytest.fail(f"SLURM test cluster required (STYLEFLOW_REQUIRE_SLURM=1) but: {exc}")
        pytest.skip(f"no local SLURM cluster: {exc}")
    except RuntimeError as exc:
        if required:
            pytest.fail(str(exc))
        pytest.skip(f"local SLURM cluster could not be started: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


if __name__ == "__main__":  # manual use: python tests/slurm_cluster.py STATE_DIR
    state = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/styleflow-slurm")
    with SlurmCluster(state) as c:
        print(f"cluster up on {c.node}; partitions {c.cpu_partition}, {c.gpu_partition}")
        input("press Enter to stop it ")

"""The file where ``precision: auto``'s timed decision is shared by a machine's processes
(:func:`styleflow.optim.precision.choose_auto`): where it is, a lock on it, and reading it.

Format: ``{"decisions": {machine key: {"chosen", "seconds_per_pass", "timed_at", ...}}}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Environment variable: the path of the decision file instead of
#: ``$XDG_CACHE_HOME/styleflow/precision-auto.json`` (``~/.cache`` without XDG_CACHE_HOME), or
#: ``off`` to neither read nor write one (each process then times for itself).
CACHE_ENV = "STYLEFLOW_PRECISION_CACHE"


def cache_file() -> Path | None:
    """The decision file shared by this machine's processes (:data:`CACHE_ENV`; None: ``off``)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in ("off", "none", "0", "false", "no"):
        return None
    if value:
        return Path(value).expanduser()
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except RuntimeError:  # no home folder to be found: no file
        return None
    return base / "styleflow" / "precision-auto.json"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; else :func:`platform.processor` or the machine)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` + ``.lock`` (so that of two processes deciding at once
    the second waits and reads the first's decision); no lock where ``fcntl`` is missing.

    Raises:
        OSError: the lock file cannot be created (a read-only cache folder).
    """
    try:
        import fcntl  # here: POSIX only (elsewhere: no lock)
    except ImportError:  # not POSIX: atomic writes only
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_decisions(path: Path) -> dict[str, Any]:
    """The decision file's entries (machine key → entry); empty if absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return dict(data["decisions"]) if isinstance(data, dict) and isinstance(data.get("decisions"), dict) else {}
    except (OSError, ValueError):  # absent, or half-written by a pre-atomic tool: time afresh
        return {}

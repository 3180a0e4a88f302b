"""Atomic file writing: a file appears under its final name only when it is complete.

A stage that fails (an exception, a kill, a full disk) leaves at most a hidden temporary file
(``.NAME.tmp-PID-RAND.SUFFIX``) that no later stage mistakes for a finished output.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence


def temporary_sibling(path: Path) -> Path:
    """A hidden, unique name in ``path``'s folder that keeps its suffix (so writers pick the format)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` only if the block succeeds.

    The parent folder is created. On any exception the temporary file is removed and the
    exception propagates, so ``path`` is either absent, its previous version, or complete.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(final)
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"{final}: the writer produced no file")
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


@contextmanager
def removing_new_folders(folders: Sequence[str | os.PathLike[str]]) -> Iterator[None]:
    """On an exception in the block, remove those of ``folders`` that did not exist when it began
    and are empty, or hold only empty folders, when it fails (deepest first); then re-raise.

    For stages that create folders (an output's parents, a work folder) before they know whether
    the input is usable: a failure leaves no empty folder behind, while anything written into
    them (resumable state) stays.
    """
    new = [Path(f) for f in folders if not Path(f).exists()]
    try:
        yield
    except BaseException:
        for folder in sorted(new, key=lambda f: len(f.parts), reverse=True):
            _remove_if_empty(folder)
        raise


def _remove_if_empty(folder: Path) -> None:
    if not folder.is_dir() or folder.is_symlink():
        return
    for sub in folder.iterdir():
        if sub.is_dir():
            _remove_if_empty(sub)
    try:
        folder.rmdir()
    except OSError:  # not empty: keep it
        pass

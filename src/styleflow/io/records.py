"""Whether a cached stage output is still current: the one rule every stage uses.

A stage that can be reused (frames, flow, masks, a stylised run) writes a JSON record of what it
was made from: its settings and the identity of its inputs. It is current when that record equals
what the caller wants now, compared after a JSON round trip (so tuples and lists, ints and
floats that JSON writes alike, compare equal), on all keys or on the ones the caller names.
Anything else — a missing, unreadable or different record — means "rebuild".
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence


def normalised(value: Any) -> Any:
    """``value`` as it reads back from a JSON file (keys sorted; unknown types as strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def content_hash(value: Any, length: int = 16) -> str:
    """A stable hash of a JSON-able ``value`` (keys sorted; unknown types as strings): the first
    ``length`` hex digits of the SHA-256 of its JSON. Names what made a result (a run's plan,
    a run folder of ``styleflow video``)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:length]


def read_record(path: str | os.PathLike[str]) -> Any | None:
    """The JSON at ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def record_matches(path: str | os.PathLike[str], wanted: Mapping[str, Any], keys: Iterable[str] | None = None) -> bool:
    """True if the record at ``path`` equals ``wanted`` (on ``keys`` only, when given).

    With ``keys``, every key must be present in ``wanted``; the record may hold more.
    """
    record = read_record(path)
    if not isinstance(record, dict):
        return False
    want = normalised(dict(wanted))
    if keys is None:
        return record == want
    return all(k in record and record[k] == want[k] for k in keys)


def file_stamps(paths: Sequence[str | os.PathLike[str]]) -> list[list[Any]]:
    """``[[name, size in bytes, mtime in ns], ...]`` of input files: their identity in a record
    (a rebuilt input has a new time even when its size is the same)."""
    out = []
    for p in paths:
        st = Path(p).stat()
        out.append([Path(p).name, st.st_size, st.st_mtime_ns])
    return out

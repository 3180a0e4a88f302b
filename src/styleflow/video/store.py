"""Stylised frames of one pass in a folder, with their per-frame records (the resume unit).

A frame counts as finished only when its PNG and its record ``.records/frame_NNNNNN.json`` exist
(both written atomically, the record last), so a run stopped anywhere resumes at the first
unfinished frame. Frames are handed to later frames as they read back from the 8-bit file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from styleflow.io.atomic import write_json
from styleflow.io.frames import FrameCache
from styleflow.io.images import to_uint8, write_image
from styleflow.io.layout import frame_name
from styleflow.io.records import normalised, record_matches


def quantise(image: np.ndarray) -> np.ndarray:
    """The image as it reads back from an 8-bit file."""
    return to_uint8(image).astype(np.float32) / 255.0


class FrameStore:
    """Stylised frames of one pass in a folder, with their per-frame records and a small cache.

    ``plan``: the hash of the run's plan (workflow/rules/plan.smk; ``styleflow video``: its run
    key), written into every record this store saves; :meth:`foreign` finds frames made under
    another plan.
    """

    def __init__(self, folder: Path, keep: int = 6, plan: str | None = None):
        self.folder = folder
        self.records = folder / ".records"
        self.plan = plan
        self._frames = FrameCache(self.path, keep)

    def path(self, k: int) -> Path:
        return self.folder / frame_name(k)

    def record_path(self, k: int) -> Path:
        return self.records / (Path(frame_name(k)).stem + ".json")

    def done(self, k: int) -> bool:
        return self.path(k).is_file() and self.record_path(k).is_file()

    def record(self, k: int) -> dict[str, Any]:
        return json.loads(self.record_path(k).read_text())

    def load(self, k: int) -> np.ndarray:
        return self._frames(k)

    def foreign(self, frames: Iterable[int]) -> list[int]:
        """The finished ``frames`` whose records were made under another plan than :attr:`plan`
        (or under none); none when this store has no plan."""
        if self.plan is None:
            return []
        return [k for k in frames if self.done(k) and self.record(k).get("plan") != self.plan]

    def discard(self, frames: Iterable[int]) -> None:
        """Delete ``frames`` (record first: a frame without its record counts as unfinished)."""
        for k in frames:
            self.record_path(k).unlink(missing_ok=True)
            self.path(k).unlink(missing_ok=True)
            self._frames.cache.pop(k, None)

    def save(self, k: int, image: np.ndarray, record: dict[str, Any]) -> np.ndarray:
        if self.plan is not None:
            record = {**record, "plan": self.plan}
        write_image(self.path(k), image)
        write_json(self.record_path(k), record)  # last: marks the frame finished
        q = quantise(image)
        self._frames.put(k, q)
        return q


#: Columns of frames.csv (one row per frame; :func:`frame_rows`).
CSV_COLUMNS = (
    "frame", "passes", "init", "shot_start", "iterations", "converged", "restores",
    "content_loss", "style_loss", "temporal_loss", "total_loss", "temporal_terms", "mask_mean", "seconds",
)


def start_or_resume(out_dir: str | os.PathLike[str], signature: Mapping[str, Any]) -> str:
    """Prepare ``out_dir`` for a run described by ``signature``.

    ``signature`` is anything JSON-serialisable that identifies what the frames depend on
    (settings, input files and their sizes/times, styleflow version). Frames left by a run with
    another signature (or none) are deleted, so a resumed run never mixes frames made
    differently; with the same signature the finished frames are kept.

    Returns:
        ``"new"`` (no folder yet), ``"resume"`` (same signature: finished frames kept) or
        ``"reset"`` (a different or missing signature: the folder was emptied).
    """
    out = Path(out_dir)
    state = out / ".signature.json"
    outcome = "new"
    if out.exists():
        outcome = "resume" if record_matches(state, signature) else "reset"
        if outcome == "reset":
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(state, normalised(dict(signature)))
    return outcome


def frame_rows(stores: list[FrameStore], frames: range) -> list[dict[str, Any]]:
    """One row per frame: the final pass's losses; iterations and seconds summed over passes."""
    rows = []
    for k in frames:
        records = [s.record(k) for s in stores]
        last = records[-1]
        row = {c: last.get(c) for c in CSV_COLUMNS}
        row["passes"] = len(records)
        row["init"] = records[0]["init"]
        row["shot_start"] = records[0]["shot_start"]
        row["iterations"] = int(sum(r["iterations"] for r in records))
        row["seconds"] = round(float(sum(r["seconds"] for r in records)), 4)
        rows.append(row)
    return rows

"""Stylised frames of one pass in a folder, with their per-frame records (the resume unit).

A frame counts as finished only when its PNG and its record ``.records/frame_NNNNNN.json`` exist
(both written atomically, the record last), so a run stopped anywhere resumes at the first
unfinished frame. Frames are handed to later frames as they read back from the 8-bit file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from styleflow.io.atomic import write_json
from styleflow.io.frames import FrameCache
from styleflow.io.images import to_uint8, write_image
from styleflow.io.layout import frame_name


def quantise(image: np.ndarray) -> np.ndarray:
    """The image as it reads back from an 8-bit file."""
    return to_uint8(image).astype(np.float32) / 255.0


class FrameStore:
    """Stylised frames of one pass in a folder, with their per-frame records and a small cache."""

    def __init__(self, folder: Path, keep: int = 6):
        self.folder = folder
        self.records = folder / ".records"
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

    def save(self, k: int, image: np.ndarray, record: dict[str, Any]) -> np.ndarray:
        write_image(self.path(k), image)
        write_json(self.record_path(k), record)  # last: marks the frame finished
        q = quantise(image)
        self._frames.put(k, q)
        return q

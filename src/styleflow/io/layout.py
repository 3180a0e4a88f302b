"""File names and folders of a prepared clip, shared by the library, the CLI and the workflow.

A clip prepared at one resolution is three folders (they need not be siblings)::

    frames/frame_000001.png ...            content frames, 1-based, zero-padded: name order is time order
    frames/meta.json                       fps, source size, frame count, start, step (see frames.py)
    flow/forward_000001_000002.flo         flow from frame i to frame j, on frame i's grid
    flow/backward_000002_000001.flo        flow from frame j to frame i, on frame j's grid
                                           (or .png: the compact format, styleflow.io.flo)
    masks/reliable_000002_000001.pgm       consistency of j against i, on frame j's grid (0..255)
    masks/cuts.json                        scene cuts: frames that start a new shot

Stylised frames use the same ``frame_NNNNNN.png`` names in their own folder. The ``reliable_j_i``
naming follows the reference implementation (Ruder et al.): the mask for frame j's temporal term
with respect to the earlier frame i.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from styleflow.errors import StyleflowError
from styleflow.io.flo import FLOW_SUFFIXES, check_flow_format

FRAME_PATTERN = re.compile(r"^frame_(\d{6})\.png$")


def frame_name(k: int) -> str:
    """File name of 1-based frame ``k``: ``frame_000001.png``."""
    if k < 1:
        raise ValueError(f"frame numbers start at 1, got {k}")
    return f"frame_{k:06d}.png"


def list_frames(folder: str | Path) -> list[Path]:
    """The frames ``frame_NNNNNN.png`` in ``folder``, in time order.

    Raises:
        StyleflowError: the folder is missing, holds no frames, or a number is missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StyleflowError(f"{folder}: no such folder of frames")
    numbered = sorted(
        (int(m.group(1)), folder / name)
        for name in (p.name for p in folder.iterdir())
        if (m := FRAME_PATTERN.match(name))
    )
    if not numbered:
        raise StyleflowError(f"{folder}: no frames named frame_NNNNNN.png")
    for expected, (k, path) in enumerate(numbered, start=1):
        if k != expected:
            raise StyleflowError(f"{folder}: frame {expected} is missing (next is {path.name})")
    return [path for _, path in numbered]


@dataclass(frozen=True)
class ClipPaths:
    """Where one prepared clip's frames, flows and masks live.

    ``flow_format`` (``flo`` or ``png``, :data:`styleflow.io.flo.FLOW_SUFFIXES`) fixes the suffix
    of :meth:`forward` and :meth:`backward`, as a writer needs. ``None`` (readers) finds each file
    as it is: the ``.flo`` file if there is one, else the ``.png`` one, else the ``.flo`` name
    (which the reader then reports missing).
    """

    frames: Path
    flow: Path
    masks: Path
    flow_format: str | None = None

    def __post_init__(self) -> None:
        if self.flow_format is not None:
            check_flow_format(self.flow_format)

    def _flow_file(self, stem: str) -> Path:
        if self.flow_format is not None:
            return self.flow / (stem + FLOW_SUFFIXES[self.flow_format])
        flo = self.flow / (stem + FLOW_SUFFIXES["flo"])
        if flo.exists():
            return flo
        png = self.flow / (stem + FLOW_SUFFIXES["png"])
        return png if png.exists() else flo

    def frame(self, k: int) -> Path:
        return self.frames / frame_name(k)

    @property
    def meta(self) -> Path:
        return self.frames / "meta.json"

    def forward(self, i: int, j: int) -> Path:
        """Flow from frame i to frame j (on i's grid)."""
        return self._flow_file(f"forward_{i:06d}_{j:06d}")

    def backward(self, j: int, i: int) -> Path:
        """Flow from frame j to frame i (on j's grid): warps frame i onto frame j."""
        return self._flow_file(f"backward_{j:06d}_{i:06d}")

    def mask(self, j: int, i: int) -> Path:
        """Consistency mask on frame j's grid for its temporal term against frame i."""
        return self.masks / f"reliable_{j:06d}_{i:06d}.pgm"

    @property
    def cuts(self) -> Path:
        return self.masks / "cuts.json"

"""Shots of a clip: the unit of independent stylisation, and the assembly of a run from its shots.

A scene cut (``masks/cuts.json``, :mod:`styleflow.motion.cuts`) starts a new shot. Nothing of a
shot's stylisation depends on another shot: the first frame of a shot starts from its own content
frame (``first_init``) with the first-frame budget, and no temporal term, warp or multi-pass blend
takes a frame of another shot (:func:`styleflow.video.sequence.stylize_shot` restricts every
neighbour to the shot; each shot gets a fresh :class:`~styleflow.optim.stylizer.Stylizer`, so the
mixed-precision check and the preserve-colours luminance reference are made at the shot's own first
frame). So the shots of a run can be stylised as separate jobs, in any order or in parallel, and
:func:`assemble_run` joins them into exactly the frames one sequential job would have made
(byte-identical for the same seed and torch thread count on the CPU).

A shot is named by its first and last frame, ``000001-000040`` (1-based, inclusive).

Output of one shot (:func:`publish_shot`, the workflow's per-shot job)::

    frame_NNNNNN.png ...     the shot's stylised frames (final pass), clip-wide frame numbers
    frames.csv               the shot's rows (columns of styleflow.video.sequence.CSV_COLUMNS)
    shot.json                the shot's run record (settings, backbone, totals, "shot": [first, last])
"""

from __future__ import annotations

import io
import csv
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from styleflow.errors import StyleflowError
from styleflow.io.atomic import atomic_path, write_json, write_text
from styleflow.io.layout import frame_name
from styleflow.motion.cuts import CUTS_NAME, read_cuts

SHOT_PATTERN = r"[0-9]{6}-[0-9]{6}"
SHOT_RECORD = "shot.json"
SHOT_ROWS = "frames.csv"


@dataclass(frozen=True, order=True)
class Shot:
    """Frames ``first`` … ``last`` (1-based, inclusive) of a clip, between two scene cuts."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last:
            raise StyleflowError(f"shot {self.first}-{self.last}: expected 1 <= first <= last")

    @property
    def name(self) -> str:
        return f"{self.first:06d}-{self.last:06d}"

    @property
    def frames(self) -> range:
        return range(self.first, self.last + 1)

    def __len__(self) -> int:
        return self.last - self.first + 1

    @classmethod
    def parse(cls, name: str) -> Shot:
        """``"000001-000040"`` → ``Shot(1, 40)``."""
        if not re.fullmatch(SHOT_PATTERN, name):
            raise StyleflowError(f"shot {name!r}: expected FIRST-LAST as two 6-digit frame numbers, e.g. 000001-000040")
        first, last = (int(x) for x in name.split("-"))
        return cls(first, last)


def plan_shots(cuts: Iterable[int], n_frames: int) -> list[Shot]:
    """The shots of a clip of ``n_frames`` frames whose frames ``cuts`` start a new shot."""
    if n_frames < 1:
        raise StyleflowError(f"a clip of {n_frames} frames has no shots")
    starts = [1] + sorted({int(c) for c in cuts if 1 < int(c) <= n_frames})
    ends = [s - 1 for s in starts[1:]] + [n_frames]
    return [Shot(a, b) for a, b in zip(starts, ends)]


def clip_shots(masks_dir: str | os.PathLike[str], n_frames: int | None = None) -> list[Shot]:
    """The shots of a prepared clip, from ``masks_dir/cuts.json`` (which records the frame count).

    Args:
        n_frames: stylise only the first ``n_frames`` frames (default: all the cuts file counts).
    Raises:
        StyleflowError: the cuts file is missing or malformed (named, with the fix).
    """
    cuts = read_cuts(masks_dir)
    path = Path(masks_dir) / CUTS_NAME
    try:
        total = int(json.loads(path.read_text(encoding="utf-8"))["frame_count"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StyleflowError(f"{path}: no frame_count ({exc}); recompute the masks") from None
    return plan_shots(cuts, total if n_frames is None else min(total, n_frames))


# ---------------------------------------------------------------- records


def write_rows(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Per-frame rows as CSV (atomically)."""

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


#: Fields of a run record that are sums over its shots.
_SUMMED = ("total_iterations", "seconds_stylising", "seconds_this_call")


def merge_records(shots: Sequence[Shot], records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run record of a clip from its shots' records (same settings in every shot).

    ``frames``, ``scene_cuts`` and the totals cover the whole clip; ``precision`` is the one every
    shot ran in (``"bfloat16, float32"`` if shots differ: each shot decides at its first frame);
    ``precision_choice`` is the first shot's (how ``auto`` decided: one decision per machine, so
    every shot's, which ``shots`` holds too, chose the same); ``shots`` lists each shot's frames, precision,
    precision choice, iterations and seconds.

    Raises:
        StyleflowError: the shots were stylised with different settings, or do not tile the clip.
    """
    if not records:
        raise StyleflowError("no shots to assemble")
    expected = 1
    for shot in shots:
        if shot.first != expected:
            raise StyleflowError(f"shot {shot.name}: expected a shot starting at frame {expected}; the shots must tile the clip")
        expected = shot.last + 1
    same = ("variant", "settings", "video_settings", "styles", "style_weights", "seed", "first_iterations", "iterations")
    for shot, rec in zip(shots[1:], records[1:]):
        differing = [k for k in same if rec.get(k) != records[0].get(k)]
        if differing:
            raise StyleflowError(f"shot {shot.name}: made with other settings ({', '.join(differing)}) than shot "
                                 f"{shots[0].name}; rerun its job")
    run = {k: v for k, v in records[0].items() if k != "shot"}
    run["frames"] = shots[-1].last
    run["scene_cuts"] = [s.first for s in shots[1:]]
    for key in _SUMMED:
        run[key] = round(float(sum(float(r.get(key) or 0) for r in records)), 3)
    run["total_iterations"] = int(run["total_iterations"])
    run["precision"] = ", ".join(sorted({str(r.get("precision")) for r in records}))
    run["shots"] = [
        {"frames": [s.first, s.last], "precision": r.get("precision"), "precision_choice": r.get("precision_choice"),
         "iterations": r.get("total_iterations"), "seconds": r.get("seconds_stylising")}
        for s, r in zip(shots, records)
    ]
    return run


# ---------------------------------------------------------------- per-shot output and assembly


def publish_shot(work: str | os.PathLike[str], out: str | os.PathLike[str], shot: Shot,
                 record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Move a finished shot's frames from the resumable ``work`` folder into ``out`` and write its
    rows and record there (:data:`SHOT_ROWS`, :data:`SHOT_RECORD`, the record last); then delete
    ``work``. ``out`` is the workflow's declared per-shot output (a folder)."""
    work, out = Path(work), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for k in shot.frames:
        src = work / frame_name(k)
        if not src.is_file():
            raise StyleflowError(f"{src}: missing; the shot {shot.name} is not finished")
        if _same_device(src, out):
            os.replace(src, out / frame_name(k))
        else:
            with atomic_path(out / frame_name(k)) as tmp:
                shutil.copyfile(src, tmp)
    write_rows(out / SHOT_ROWS, rows, columns)
    write_json(out / SHOT_RECORD, dict(record))
    shutil.rmtree(work, ignore_errors=True)


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def assemble_run(shot_dirs: Sequence[str | os.PathLike[str]], frames_out: str | os.PathLike[str],
                 record_csv: str | os.PathLike[str], summary_json: str | os.PathLike[str],
                 columns: Sequence[str], extra: Mapping[str, Any] | None = None,
                 plan: str | None = None) -> dict[str, Any]:
    """Join a run's shot folders (from :func:`publish_shot`) into its frames folder, ``frames.csv``
    and ``run.json`` (written last); return the run record.

    Frames are hard-linked where the file system allows (no second copy on disk), else copied;
    each appears under its final name only when complete. ``extra`` is merged into the record
    (e.g. the run's place in the grid). ``plan``: the hash of the run's plan, which every shot's
    record must carry (else a one-line StyleflowError naming the shot, and no run.json); it
    goes into ``run.json`` as ``plan``.
    """
    dirs = [Path(d) for d in shot_dirs]
    shots = sorted((Shot.parse(d.name), d) for d in dirs)
    frames_out = Path(frames_out)
    frames_out.mkdir(parents=True, exist_ok=True)
    records, rows = [], []
    for shot, folder in shots:
        path = folder / SHOT_RECORD
        if not path.is_file():
            raise StyleflowError(f"{path}: missing; the shot's job did not finish (rerun it)")
        records.append(json.loads(path.read_text(encoding="utf-8")))
        if plan is not None and records[-1].get("plan") != plan:
            raise StyleflowError(f"{folder}: made by plan {records[-1].get('plan')}, but the run's settings are plan "
                                 f"{plan}; rerun the shot (snakemake --forcerun {folder})")
        rows += read_rows(folder / SHOT_ROWS)
        for k in shot.frames:
            src, dst = folder / frame_name(k), frames_out / frame_name(k)
            with atomic_path(dst) as tmp:
                try:
                    os.link(src, tmp)
                except OSError:
                    shutil.copyfile(src, tmp)
    if [int(r["frame"]) for r in rows] != list(range(1, len(rows) + 1)):
        raise StyleflowError(f"{record_csv}: the shots' rows do not cover frames 1..{len(rows)} once each")
    run = merge_records([s for s, _ in shots], records)
    run.update(extra or {})
    if plan is not None:
        run["plan"] = plan
    write_rows(record_csv, rows, columns)
    write_json(summary_json, run)
    return run

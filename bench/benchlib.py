"""Helpers the benchmark scripts in ``bench/`` share: where the real test material is, the issue
targets, the machine's description, peak memory of a block of work, the clip a benchmark runs on,
and Markdown tables.

Not part of the ``styleflow`` package: everything here uses the library's public API only.
The scripts put this folder on ``sys.path`` and ``import benchlib``.
"""

from __future__ import annotations

import csv
import math
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.io.layout import ClipPaths, list_frames

#: The report protocol's fixed budget per frame.
REPORT_ITERATIONS = 300

#: Targets of issue 8 (checked and printed, never enforced).
TARGETS = {
    "later_speedup": 5.0,  # later frames at least this many times faster ...
    "first_speedup": 2.0,  # ... first frame at least this many times faster ...
    "loss_ratio": 1.05,  # ... at a final objective within 5 %
    "vgg_fraction": 0.80,  # one VGG iteration at >= 80 % of the dense matmul rate
    "memory_ratio": 1.10,  # peak memory with 120 frames within 10 % of 30 frames
}

DEFAULT_VIDEO = "sam2_bedroom.mp4"
DEFAULT_STYLE = "vangogh_starry_night.jpg"

#: The repository this folder belongs to.
REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """The team's shared test material (``$STYLEFLOW_SHARED_DATA``, else ``../shared/data`` next to
    the repository)."""
    env = os.environ.get("STYLEFLOW_SHARED_DATA")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "data"


# ---------------------------------------------------------------- machine


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; else what :mod:`platform` says)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15-minute load averages (None where the OS has none)."""
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover
        return None


# ---------------------------------------------------------------- memory


def status_kib(key: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (e.g. ``VmHWM``) in KiB; None where there is none."""
    try:
        m = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


class PeakMemory:
    """Peak resident memory (and CUDA memory) of a block of work.

    On Linux the RSS high-water mark is reset at the start (``/proc/self/clear_refs``) and read at
    the end (``VmHWM``), so each run's peak is its own; elsewhere it falls back to the process's
    lifetime ``ru_maxrss``.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.rss_mib: float | None = None
        self.cuda_mib: float | None = None
        self.method = ""

    def __enter__(self) -> "PeakMemory":
        import gc

        gc.collect()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "VmHWM (reset per run)"
        except OSError:
            self.method = "ru_maxrss (process lifetime)"
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc: object) -> None:
        hwm = status_kib("VmHWM") if self.method.startswith("VmHWM") else None
        if hwm is None:
            import resource

            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        self.rss_mib = hwm / 1024
        if self.device.type == "cuda":
            self.cuda_mib = torch.cuda.max_memory_allocated(self.device) / 2**20


# ---------------------------------------------------------------- the clip


def resolve_inputs(video: str | None, style: str | None, frames: int, height: int,
                   work: Path) -> tuple[Path, Path, str]:
    """The clip and style to use, and a label saying where they came from.

    ``video`` / ``style`` None: the shared real clip / Starry Night when :func:`shared_data` has
    them, else the built-in demo clip (``frames`` frames, at least ``height`` px) and demo style,
    made in ``work``.
    """
    data = shared_data()
    if video:
        video_path, label = Path(video), "given"
    elif (data / "videos" / DEFAULT_VIDEO).is_file():
        video_path, label = data / "videos" / DEFAULT_VIDEO, "shared real clip"
    else:
        from styleflow.data.demo import make_clip

        video_path = work / "demo.mp4"
        if not video_path.is_file():
            make_clip(video_path, frames=max(frames, 2), height=max(192, height + height % 2))
        label = "built-in demo clip (styleflow.data.demo)"
    if style:
        style_path = Path(style)
    elif (data / "styles" / DEFAULT_STYLE).is_file():
        style_path = data / "styles" / DEFAULT_STYLE
    else:
        from styleflow.data.demo import make_style

        style_path = work / "swirls.png"
        if not style_path.is_file():
            make_style(style_path)
    for p, what in ((video_path, "--video"), (style_path, "--style")):
        if not p.is_file():
            raise StyleflowError(f"{what} {p}: no such file")
    return video_path, style_path, label


def prepare_clip(video: Path, height: int, frames: int, work: Path, offsets: Sequence[int],
                 flow_method: str = "dis", progress: bool = False) -> ClipPaths:
    """Frames, flows and masks of the first ``frames`` frames of ``video`` at ``height``, under
    ``work`` (:func:`styleflow.video.job.prepare_clip`, the library's one path: reused while
    current); a one-line error if the video has fewer frames."""
    from styleflow.video.job import prepare_clip as prepare

    clip = prepare(video, work / f"{video.stem}-h{height}-n{frames}", height, max_frames=frames,
                   flow_method=flow_method, offsets=offsets, progress=progress)
    got = len(list_frames(clip.frames))
    if got < frames:
        raise StyleflowError(f"--video {video}: has only {got} frames, --frames asks for {frames}")
    return clip


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file with a header (e.g. a run's ``frames.csv``)."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------- printing


def run_and_print(prog: str, compute: Callable[[], dict[str, Any]], render: Callable[[dict[str, Any]], str],
                  json_path: str | None = None) -> int:
    """A script's main: ``compute()`` the result, print ``render(result)``, write the result as JSON
    to ``json_path`` (atomically) if given; exit status 0. A :class:`StyleflowError` (bad option,
    missing file) is one line on stderr, ``prog: error: ...``, exit status 2."""
    try:
        result = compute()
    except StyleflowError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print(render(result))
    sys.stdout.flush()
    if json_path:
        write_json(json_path, result)
    return 0


def fmt(v: Any, spec: str = ".3g") -> str:
    """``v`` formatted with ``spec``; ``-`` for None and NaN."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w)  # noqa: E731
                                       for i, (x, w) in enumerate(zip(r, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])

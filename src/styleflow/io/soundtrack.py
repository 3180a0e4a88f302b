"""When an output's frames show and which sound goes with them, from a clip's ``meta.json``.

A prepared clip's ``meta.json`` (:mod:`styleflow.io.frames`) says when each extracted frame
shows in the source: ``"pts"`` (seconds from the source's start, one per frame) and
``"end_time"`` (when the last one stops showing), and which audio stream the source has
(``"audio"``: ``null`` or ``{"codec", "channels", "sample_rate", "index"}``, ``index`` being the
stream's number in the file, as in FFmpeg's ``Stream #0:1``). Older ``meta.json`` files have
neither: their frames are taken at a constant rate (``start``, ``step``, ``source_fps``) and the
source is probed for its sound.

:class:`Timing` is the frames' schedule; :class:`Soundtrack` the span of the source's audio that
covers exactly that schedule (``[pts[0], end_time)``), so a stylised clip that starts later
than its source or keeps every ``step``-th frame still plays in sync with its sound.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.video import probe_video

#: Audio codecs that an mp4 holds and browsers or common players decode: stream-copied.
#: Anything else (PCM, Vorbis, MP2, DTS, ...) is re-encoded to AAC.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"})


def is_uneven(times: Sequence[float]) -> bool:
    """True when consecutive ``times`` are not evenly spaced (beyond 1 ms or 2 % of the spacing)."""
    gaps = np.diff(np.asarray(times, dtype=np.float64))
    if gaps.size < 1:
        return False
    typical = float(np.median(gaps))
    return bool(np.max(np.abs(gaps - typical)) > max(1e-3, 0.02 * typical))


@dataclass(frozen=True)
class Timing:
    """When each of ``n`` frames shows: ``pts[k]`` seconds from the source's start, the last
    frame until ``end`` seconds. Times strictly increase; frame ``k`` lasts
    ``pts[k + 1] - pts[k]`` seconds."""

    pts: tuple[float, ...]
    end: float

    def __post_init__(self) -> None:
        if not self.pts:
            raise StyleflowError("timing: no frames")
        times = [*self.pts, self.end]
        if not all(math.isfinite(t) for t in times):
            raise StyleflowError("timing: frame times must be finite numbers of seconds")
        bad = next((k for k in range(len(self.pts)) if times[k + 1] <= times[k]), None)
        if bad is not None:
            what = "end_time" if bad == len(self.pts) - 1 else f"frame {bad + 2}"
            raise StyleflowError(
                f"timing: {what} ({times[bad + 1]:.6f} s) does not come after frame {bad + 1} "
                f"({times[bad]:.6f} s); frame times must increase (extract the frames again)"
            )

    @classmethod
    def constant(cls, n: int, fps: float, start: float = 0.0) -> "Timing":
        """``n`` frames at ``fps`` frames per second from ``start`` seconds."""
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 0 < fps <= 1000:
            raise StyleflowError(f"--fps {fps!r}: expected frames per second between 0 and 1000")
        if n < 1:
            raise StyleflowError("timing: no frames")
        return cls(tuple(start + k / fps for k in range(n)), start + n / fps)

    @property
    def start(self) -> float:
        """Seconds from the source's start at which the first frame shows."""
        return self.pts[0]

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last."""
        return self.end - self.pts[0]

    @property
    def fps(self) -> float:
        """Mean frames per second."""
        return len(self.pts) / self.duration

    @property
    def constant_rate(self) -> bool:
        """Whether the frames are evenly spaced (:func:`is_uneven`: within 1 ms or 2 % of the spacing)."""
        return not is_uneven([*self.pts, self.end])

    def durations(self) -> list[float]:
        """Seconds each frame shows."""
        times = [*self.pts, self.end]
        return [b - a for a, b in zip(times, times[1:])]

    def head(self, n: int) -> "Timing":
        """The first ``n`` frames (the last of them shows until the next one would start)."""
        if not 1 <= n <= len(self.pts):
            raise StyleflowError(f"timing: {n} frames asked of a clip with {len(self.pts)}")
        return self if n == len(self.pts) else Timing(self.pts[:n], self.pts[n])


@dataclass(frozen=True)
class Soundtrack:
    """The audio to put under an output: stream ``stream`` of ``source``, from ``start`` seconds
    (from the source's start) for ``duration`` seconds."""

    source: Path
    stream: int
    codec: str
    channels: int | None
    start: float
    duration: float
    #: re-encode to AAC even if mp4 names the codec (set when copying it failed)
    to_aac: bool = False
    #: seek to ``start`` in the source (fast); False: decode from its beginning and cut (for files
    #: FFmpeg cannot seek in), which re-encodes
    seek: bool = True

    @property
    def copy(self) -> bool:
        """Whether the stream goes into the mp4 as it is (else it is re-encoded to AAC)."""
        return self.codec in MP4_AUDIO_CODECS and not self.to_aac and self.seek

    @property
    def aac_bitrate_k(self) -> int:
        """Kilobits per second of the AAC re-encode: 64 per channel, at least 128."""
        return max(128, 64 * (self.channels or 2))

    def describe(self) -> str:
        """``"aac (copied)"`` or ``"pcm_s16le → aac"``."""
        return f"{self.codec} (copied)" if self.copy else f"{self.codec} → aac"


def probe_audio(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The first audio stream of a file, ``{"codec", "channels", "sample_rate", "index"}`` as in
    ``meta.json``, or None when it has none (:func:`styleflow.io.video.probe_video`)."""
    return probe_video(path)["audio"]


def _number(meta: Mapping[str, Any], key: str, where: str) -> float:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StyleflowError(f"{where}: {key} is {value!r}, expected a number; extract the frames again")
    return float(value)


def clip_timing(meta: Mapping[str, Any], n: int | None = None, where: str = "meta.json") -> Timing:
    """The schedule of the first ``n`` frames (default: all) of a clip described by ``meta``.

    With ``"pts"``/``"end_time"`` (frames read by their timestamps, variable frame rates and
    dropped repeats included) those times; without them (an older ``meta.json``) a constant
    ``fps`` from source frame ``start`` at ``source_fps``.
    """
    pts = meta.get("pts")
    if pts is not None:
        if not isinstance(pts, Sequence) or isinstance(pts, str) or not pts:
            raise StyleflowError(f"{where}: pts is not a list of seconds; extract the frames again")
        try:
            timing = Timing(tuple(float(t) for t in pts), _number(meta, "end_time", where))
        except (TypeError, ValueError):
            raise StyleflowError(f"{where}: pts holds something other than seconds; extract the frames again") from None
    else:
        fps = _number(meta, "fps", where)
        count = int(meta.get("frame_count") or 0) or (n or 0)
        source_fps = float(meta.get("source_fps") or fps * int(meta.get("step") or 1))
        timing = Timing.constant(count, fps, int(meta.get("start") or 0) / source_fps)
    if n is None:
        return timing
    if n > len(timing.pts):
        raise StyleflowError(
            f"{where}: times {len(timing.pts)} frames but {n} are to be encoded; "
            "encode the frames of this clip, or give --fps"
        )
    return timing.head(n)


def clip_soundtrack(meta: Mapping[str, Any], timing: Timing, where: str = "meta.json") -> Soundtrack | None:
    """The source's sound under ``timing`` (None when the source has none).

    Raises:
        StyleflowError: the source has sound but the file is gone (the fix: restore it, or
            encode without sound).
    """
    source = meta.get("source")
    if "audio" in meta and meta["audio"] is None:
        return None
    if not source:
        raise StyleflowError(f"{where}: names no source video to take the sound from; extract the frames "
                             "again, or encode without sound (--no-audio)")
    path = Path(source)
    if not path.is_file():
        raise StyleflowError(f"{path}: the clip's source video is gone, so its sound cannot be copied; "
                             "restore it, or encode without sound (--no-audio; config encode: audio: false)")
    info = meta["audio"] if "audio" in meta else probe_audio(path)
    if info is None:
        return None
    try:
        stream, codec = int(info["index"]), str(info["codec"])
        channels = int(info["channels"]) if info.get("channels") else None
    except (KeyError, TypeError, ValueError):
        raise StyleflowError(f"{where}: audio is {info!r}, expected codec, channels, sample_rate and index; "
                             "extract the frames again") from None
    return Soundtrack(path, stream, codec, channels, timing.start, timing.duration)

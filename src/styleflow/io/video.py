"""Video files: the FFmpeg binary, probing a container, and the project's one video decoder.

Everything that reads a video (frame extraction, ``styleflow metrics``, the side-by-side video)
goes through :class:`VideoReader`, which runs the FFmpeg binary of ``imageio-ffmpeg`` (there is
no ffprobe: :func:`probe_video` parses ``ffmpeg -i``). The decoder

* reads by **timestamps**: ``-fps_mode passthrough`` hands over each decoded picture once, with its
  presentation time (from ``-vf showinfo``) in seconds from the source's start; container
  "repeat the previous frame" slots (AVI) produce no picture, variable frame rate is kept;
* returns **display orientation**: FFmpeg applies the display matrix (phones store clips sideways);
* converts to **RGB with the source's colours**: the YUV matrix and range the stream is tagged
  with (untagged: BT.709 from 720 lines up, else BT.601, as players do), 8 or 10 bit;
* **streams**: one picture in memory at a time, raw ``rgb24`` over a pipe.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from styleflow.errors import StyleflowError


def ffmpeg_exe() -> str:
    """Path of the FFmpeg binary (from ``imageio-ffmpeg``)."""
    try:
        import imageio_ffmpeg  # here: a missing package becomes the one-line error below
    except ImportError:  # pragma: no cover - a dependency
        raise StyleflowError("encoding needs the imageio-ffmpeg package; pip install imageio-ffmpeg") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # pragma: no cover
        raise StyleflowError(f"no FFmpeg binary found ({exc}); reinstall imageio-ffmpeg") from None


# ---------------------------------------------------------------- probing

#: Channel layouts FFmpeg prints, and their channel counts.
_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "4.0": 4, "quad": 4, "quad(side)": 4,
            "3.1": 4, "4.1": 5, "5.0": 5, "5.0(side)": 5, "5.1": 6, "5.1(side)": 6, "6.0": 6, "6.1": 7,
            "7.0": 7, "7.1": 8, "7.1(wide)": 8, "7.1(wide-side)": 8, "downmix": 2}
#: Colour matrices as FFmpeg names them → the name the ``scale`` filter's ``in_color_matrix`` takes.
_MATRICES = {"bt709": "bt709", "bt470bg": "bt601", "smpte170m": "bt601", "bt601": "bt601", "fcc": "fcc",
             "smpte240m": "smpte240m", "bt2020nc": "bt2020", "bt2020c": "bt2020"}
_FIELD_WORDS = {"progressive", "top first", "bottom first", "top coded first (swapped)",
                "bottom coded first (swapped)"}


def _check_file(p: Path) -> None:
    if not p.exists():
        raise StyleflowError(f"{p}: no such video file")
    if p.is_dir():
        raise StyleflowError(f"{p}: is a folder, expected a video file (mp4, avi, mov, webm)")
    if p.stat().st_size == 0:
        raise StyleflowError(f"{p}: the file is empty, expected a video (mp4, avi, mov, webm)")


def _seconds(text: str) -> float | None:
    m = re.match(r"(\d+):(\d+):(\d+(?:\.\d+)?)", text)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None


def _channels(layout: str) -> int | None:
    if layout in _LAYOUTS:
        return _LAYOUTS[layout]
    m = re.match(r"(\d+) channels", layout)
    return int(m.group(1)) if m else None


def _parse_video_line(line: str) -> dict[str, Any]:
    codec = re.search(r"Video:\s*(\w+)", line)
    fmt = re.search(r"Video:[^,]*,\s*(\w+)(?:\(([^)]*)\))?", line)
    size = re.search(r"[,\s](\d{1,5})x(\d{1,5})(?=[\s,\[]|$)", line[line.index("Video:"):])
    fps = re.search(r"([\d.]+)\s*fps", line)
    tbr = re.search(r"([\d.]+k?)\s*tbr", line)
    pix_fmt = fmt.group(1) if fmt else None
    rng, matrix = None, None
    for token in (t.strip() for t in (fmt.group(2) or "").split(",")) if fmt else ():
        if token in ("tv", "pc"):
            rng = token
        elif token and token not in _FIELD_WORDS:
            name = token.split("/")[0]
            matrix = None if name in ("unknown", "reserved", "unspecified") else name
    if rng is None:
        rng = "pc" if pix_fmt and pix_fmt.startswith("yuvj") else "tv"
    rate = float(fps.group(1)) if fps else None
    base = float(tbr.group(1)) if tbr and not tbr.group(1).endswith("k") else None
    return {
        "codec": codec.group(1) if codec else None,
        "pix_fmt": pix_fmt,
        "width": int(size.group(1)) if size else None,
        "height": int(size.group(2)) if size else None,
        "fps": rate if rate is not None else base,
        "tbr": base,
        "color": {"pix_fmt": pix_fmt, "range": rng, "matrix": matrix},
    }


def probe_video(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``ffmpeg -i`` says about a video: its first video stream, first audio stream, timing.

    Returns a dict::

        {"codec": "h264", "pix_fmt": "yuv420p", "width": 256, "height": 144,  # as stored
         "fps": 30.0,                        # the stream's average rate (None if not stated)
         "tbr": 30.0,                        # its base rate: the grid its timestamps lie on (or None)
         "rotation": 90,                     # degrees clockwise to display it upright (0/90/180/270)
         "display_width": 144, "display_height": 256,   # after rotation
         "color": {"pix_fmt": "yuv420p", "range": "tv" | "pc", "matrix": "bt709" | None},
         "duration": 2.0, "start": 0.0,      # the container's duration and start time, seconds (or None)
         "audio": None | {"codec": "aac", "channels": 2, "sample_rate": 48000, "index": 1},
         "video_index": 0}                   # stream indices as in ``-map 0:INDEX``

    Raises:
        StyleflowError: missing, empty or folder path; a file FFmpeg cannot read or with no video.
    """
    p = Path(path)
    _check_file(p)
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(p)], capture_output=True,
                         text=True, errors="replace")
    lines = run.stderr.splitlines()
    info: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    duration = start = None
    rotation = 0
    in_video = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("Duration:"):
            duration = _seconds(stripped[len("Duration:"):].strip())
            m = re.search(r"start:\s*(-?[\d.]+)", stripped)
            start = float(m.group(1)) if m else None
        stream = re.match(r"\s*Stream #\d+:(\d+)\S*:\s*(Video|Audio):", line)
        if stream:
            in_video = False
            if stream.group(2) == "Video" and info is None and "attached pic" not in line:
                info = _parse_video_line(line)
                info["video_index"] = int(stream.group(1))
                in_video = True
            elif stream.group(2) == "Audio" and audio is None:
                a = re.search(r"Audio:\s*(\w+)[^,]*,\s*(\d+)\s*Hz,\s*([^,]+)", line)
                if a:
                    audio = {"codec": a.group(1), "channels": _channels(a.group(3).strip()),
                             "sample_rate": int(a.group(2)), "index": int(stream.group(1))}
            continue
        if in_video:
            m = re.search(r"rotation of (-?[\d.]+) degrees", line, re.IGNORECASE)
            if m:  # FFmpeg reports counter-clockwise degrees
                rotation = int(round(-float(m.group(1)))) % 360
            elif re.match(r"\s*Stream #", line):
                in_video = False
    if info is None or not info.get("width"):
        raise StyleflowError(
            f"{p}: not a video that FFmpeg can read (corrupt, truncated or not a video); "
            "check the file or re-encode it, e.g. to H.264 mp4"
        )
    w, h = info["width"], info["height"]
    turned = rotation in (90, 270)
    info.update({"rotation": rotation, "display_width": h if turned else w, "display_height": w if turned else h,
                 "duration": duration, "start": start, "audio": audio})
    return info


# ---------------------------------------------------------------- decoding


@dataclass
class DecodedFrame:
    """One decoded picture: ``rgb`` ``(H, W, 3)`` uint8 (display orientation), ``pts`` its
    presentation time and ``duration`` its nominal duration (seconds; None when unknown)."""

    rgb: np.ndarray
    pts: float
    duration: float | None


def decode_matrix(color: dict[str, Any], height: int) -> str:
    """The YUV → RGB matrix to decode with: the stream's tag, else BT.709 from 720 lines, else BT.601."""
    name = color.get("matrix")
    if name in _MATRICES:
        return _MATRICES[name]
    return "bt709" if height >= 720 else "bt601"


def _is_yuv(pix_fmt: str | None) -> bool:
    return bool(pix_fmt) and not re.match(r"(rgb|bgr|argb|abgr|gbr|pal|monow|monob|xyz)", pix_fmt or "")


_SHOWINFO = re.compile(r"Parsed_showinfo.*?\bn:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s+pts_time:(\S+)\s+"
                       r"duration:\s*(-?\d+|NOPTS)?\s*duration_time:(\S+)")
_ERROR_WORDS = ("error", "invalid", "corrupt", "partial file", "truncat", "missing", "concealing")


class VideoReader:
    """Decode a video's first video stream picture by picture, with presentation times.

    Use as an iterator of :class:`DecodedFrame` (one picture in memory at a time), inside
    ``with`` so the FFmpeg process ends when the caller stops early::

        with VideoReader("clip.mp4") as reader:
            for frame in reader:
                ...
        reader.errors   # decoder complaints (lines of FFmpeg's log), reader.returncode

    Args:
        path: any file FFmpeg reads (mp4, mov, mkv, avi, webm, gif ...).
        info: :func:`probe_video`'s result, when the caller has it already.
        drop_repeats: skip a picture identical to the previous one (a held frame: it only
            lengthens the previous picture's time on screen); counted in ``repeats``.

    After the last picture: ``end_time`` is when the last decoded picture stops showing (its pts
    plus its duration, seconds), ``repeats`` the identical pictures skipped.

    Raises:
        StyleflowError: see :func:`probe_video`. A file FFmpeg stops decoding early just ends the
            iteration: compare ``end_time`` with ``info["duration"]`` and read ``errors``
            (:func:`styleflow.io.frames.extract_frames` does).
    """

    def __init__(self, path: str | os.PathLike[str], info: dict[str, Any] | None = None,
                 drop_repeats: bool = True) -> None:
        self.path = Path(path)
        self.drop_repeats = drop_repeats
        self.repeats = 0
        self.end_time: float | None = None
        self.info = info if info is not None else probe_video(self.path)
        self.width = int(self.info["display_width"])
        self.height = int(self.info["display_height"])
        self.matrix = decode_matrix(self.info["color"], self.height)
        self.errors: list[str] = []
        self.returncode: int | None = None
        self.frames_read = 0
        self.stopped_early = False
        self._proc: subprocess.Popen | None = None
        self._times: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def _command(self) -> list[str]:
        color = self.info["color"]
        # A fixed output size: a stream that changes size mid-way is scaled to its first size.
        scale = f"scale={self.width}:{self.height}:flags=bicubic+accurate_rnd+full_chroma_int+full_chroma_inp"
        if _is_yuv(color.get("pix_fmt")):
            scale += f":in_color_matrix={self.matrix}:in_range={color.get('range') or 'tv'}:out_range=pc"
        return [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
            "-i", str(self.path), "-map", f"0:{self.info.get('video_index', 0)}", "-an", "-sn", "-dn",
            "-fps_mode", "passthrough", "-vf", f"showinfo,{scale},format=rgb24",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
        ]

    def _read_log(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            m = _SHOWINFO.search(line)
            if m:
                pts = float(m.group(3)) if m.group(3) not in ("NOPTS", "nan") else float("nan")
                try:
                    dur = float(m.group(5))
                except ValueError:
                    dur = None
                self._times.put((pts, dur if dur and dur > 0 else None))
            elif "showinfo" not in line and any(w in line.lower() for w in _ERROR_WORDS):
                if len(self.errors) < 50:
                    self.errors.append(" ".join(line.split()))
        stream.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[DecodedFrame]:
        if self._proc is not None:
            raise RuntimeError("a VideoReader is read once")
        self._proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, bufsize=0)
        self._thread = threading.Thread(target=self._read_log, args=(self._proc.stderr,), daemon=True)
        self._thread.start()
        size = self.width * self.height * 3
        assert self._proc.stdout is not None
        last_pts = -1.0
        previous: bytes | None = None
        typical: float | None = None
        try:
            while True:
                buf = _read_exactly(self._proc.stdout, size)
                if buf is None:
                    break
                try:
                    pts, dur = self._times.get(timeout=30.0)
                except queue.Empty:  # pragma: no cover - FFmpeg always logs showinfo before output
                    raise StyleflowError(f"{self.path}: FFmpeg gave a picture without a timestamp") from None
                if not pts == pts:  # NaN: no timestamp → the nominal rate after the previous one
                    pts = last_pts + (dur or 1.0 / float(self.info.get("fps") or 25.0))
                last_pts = pts
                self.frames_read += 1
                if dur is None:
                    rate = self.info.get("fps")
                    dur = typical if typical else (1.0 / float(rate) if rate else None)
                else:
                    typical = dur
                self.end_time = pts + (dur or 0.0)
                if self.drop_repeats and previous is not None and buf == previous:
                    self.repeats += 1
                    continue
                previous = buf
                yield DecodedFrame(np.frombuffer(buf, np.uint8).reshape(self.height, self.width, 3), pts, dur)
        finally:
            self.close()

    def close(self) -> None:
        """Stop FFmpeg (if still running) and collect its exit status and log."""
        proc = self._proc
        if proc is None or self.returncode is not None:
            return
        if proc.poll() is None and proc.stdout is not None:
            # Not read to the end: the caller stopped early; end FFmpeg.
            leftover = proc.stdout.read(1)
            if leftover:
                self.stopped_early = True
                proc.kill()
        self.returncode = proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def failure(self) -> str:
        """One line saying why FFmpeg stopped (its first specific complaint), or ''."""
        generic = ("Task finished", "Terminating thread", "Conversion failed", "Nothing was written",
                   "Could not open encoder", "Error opening output")
        specific = [e for e in self.errors if not any(g in e for g in generic)] or self.errors
        return re.sub(r"^\[[^\]]*\]\s*", "", specific[0])[:200] if specific else ""


def _read_exactly(stream, size: int) -> bytes | None:
    """``size`` bytes from a pipe, or None at its end (a partial picture at the end is dropped)."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)

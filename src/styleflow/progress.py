"""Progress bars for long work (tqdm on stderr; silent when disabled): the only place bars are built.

:class:`IterationBar` follows an optimisation (a Stylizer callback); :func:`frame_bar` counts the
frames or frame pairs of a stage (extraction, flow, masks, sequential stylisation, encoding).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm import tqdm

#: Seconds between two progress lines in a log (stderr not a terminal).
LOG_INTERVAL = 30.0


class IterationBar:
    """A bar over optimisation iterations with the current losses; usable as a Stylizer callback.

    Coarse-to-fine levels each get their own pass over the bar (``level 1/2``); ``desc`` names
    what is being stylised (e.g. ``frame 3/40``).
    """

    def __init__(self, desc: str = "stylise", enabled: bool = True, position: int = 0, leave: bool = True):
        self.desc = desc
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.level = 0
        self.position = position
        self.leave = leave

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if event.get("event") == "restore":
            tqdm.write(f"{self.desc}: loss blew up at iteration {event['iteration']}; restored the best image so far")
            return
        if event["level"] != self.level:
            self.close()
            self.level = event["level"]
            label = self.desc if event["levels"] == 1 else f"{self.desc} level {event['level']}/{event['levels']}"
            self.bar = tqdm(total=event["budget"], desc=label, unit="it", position=self.position,
                            leave=self.leave, dynamic_ncols=True)
        assert self.bar is not None
        self.bar.update(event["iteration"] - self.bar.n)
        losses = event.get("losses") or {}
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


_LOG_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%), {elapsed} elapsed, {rate_fmt}, ETA {remaining}"


class _LogLines:
    """A file for tqdm that turns its redraws (``\\r...``) into whole lines: a log (a Snakemake
    job's, a redirected stderr) gets one line per update instead of bar debris."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def frame_bar(total: int | None, desc: str, enabled: bool = True, unit: str = "frame", leave: bool = False) -> tqdm:
    """A bar over frames (or pairs, ``unit``) of a long stage, with rate and ETA; ``leave`` keeps it
    on screen when closed.

    On a terminal it is redrawn in place; when stderr is not a terminal (a log file, a Snakemake
    job) it prints a line with count, rate and ETA every :data:`LOG_INTERVAL` seconds instead, so
    a long job's log says how far it is. Nothing when not ``enabled``.
    """
    if not enabled:
        return tqdm(total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True)
    return tqdm(total=total, desc=desc, unit=unit, leave=leave, file=_LogLines(sys.stderr),
                mininterval=LOG_INTERVAL, maxinterval=LOG_INTERVAL * 4, delay=LOG_INTERVAL,
                bar_format=_LOG_FORMAT if total else "{desc}: {n_fmt} {unit}, {elapsed} elapsed, {rate_fmt}")

"""Scene cuts: where almost nothing of frame k is consistently found in frame k+1.

Rule (recorded in ``cuts.json`` with the numbers it was applied to): frame ``k+1`` starts a new
shot when the *consistent fraction* of the pair is below ``threshold`` (default 0.3). A pixel x of
frame k+1 is consistent when

* its consistency mask ``reliable(k+1, k)`` is >= 128 (of 0..255): the forward–backward check
  passes, and
* (when the frames are available) it matches frame k warped onto it, ``k(x + w_b(x))``, to within
  a mean absolute RGB difference of 0.1 (colours in [0, 1]).

The photometric part matters: between two unrelated but smooth or textureless images, a flow
method can return small, smooth and mutually consistent flows that pass the geometric check on a
good part of the frame. Within a shot, even fast hand-held or panning footage keeps well over
half of its pixels consistent (measured: >= 0.7 on the shared real clips at step 2–3).

Frame 1 is never listed (it starts the first shot by definition). Stylisation restarts from the
content frame at a cut instead of warping the previous shot in, and masks of pairs that span a
cut are written as all-zero (no temporal term across shots).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from styleflow.errors import StyleflowError
from styleflow.io.atomic import write_json
from styleflow.motion.warp import warp

#: Reliable fraction below which a pair is a cut.
DEFAULT_THRESHOLD = 0.3
#: Mask value (0..255) from which a pixel counts as reliable.
RELIABLE_VALUE = 128
#: Largest mean absolute RGB difference (colours in [0, 1]) of a photometrically consistent pixel.
PHOTOMETRIC_TOLERANCE = 0.1
CUTS_NAME = "cuts.json"


def rule_text(threshold: float = DEFAULT_THRESHOLD, photometric: bool = True) -> str:
    text = (f"frame k+1 starts a new shot if fewer than {threshold:g} of its pixels have reliable(k+1, k) "
            f">= {RELIABLE_VALUE}")
    if photometric:
        text += (f" and differ from frame k warped by backward(k+1, k) by at most {PHOTOMETRIC_TOLERANCE:g} "
                 "(mean absolute RGB difference, colours in [0, 1])")
    return text


def consistent_fraction(mask: np.ndarray, frame: np.ndarray | None = None, previous: np.ndarray | None = None,
                        backward: np.ndarray | None = None) -> float:
    """Share of pixels of frame k+1 that are consistent with frame k (see the module docstring).

    Args:
        mask: ``reliable(k+1, k)``, ``(H, W)`` uint8.
        frame, previous: frames k+1 and k, ``(H, W, 3)`` float RGB in [0, 1] (optional).
        backward: flow k+1 → k, ``(H, W, 2)`` pixels (needed with the frames).
    """
    ok = np.asarray(mask) >= RELIABLE_VALUE
    if frame is not None and previous is not None and backward is not None:
        warped, inside = warp(previous, backward)
        ok &= inside & (np.abs(warped - frame).mean(axis=2) <= PHOTOMETRIC_TOLERANCE)
    return float(np.count_nonzero(ok)) / max(1, ok.size)


def detect_cuts(fractions: dict[int, float], threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """Frames (1-based) that start a new shot.

    Args:
        fractions: frame ``j`` (>= 2) → consistent fraction of the pair (j, j-1), in [0, 1].
        threshold: cut when the fraction is below this.
    """
    if not 0.0 <= threshold <= 1.0:
        raise StyleflowError(f"scene-cut threshold {threshold!r}: expected a fraction between 0 and 1")
    return sorted(j for j, f in fractions.items() if j >= 2 and f < threshold)


def write_cuts(path: str | os.PathLike[str], fractions: dict[int, float], frame_count: int,
               threshold: float = DEFAULT_THRESHOLD, offsets: tuple[int, ...] = (1,),
               photometric: bool = True, flow_record: Any = None) -> list[int]:
    """Detect cuts and write ``cuts.json`` atomically; return the cut frames.

    ``fractions`` maps frame j >= 2 to the consistent fraction of the pair (j, j-1);
    ``flow_record`` is the record of the flow the masks were made from (``flow_settings.json``).
    """
    cuts = detect_cuts(fractions, threshold)
    write_json(path, {
        "cuts": cuts,
        "rule": rule_text(threshold, photometric),
        "threshold": threshold,
        "reliable_value": RELIABLE_VALUE,
        "photometric_tolerance": PHOTOMETRIC_TOLERANCE if photometric else None,
        "frame_count": frame_count,
        "offsets": list(offsets),
        "consistent_fraction": {str(j): round(f, 6) for j, f in sorted(fractions.items())},
        "flow_record": flow_record,
    })
    return cuts


def read_cuts(masks_dir: str | os.PathLike[str], frame_count: int | None = None) -> list[int]:
    """The 1-based frames that start a new shot (frame 1 excluded), from ``masks_dir/cuts.json``.

    The one reader of the file. A missing file is an error, not "no cuts": the masks stage
    writes it last, so without it the masks are incomplete, and a run that ignored a cut would
    warp the previous shot into the next one.

    Args:
        frame_count: keep only cuts up to this frame (a run over the first N frames).

    Raises:
        StyleflowError: the file is missing or malformed.
    """
    path = Path(masks_dir) / CUTS_NAME
    if not path.is_file():
        raise StyleflowError(f"{path}: no scene-cut file; compute the masks first "
                             "(styleflow.motion.consistency.compute_masks, the workflow's consistency rule)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cuts = data["cuts"]
        if not isinstance(cuts, list) or not all(isinstance(c, int) and c >= 2 for c in cuts):
            raise ValueError("'cuts' must be a list of frame numbers >= 2")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StyleflowError(f"{path}: malformed scene-cut file ({exc}); recompute the masks") from None
    return sorted(c for c in cuts if frame_count is None or c <= frame_count)


def spans_cut(i: int, j: int, cuts: list[int]) -> bool:
    """True if frames ``i`` and ``j`` lie in different shots."""
    lo, hi = min(i, j), max(i, j)
    return any(lo < c <= hi for c in cuts)

"""Scene cuts: where almost nothing of frame k is consistently found in frame k+1.

Rule (recorded in ``cuts.json`` with the numbers it was applied to): frame ``k+1`` starts a new
shot when the *reliable fraction* of its consistency mask against frame ``k`` — the share of
pixels of ``reliable(k+1, k)`` with value >= 128 (of 0..255) — is below ``threshold``
(default 0.3). Within a shot, even fast hand-held or panning footage keeps well over half of its
pixels reliable; between unrelated images the forward–backward check fails almost everywhere.

Frame 1 is never listed (it starts the first shot by definition). Stylisation restarts from the
content frame at a cut instead of warping the previous shot in, and masks of pairs that span a
cut are written as all-zero (no temporal term across shots).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .atomic import write_json
from .errors import StyleflowError

#: Reliable fraction below which a pair is a cut.
DEFAULT_THRESHOLD = 0.3
#: Mask value (0..255) from which a pixel counts as reliable.
RELIABLE_VALUE = 128
CUTS_NAME = "cuts.json"


def rule_text(threshold: float = DEFAULT_THRESHOLD) -> str:
    return (f"frame k+1 starts a new shot if fewer than {threshold:g} of the pixels of reliable(k+1, k) "
            f"are >= {RELIABLE_VALUE}")


def detect_cuts(fractions: dict[int, float], threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """Frames (1-based) that start a new shot.

    Args:
        fractions: frame ``j`` (>= 2) → reliable fraction of ``reliable(j, j-1)`` in [0, 1].
        threshold: cut when the fraction is below this.
    """
    if not 0.0 <= threshold <= 1.0:
        raise StyleflowError(f"scene-cut threshold {threshold!r}: expected a fraction between 0 and 1")
    return sorted(j for j, f in fractions.items() if j >= 2 and f < threshold)


def write_cuts(path: str | os.PathLike[str], fractions: dict[int, float], frame_count: int,
               threshold: float = DEFAULT_THRESHOLD, offsets: tuple[int, ...] = (1,)) -> list[int]:
    """Detect cuts and write ``cuts.json`` atomically; return the cut frames."""
    cuts = detect_cuts(fractions, threshold)
    write_json(path, {
        "cuts": cuts,
        "rule": rule_text(threshold),
        "threshold": threshold,
        "reliable_value": RELIABLE_VALUE,
        "frame_count": frame_count,
        "offsets": list(offsets),
        "reliable_fraction": {str(j): round(f, 6) for j, f in sorted(fractions.items())},
    })
    return cuts


def read_cuts(masks_dir: str | os.PathLike[str]) -> list[int]:
    """The 1-based frames that start a new shot (frame 1 excluded), from ``masks_dir/cuts.json``.

    Raises:
        StyleflowError: the file is missing or malformed.
    """
    path = Path(masks_dir) / CUTS_NAME
    if not path.is_file():
        raise StyleflowError(f"{path}: no scene-cut file; compute the masks first (styleflow masks stage)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cuts = data["cuts"]
        if not isinstance(cuts, list) or not all(isinstance(c, int) and c >= 2 for c in cuts):
            raise ValueError("'cuts' must be a list of frame numbers >= 2")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StyleflowError(f"{path}: malformed scene-cut file ({exc}); recompute the masks") from None
    return sorted(cuts)


def spans_cut(i: int, j: int, cuts: list[int]) -> bool:
    """True if frames ``i`` and ``j`` lie in different shots."""
    lo, hi = min(i, j), max(i, j)
    return any(lo < c <= hi for c in cuts)

"""How many L-BFGS correction pairs an image of a given size may keep.

``torch.optim.LBFGS`` keeps ``history_size`` pairs (s, y) of vectors the size of the image being
optimised: 2 x history x 3 x H x W float32 values. The project's 100 pairs are 160 MB at 256x456
but 5 GB at 1080p (1920x1080), more than the VGG activations themselves. :func:`history_size`
keeps the history under :data:`HISTORY_BYTES` (1 GiB): 100 pairs up to 0.45 MP (512x872),
then fewer — 97 at 512x896, 48 at 720p, 21 at 1080p — never fewer than :data:`MIN_HISTORY`.
Early-stopped later frames run ~20-50 iterations, so they rarely fill even a trimmed history.
"""

from __future__ import annotations

#: Bytes the L-BFGS history may take.
HISTORY_BYTES = 2**30
#: The history at small sizes (the project's setting since issue 1) and the least it is trimmed to.
MAX_HISTORY = 100
MIN_HISTORY = 10


def history_size(numel: int, budget: int | None = None, bytes_per_value: int = 4) -> int:
    """Correction pairs for an optimised tensor of ``numel`` values: ``MAX_HISTORY`` while
    ``2 x pairs x numel x bytes_per_value`` fits ``budget`` bytes (default :data:`HISTORY_BYTES`),
    else as many as fit (at least ``MIN_HISTORY``)."""
    budget = HISTORY_BYTES if budget is None else budget
    per_pair = 2 * numel * bytes_per_value
    return max(MIN_HISTORY, min(MAX_HISTORY, budget // max(1, per_pair)))

"""Confidence intervals for per-frame metrics: a circular block bootstrap over frames.

A run's metric is a mean over frames (or frame pairs); neighbouring frames are correlated (the
same scene, the same optimiser state), so frames are resampled in blocks of ``b`` consecutive
frames (circular block bootstrap, Politis & Romano 1992) and the interval is the *expanded*
percentile interval of the resampled means (Hesterberg 2015): the plain percentile interval is too
narrow for samples as small as a 10-frame clip, so its tail probability ``α`` is replaced by ``α'``
with ``Φ⁻¹(1 − α'/2) = sqrt(n / (n − 1)) · t_{n−1}(1 − α/2)`` — for 9 frame pairs the 0.7 % and
99.3 % quantiles instead of 2.5 % and 97.5 %; for 3 pairs, nearly the smallest and largest
resampled mean (a difference is then significant only when every frame agrees on its sign).

**Block length** (:func:`block_length`): ``b = max(ceil(n^(1/3)), b_AR1)``, at most ``n // 2``.
``n^(1/3)`` is the order of the block length that is optimal for bootstrap variance estimates
(Hall, Horowitz & Jing 1995); it is the floor, because the lag-1 autocorrelation ``ρ`` of a clip
of ten frames is too noisy (and biased low) to trust on its own. For longer, strongly correlated
clips ``b_AR1 = ceil((6 ρ² / (1 − ρ²)²)^(1/3) · n^(1/3))`` — the plug-in optimal circular block
length of Politis & White (2004) for an AR(1) series — makes blocks longer. A paired difference
uses the block length of the difference series.

**Reproducible**: every resampling uses ``numpy.random.default_rng(seed)`` afresh (config
``metrics: bootstrap: seed``), so the same values give the same interval, and two series of the
same length are resampled with the same frame indices.

**Paired differences** (:func:`paired`): variant − reference frame by frame (frames where either is
missing dropped), bootstrapped as one series: the frames' shared difficulty cancels, which is what
makes a 10-frame comparison decidable at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

#: Defaults of ``metrics: bootstrap:`` in the config.
RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean and its bootstrap interval: ``lo``/``hi`` are NaN with fewer than 2 values."""

    mean: float
    lo: float
    hi: float
    n: int
    block: int

    def excludes_zero(self) -> bool:
        """True when the interval lies entirely above or below 0 (a significant difference)."""
        return bool(self.lo > 0 or self.hi < 0)


@dataclass(frozen=True)
class Bootstrap:
    """Settings of the bootstrap: resamples, seed and confidence level (0.95: 95 % intervals)."""

    resamples: int = RESAMPLES
    seed: int = SEED
    confidence: float = CONFIDENCE

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "Bootstrap":
        cfg = cfg or {}
        return cls(int(cfg.get("resamples", RESAMPLES)), int(cfg.get("seed", SEED)),
                   float(cfg.get("confidence", CONFIDENCE)))


def lag1_autocorrelation(x: Sequence[float] | np.ndarray) -> float:
    """Sample lag-1 autocorrelation of a series (0 for fewer than 3 values or a constant series)."""
    v = np.asarray(x, np.float64)
    if len(v) < 3:
        return 0.0
    d = v - v.mean()
    den = float(d @ d)
    return float(d[:-1] @ d[1:] / den) if den > 0 else 0.0


def block_length(x: Sequence[float] | np.ndarray) -> int:
    """Block length for a series of ``n`` values (module docstring): ``1 <= b <= max(1, n // 2)``."""
    n = len(x)
    if n < 2:
        return 1
    base = math.ceil(n ** (1 / 3) - 1e-9)
    rho = min(max(lag1_autocorrelation(x), 0.0), 0.95)
    ar1 = math.ceil((6 * rho * rho / (1 - rho * rho) ** 2) ** (1 / 3) * n ** (1 / 3)) if rho > 0 else 1
    return int(max(1, min(max(base, ar1), n // 2)))


def resample_indices(n: int, block: int, resamples: int, seed: int) -> np.ndarray:
    """``(resamples, n)`` frame indices of a circular block bootstrap: blocks of ``block``
    consecutive indices (wrapping round) from uniform random starts, cut to ``n``."""
    rng = np.random.default_rng(seed)
    blocks = math.ceil(n / block)
    starts = rng.integers(0, n, size=(resamples, blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return idx.reshape(resamples, blocks * block)[:, :n]


def _finite_values(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite ``values`` as float64, in their order."""
    v = np.asarray(values, np.float64)
    return v[np.isfinite(v)]


def _mean(v: np.ndarray) -> float:
    return float(v.mean()) if len(v) else math.nan


def _no_interval(v: np.ndarray) -> Interval:
    """Fewer than two values: their mean (NaN for none), no interval."""
    return Interval(_mean(v), math.nan, math.nan, len(v), 1 if len(v) else 0)


def interval(values: Sequence[float] | np.ndarray, boot: Bootstrap = Bootstrap(), block: int | None = None) -> Interval:
    """Mean of the finite ``values`` (frame order) and its block-bootstrap percentile interval."""
    v = _finite_values(values)
    n, mean = len(v), _mean(v)
    if n < 2:
        return _no_interval(v)
    b = block or block_length(v)
    means = v[resample_indices(n, b, boot.resamples, boot.seed)].mean(axis=1)
    tail = expanded_tail(n, boot.confidence)
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return Interval(mean, float(lo), float(hi), n, b)


def expanded_tail(n: int, confidence: float = CONFIDENCE) -> float:
    """The lower quantile level ``α'/2`` of the expanded percentile interval for ``n`` values."""
    from scipy.stats import norm, t  # here: scipy.stats takes ~3 s; most importers need no interval

    z = math.sqrt(n / (n - 1)) * float(t.ppf(0.5 + confidence / 2, n - 1))
    return float(norm.sf(z))


def paired(values: Mapping[int, float], reference: Mapping[int, float], boot: Bootstrap = Bootstrap()) -> Interval:
    """Mean of ``values − reference`` over the frames both have (finite), with its interval.

    Args:
        values, reference: ``{frame number: value}`` of two runs of the same clip.
    """
    frames = sorted(f for f in values.keys() & reference.keys()
                    if _finite(values[f]) and _finite(reference[f]))
    return interval([values[f] - reference[f] for f in frames], boot)


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean over independent values (runs of a grid) with a Student-t interval (NaN below 2)."""
    v = _finite_values([float(x) for x in values if _finite(x)])  # table cells: None or text skipped
    n, mean = len(v), _mean(v)
    if n < 2:
        return _no_interval(v)
    from scipy.stats import t  # here: scipy.stats takes ~3 s; most importers need no interval

    half = float(t.ppf(0.5 + confidence / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, 1)


def rank_marks(series: Mapping[str, Mapping[int, float]], boot: Bootstrap = Bootstrap()) -> dict[str, str]:
    """``{row: "best" | "tied" | ""}`` for one metric within one group (lower is better).

    The row with the lowest mean is ``best`` when the paired interval of every other row's
    difference to it lies above 0; otherwise it and every row whose difference to it is not
    significant are ``tied``; the rest are unmarked (significantly worse than the lowest).

    Args:
        series: ``{row id: {frame: value}}``; rows without a finite value are left unmarked.
    """
    means = {k: float(np.mean([v for v in s.values() if _finite(v)])) for k, s in series.items()
             if any(_finite(v) for v in s.values())}
    if not means:
        return {k: "" for k in series}
    low = min(means, key=lambda k: (means[k], k))
    tied = [k for k in means if k != low and not paired(series[k], series[low], boot).lo > 0]
    out = {k: "" for k in series}
    if tied:
        for k in (low, *tied):
            out[k] = "tied"
    else:
        out[low] = "best"
    return out


def _finite(v: object) -> bool:
    try:
        return v is not None and math.isfinite(float(v))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False

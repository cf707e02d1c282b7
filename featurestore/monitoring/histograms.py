"""Reference-anchored histograms: the fine bins of a numeric feature and the counts of a categorical one.

Numeric (design notes §2): ``lo = q0.005`` and ``hi = q0.995`` of the data (exact linear-interpolation
quantiles, DuckDB's ``quantile_cont``, on a sample of at most 1M rows), ``w = (hi - lo) / 200`` and fine bin
``k = clamp(floor((x - lo) / w), -1, 200)``: 202 bins, the first (index 0 here) for underflow, the last for
overflow. Fixed edges make histograms of two samples (or two time windows) comparable and additive. A constant
feature (``lo == hi``) has three bins: below, equal to, above the value. ``±inf`` fall in under/overflow.

>>> h = NumericBins(0.0, 2.0)
>>> counts = h.count(np.array([-5.0, 0.0, 0.5, 1.999, 2.0, 9.0]))
>>> int(counts[0]), int(counts[1]), int(counts[51]), int(counts[200]), int(counts[201])
(1, 1, 1, 1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FINE_BINS = 200
LO_Q, HI_Q = 0.005, 0.995
OTHER = "__other__"
TOP_CATEGORIES = 50


@dataclass(frozen=True)
class NumericBins:
    """The fine bins anchored at ``[lo, hi]`` (202 bins, or 3 when ``lo == hi``)."""

    lo: float
    hi: float

    @property
    def constant(self) -> bool:
        return bool(self.lo == self.hi)

    @property
    def size(self) -> int:
        return 3 if self.constant else FINE_BINS + 2

    def edges(self) -> np.ndarray:
        """The inner edges: ``lo, lo + w, ..., hi`` (201 values; one value ``lo`` when constant)."""
        if self.constant:
            return np.array([self.lo])
        return self.lo + (self.hi - self.lo) * np.arange(FINE_BINS + 1) / FINE_BINS

    def count(self, x: np.ndarray) -> np.ndarray:
        """Counts per bin of the values ``x`` (float64, without NaN)."""
        if x.size == 0:
            return np.zeros(self.size, dtype=np.int64)
        if self.constant:
            below = int(np.count_nonzero(x < self.lo))
            above = int(np.count_nonzero(x > self.lo))
            return np.array([below, x.size - below - above, above], dtype=np.int64)
        return self.count_shifted(x - self.lo)

    def count_shifted(self, k: np.ndarray) -> np.ndarray:
        """:meth:`count` of ``x`` given ``k = x - lo`` (a fresh array: it is overwritten); not constant bins."""
        k *= FINE_BINS / (self.hi - self.lo)
        np.floor(k, out=k)
        np.clip(k, -1, FINE_BINS, out=k)
        k += 1
        return np.bincount(k.astype(np.intp), minlength=self.size)


def bins_of(sample: np.ndarray) -> NumericBins | None:
    """The bins anchored on a sample of finite values (None when empty)."""
    if sample.size == 0:
        return None
    lo, hi = np.quantile(sample, [LO_Q, HI_Q])
    return NumericBins(float(lo), float(hi))


def coarse_groups(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Coarse bin of each fine bin: runs of fine bins cut where the reference CDF crosses k/``bins``.

    A cut follows fine bin j when ``floor(B * S_j / R) > floor(B * S_{j-1} / R)`` (S: cumulative reference
    counts, integer arithmetic) and ``S_j < R``: fine bins after the last reference value join the last coarse
    bin, those before the first crossing form the first. At most ``bins`` coarse bins (fewer when one fine bin
    holds more than 1/B of the reference). Three fine bins (a constant feature) are kept as they are.

    >>> coarse_groups(np.array([0, 5, 5, 5, 5, 0]), bins=2).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    reference = np.asarray(reference, dtype=np.int64)
    if reference.size <= 3:
        return np.arange(reference.size)
    total = int(reference.sum())
    if total == 0:
        return np.zeros(reference.size, dtype=np.int64)
    cum = np.cumsum(reference)
    level = (cum * bins) // total
    prev = np.concatenate(([0], level[:-1]))
    cut = (level > prev) & (cum < total)
    return np.concatenate(([0], np.cumsum(cut)[:-1])).astype(np.int64)


def regroup(counts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sum fine counts into their coarse bins."""
    return np.bincount(groups, weights=np.asarray(counts, dtype=np.float64),
                       minlength=int(groups.max()) + 1 if groups.size else 0).astype(np.int64)


def categories(reference: dict[str, int], top: int = TOP_CATEGORIES) -> list[str]:
    """The ``top`` most frequent reference categories (ties by value), then :data:`OTHER`."""
    ranked = sorted(reference.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [k for k, _ in ranked] + [OTHER]


def category_counts(counts: dict[str, int], cats: list[str]) -> np.ndarray:
    """Counts on ``cats`` (the last is :data:`OTHER`: every value not named before it)."""
    named = cats[:-1]
    out = [counts.get(c, 0) for c in named]
    return np.array([*out, sum(counts.values()) - sum(out)], dtype=np.int64)

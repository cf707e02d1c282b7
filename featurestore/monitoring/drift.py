"""Drift distances between two histograms on the same bins (numpy only; the formulas of design notes §2).

Reference counts ``r_i`` (total R), current counts ``c_i`` (total C):

* smoothing: ``p_i = (r_i/R + eps) / (1 + B*eps)``, ``q_i = (c_i/C + eps) / (1 + B*eps)``, ``eps = 1e-4``,
  B the number of bins compared;
* ``PSI = sum_i (q_i - p_i) * ln(q_i / p_i)``;
* ``JS = sqrt(KL(p||m)/2 + KL(q||m)/2)``, ``m = (p + q)/2``, natural log (a distance, scipy's ``jensenshannon``);
* ``KS = max_j |F_r(j) - F_c(j)|`` over the cumulative raw shares of the fine bins (the binned two-sample D);
* ``Linf = max_i |p_i - q_i|`` (categorical features, instead of KS).

>>> round(psi(np.array([50, 50]), np.array([50, 50])), 12)
0.0
>>> round(ks(np.array([1, 1, 0]), np.array([0, 1, 1])), 3)
0.5
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-4


def smoothed(counts: np.ndarray, eps: float = EPSILON) -> np.ndarray:
    """``(c_i/C + eps) / (1 + B*eps)``: shares with no empty bin, summing to 1."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("an empty histogram has no distribution")
    out: np.ndarray = (counts / total + eps) / (1 + counts.size * eps)
    return out


def psi(reference: np.ndarray, current: np.ndarray, eps: float = EPSILON) -> float:
    """Population stability index of ``current`` against ``reference`` (same bins)."""
    p, q = smoothed(reference, eps), smoothed(current, eps)
    return float(np.sum((q - p) * np.log(q / p)))


def js(reference: np.ndarray, current: np.ndarray, eps: float = EPSILON) -> float:
    """Jensen-Shannon distance (natural log) of the smoothed distributions."""
    p, q = smoothed(reference, eps), smoothed(current, eps)
    m = (p + q) / 2
    value = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
    return float(np.sqrt(max(value, 0.0)))


def ks(reference: np.ndarray, current: np.ndarray) -> float:
    """Largest gap between the two cumulative distributions over the bin edges (raw shares, no smoothing)."""
    r = np.asarray(reference, dtype=np.float64)
    c = np.asarray(current, dtype=np.float64)
    return float(np.max(np.abs(np.cumsum(r) / r.sum() - np.cumsum(c) / c.sum())))


def linf(reference: np.ndarray, current: np.ndarray, eps: float = EPSILON) -> float:
    """Largest difference of the smoothed shares of one category."""
    return float(np.max(np.abs(smoothed(reference, eps) - smoothed(current, eps))))

"""Golden values of PSI, KS, JS and L∞ on tiny histograms, computed by hand in the test (and pinned), and
cross-checks with scipy on randomized samples."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from featurestore.monitoring import drift
from featurestore.monitoring.drift_report import compare_feature
from featurestore.monitoring.histograms import FINE_BINS, NumericBins, coarse_groups, regroup
from featurestore.monitoring.profiler import profile_table

EPS = 1e-4


def by_hand(p_counts: list[int], q_counts: list[int]) -> tuple[float, float, float]:
    """PSI, JS distance and L∞ by the written formulas, in plain Python."""
    b = len(p_counts)
    r, c = sum(p_counts), sum(q_counts)
    p = [(x / r + EPS) / (1 + b * EPS) for x in p_counts]
    q = [(x / c + EPS) / (1 + b * EPS) for x in q_counts]
    psi = sum((qi - pi) * math.log(qi / pi) for pi, qi in zip(p, q, strict=True))
    m = [(pi + qi) / 2 for pi, qi in zip(p, q, strict=True)]
    js = math.sqrt(0.5 * sum(pi * math.log(pi / mi) for pi, mi in zip(p, m, strict=True))
                   + 0.5 * sum(qi * math.log(qi / mi) for qi, mi in zip(q, m, strict=True)))
    return psi, js, max(abs(pi - qi) for pi, qi in zip(p, q, strict=True))


def test_empty_current_bin() -> None:
    r, c = np.array([2, 2]), np.array([4, 0])
    psi, js, _ = by_hand([2, 2], [4, 0])
    # p = (0.5, 0.5); q = (1.0001, 0.0001) / 1.0002
    q1, q2 = 1.0001 / 1.0002, 0.0001 / 1.0002
    assert psi == pytest.approx((q1 - 0.5) * math.log(q1 / 0.5) + (q2 - 0.5) * math.log(q2 / 0.5), rel=1e-12)
    assert drift.psi(r, c) == pytest.approx(psi, rel=1e-12) == pytest.approx(4.604299, abs=1e-6)
    assert drift.js(r, c) == pytest.approx(js, rel=1e-12) == pytest.approx(0.464011, abs=1e-6)
    assert drift.ks(r, c) == 0.5  # F_r = (0.5, 1), F_c = (1, 1)
    assert drift.psi(r, r) == 0.0 and drift.js(r, r) == 0.0 and drift.ks(r, r) == 0.0


def test_constant_feature() -> None:
    ref = profile_table(pa.table({"x": [3.0] * 1000}))
    cur = profile_table(pa.table({"x": [3.0] * 900 + [4.0] * 100}), bins={"x": ref.features["x"].histogram.bins})
    assert ref.features["x"].histogram.counts == (0, 1000, 0)  # below, equal, above
    assert cur.features["x"].histogram.counts == (0, 900, 100)
    got = compare_feature(ref.features["x"], cur.features["x"])
    psi, js, _ = by_hand([0, 1000, 0], [0, 900, 100])
    assert got.psi == pytest.approx(psi, rel=1e-12) == pytest.approx(0.701200, abs=1e-6)
    assert got.js == pytest.approx(js, rel=1e-12) == pytest.approx(0.188777, abs=1e-6)
    assert got.ks == pytest.approx(0.1, abs=1e-15)
    assert got.status == "alert" and got.bins == ("< 3", "= 3", "> 3")


def test_all_current_values_above_the_reference_max() -> None:
    reference = np.array([0] + [1] * FINE_BINS + [0])  # one value per fine bin, no under/overflow
    groups = coarse_groups(reference, 10)
    # cuts where the CDF reaches k/10: every 20 fine bins; the empty overflow joins the last coarse bin
    assert groups.tolist() == [0] * 21 + [g for g in range(1, 10) for _ in range(20)] + [9]
    current = np.zeros(FINE_BINS + 2, dtype=np.int64)
    current[-1] = 500  # all above hi
    r, c = regroup(reference, groups), regroup(current, groups)
    assert r.tolist() == [20] * 10 and c.tolist() == [0] * 9 + [500]
    psi, js, _ = by_hand([20] * 10, [0] * 9 + [500])
    p, q0, q9 = (0.1 + EPS) / 1.001, EPS / 1.001, (1 + EPS) / 1.001
    assert psi == pytest.approx(9 * (q0 - p) * math.log(q0 / p) + (q9 - p) * math.log(q9 / p), rel=1e-12)
    assert drift.psi(r, c) == pytest.approx(psi, rel=1e-12) == pytest.approx(8.281115, abs=1e-6)
    assert drift.js(r, c) == pytest.approx(js, rel=1e-12) == pytest.approx(0.722554, abs=1e-6)
    assert drift.ks(reference, current) == 1.0


def test_unseen_category() -> None:
    ref = profile_table(pa.table({"s": ["a"] * 60 + ["b"] * 40}))
    cur = profile_table(pa.table({"s": ["a"] * 30 + ["b"] * 30 + ["z"] * 40}))
    got = compare_feature(ref.features["s"], cur.features["s"], min_rows=10)
    assert got.bins == ("a", "b", "__other__")
    assert got.reference_counts == (60, 40, 0) and got.current_counts == (30, 30, 40)
    psi, js, linf = by_hand([60, 40, 0], [30, 30, 40])
    assert got.psi == pytest.approx(psi, rel=1e-12) == pytest.approx(3.553308, abs=1e-6)
    assert got.js == pytest.approx(js, rel=1e-12) == pytest.approx(0.408957, abs=1e-6)
    assert got.ks == pytest.approx(linf, rel=1e-12) == pytest.approx(0.39988, abs=1e-5)
    assert got.metric == "linf" and got.unseen_ratio == 0.4 and got.status == "alert"


def test_design_notes_categorical_example() -> None:
    # (0.5, 0.3, 0.2) -> (0.3, 0.3, 0.4): PSI 0.2408 without smoothing (design notes §3)
    assert drift.psi(np.array([50, 30, 20]), np.array([30, 30, 40])) == pytest.approx(0.2408, abs=2e-4)


def test_top_50_categories_and_other() -> None:
    values = [f"c{i:03d}" for i in range(80) for _ in range(80 - i)]
    ref = profile_table(pa.table({"s": values}))
    got = compare_feature(ref.features["s"], ref.features["s"])
    assert len(got.bins) == 51 and got.bins[-1] == "__other__" and got.bins[0] == "c000"
    assert got.reference_counts[-1] == sum(80 - i for i in range(50, 80))
    assert got.psi == 0.0 and got.unseen_ratio == 0.0


def test_nulls_never_enter_the_distribution() -> None:
    ref = profile_table(pa.table({"x": [float(i % 100) for i in range(2000)]}))
    cur = profile_table(pa.table({"x": [float(i % 100) for i in range(2000)] + [None] * 1000}),
                        bins={"x": ref.features["x"].histogram.bins})
    got = compare_feature(ref.features["x"], cur.features["x"])
    assert got.psi == 0.0 and got.ks == 0.0
    assert got.null_ratio_change == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", range(6))
def test_cross_check_with_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, int(rng.integers(2000, 6000)))
    b = rng.normal(rng.uniform(-0.5, 0.5), rng.uniform(0.7, 1.5), int(rng.integers(2000, 6000)))
    ref = profile_table(pa.table({"x": a}))
    cur = profile_table(pa.table({"x": b}), bins={"x": ref.features["x"].histogram.bins})
    got = compare_feature(ref.features["x"], cur.features["x"])
    exact = ks_2samp(a, b).statistic
    r = np.array(ref.features["x"].histogram.counts)
    c = np.array(cur.features["x"].histogram.counts)
    largest = max((r / r.sum()).max(), (c / c.sum()).max())
    assert exact - largest - 1e-12 <= got.ks <= exact + 1e-12  # binned D: at most exact, at least D - a bin
    groups = coarse_groups(r, 10)
    p, q = drift.smoothed(regroup(r, groups)), drift.smoothed(regroup(c, groups))
    assert got.js == pytest.approx(float(jensenshannon(p, q)), rel=1e-9)
    assert got.psi == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-12)


def test_reference_coarse_bins_hold_about_a_tenth_each() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, 50_000)
    h = profile_table(pa.table({"x": x})).features["x"].histogram
    counts = regroup(np.array(h.counts), coarse_groups(np.array(h.counts), 10))
    assert len(counts) == 10 and counts.sum() == 50_000
    assert np.all(np.abs(counts / 50_000 - 0.1) < 0.02)
    bins = NumericBins(h.lo, h.hi)
    assert bins.count(x).tolist() == list(h.counts)

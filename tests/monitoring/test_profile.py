"""Profiles against a plain-Python reference on randomized data: nulls, NaN, ±inf, constants, strings, bools;
through a table and through a view's source rows over a time range (the DuckDB engine's ``view_rows``)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from featurestore import InputError, NotFoundError
from featurestore.monitoring.histograms import FINE_BINS
from featurestore.monitoring.profile import QUANTILES, FeatureProfile
from featurestore.monitoring.profiler import profile_table

from .stats_repo import CUR_START, REF_END, REF_START, make_repo, rows


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (DuckDB's quantile_cont, numpy's default)."""
    h = (len(sorted_values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def reference_numeric(values: list[float | None]) -> dict[str, object]:
    nulls = sum(v is None for v in values)
    nans = sum(v is not None and math.isnan(v) for v in values)
    present = [float(v) for v in values if v is not None and not math.isnan(v)]
    finite = sorted(v for v in present if math.isfinite(v))
    out: dict[str, object] = {"rows": len(values), "nulls": nulls, "nans": nans, "count": len(present),
                              "infinite": len(present) - len(finite)}
    if finite:
        out.update(min=finite[0], max=finite[-1], mean=statistics.fmean(finite),
                   std=statistics.stdev(finite) if len(finite) > 1 else None,
                   quantiles={label: quantile(finite, q) for label, q in QUANTILES})
        lo, hi = quantile(finite, 0.005), quantile(finite, 0.995)
        if lo == hi:
            counts = [sum(v < lo for v in present), sum(v == lo for v in present), sum(v > lo for v in present)]
        else:
            counts = [0] * (FINE_BINS + 2)
            scale = FINE_BINS / (hi - lo)
            for v in present:
                k = math.floor((v - lo) * scale) if math.isfinite(v) else (FINE_BINS if v > 0 else -1)
                counts[min(max(k, -1), FINE_BINS) + 1] += 1
        out.update(lo=lo, hi=hi, counts=counts)
    return out


def check_numeric(got: FeatureProfile, values: list[float | None]) -> None:
    want = reference_numeric(values)
    assert (got.rows, got.nulls, got.nans, got.count, got.infinite) == (
        want["rows"], want["nulls"], want["nans"], want["count"], want["infinite"])
    if "min" not in want:
        assert got.min is None and got.histogram is None
        return
    assert (got.min, got.max) == (want["min"], want["max"])
    assert got.mean == pytest.approx(want["mean"], rel=1e-9, abs=1e-9)
    if want["std"] is None:
        assert got.std is None
    else:
        assert got.std == pytest.approx(want["std"], rel=1e-7, abs=1e-9)
    assert got.quantiles == pytest.approx(want["quantiles"], rel=1e-12, abs=1e-12)
    assert got.histogram is not None
    assert (got.histogram.lo, got.histogram.hi) == pytest.approx((want["lo"], want["hi"]), rel=1e-12, abs=1e-12)
    assert list(got.histogram.counts) == want["counts"]


def check_categorical(got: FeatureProfile, values: list[object]) -> None:
    keys = [None if v is None else ("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]
    counts: dict[str, int] = {}
    for k in keys:
        if k is not None:
            counts[k] = counts.get(k, 0) + 1
    assert (got.rows, got.nulls, got.count, got.distinct) == (len(values), keys.count(None),
                                                              len(values) - keys.count(None), len(counts))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert list(got.top) == ranked[:10]
    assert got.values == counts


def random_table(seed: int, n: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.uniform(-50, 50), rng.uniform(0.1, 20), n).tolist()
    specials = [None, float("nan"), float("inf"), float("-inf")]
    for i in rng.choice(n, n // 10, replace=False):
        x[i] = specials[int(rng.integers(0, 4))]
    ints = [None if rng.random() < 0.05 else int(v) for v in rng.integers(-3, 40, n)]
    mostly = [7.5 if rng.random() < 0.996 else float(rng.normal()) for _ in range(n)]  # q0.005 == q0.995
    words = [None if rng.random() < 0.1 else f"w{int(rng.zipf(1.5)) % 30}" for _ in range(n)]
    flags = [None if rng.random() < 0.05 else bool(rng.random() < 0.3) for _ in range(n)]
    return pa.table({"x": pa.array(x, pa.float64()), "i": pa.array(ints, pa.int64()),
                     "f32": pa.array(rng.normal(0, 1, n).astype(np.float32)), "c": pa.array([3.25] * n),
                     "mostly": pa.array(mostly), "empty": pa.array([None] * n, pa.float64()),
                     "s": pa.array(words, pa.string()), "b": pa.array(flags, pa.bool_())})


@pytest.mark.parametrize("seed", range(4))
def test_table_profile_matches_plain_python(seed: int) -> None:
    table = random_table(seed, 1500 + 700 * seed)
    profile = profile_table(table)
    assert profile.rows == table.num_rows
    for name in ("x", "i", "f32", "c", "mostly", "empty"):
        check_numeric(profile.features[name], table.column(name).to_pylist())
    for name in ("s", "b"):
        check_categorical(profile.features[name], table.column(name).to_pylist())
    assert profile.features["c"].histogram is not None and profile.features["c"].histogram.counts == (
        0, table.num_rows, 0)  # a constant: one value bin + below + above
    assert profile.features["c"].std == 0.0


def test_profile_is_json_and_text() -> None:
    table = random_table(9, 500)
    profile = profile_table(table)
    data = profile.to_dict()
    assert set(data["features"]) == set(table.column_names)
    assert "nan" not in profile.to_json().lower().replace("nans", "")
    text = str(profile)
    assert all(name in text for name in table.column_names)


@pytest.mark.parametrize("seed", [11, 12])
def test_view_profile_over_a_range_matches_plain_python(tmp_path: Path, seed: int) -> None:
    reference, current = rows(3000, REF_START, seed), rows(2000, CUR_START, seed + 100, shift=3.0)
    store = make_repo(tmp_path, reference, current)
    with store:
        profile = store.profile("rider_stats", REF_START.isoformat(), REF_END)
        assert profile.rows == reference.num_rows  # the November rows are out of range
        check_numeric(profile.features["score"], reference.column("score").to_pylist())
        check_numeric(profile.features["trips"], [float(v) for v in reference.column("trips").to_pylist()])
        check_categorical(profile.features["city"], reference.column("city").to_pylist())
        check_categorical(profile.features["vip"], reference.column("vip").to_pylist())
        both = store.profile("rider_stats", features=["score"])  # open range: every row
        assert list(both.features) == ["score"] and both.rows == 5000


def test_engine_sample_is_deterministic_within_range_and_bounded(tmp_path: Path) -> None:
    reference = rows(5000, REF_START, 3)
    store = make_repo(tmp_path, reference, rows(1000, CUR_START, 4))
    with store:
        view = store.get_feature_view("rider_stats")

        def sample() -> pa.Table:
            return pa.Table.from_batches(list(store.offline.view_rows(view, REF_START, REF_END, ["score"], 500)))

        first, second = sample(), sample()
        assert 0 < first.num_rows <= 500 and first.equals(second)
        assert set(first.column("score").to_pylist()) <= set(reference.column("score").to_pylist())
        everything = pa.Table.from_batches(list(store.offline.view_rows(view, REF_START, REF_END, ["score"], 10**6)))
        assert everything.num_rows == 5000  # fewer rows than asked: all of them
        assert pc.sum(everything.column("score")).as_py() == pytest.approx(pc.sum(reference.column("score")).as_py())


def test_clear_errors(tmp_path: Path) -> None:
    store = make_repo(tmp_path, rows(100, REF_START, 1), rows(100, CUR_START, 2))
    with store:
        with pytest.raises(NotFoundError, match="'nope' is neither a feature view nor a feature service"):
            store.profile("nope")
        with pytest.raises(InputError, match="feature view 'rider_stats' has no feature 'zzz'"):
            store.profile("rider_stats", features=["zzz"])
        with pytest.raises(InputError, match="'rider_stats' is a feature view"):
            store.profile("rider_stats", served=True)
        with pytest.raises(InputError, match="feature service 'ranking' has no logged values"):
            store.profile("ranking", served=True)
        with pytest.raises(InputError, match="is not an ISO-8601"):
            store.profile("rider_stats", "last tuesday")
        with pytest.raises(InputError, match="no column 'zzz'"):
            store.profile(pa.table({"a": [1.0]}), features=["zzz"])


def test_training_set_inputs(tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    table = random_table(5, 800)
    path = tmp_path / "train.parquet"
    pq.write_table(table, path)
    store = make_repo(tmp_path / "repo", rows(10, REF_START, 1), rows(10, CUR_START, 2))
    with store:
        from_table = store.profile(table, features=["x", "s"])
        from_path = store.profile(str(path), features=["x", "s"])
        assert from_table.features == from_path.features
        # pandas turns a float null into NaN: both are missing, counted apart
        from_pandas = store.profile(table.select(["x", "s"]).to_pandas())
        x, px = from_table.features["x"], from_pandas.features["x"]
        assert (px.missing, px.count, px.mean, px.histogram) == (x.missing, x.count, x.mean, x.histogram)
        assert from_pandas.features["s"].values == from_table.features["s"].values

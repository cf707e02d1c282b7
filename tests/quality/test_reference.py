"""Every expectation against a brute-force plain-Python reference on randomized data: bad rows, null ratios, row
counts, examples (real bad values), per-row reasons; over Arrow batches (write paths) and over a Parquet source
through the DuckDB engine (materialize / validate: the range, rows without a key skipped)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, Expectation, FeatureView, Field, ParquetSource, expect
from featurestore.offline.duckdb.store import DuckDBOfflineStore
from featurestore.quality import evaluate
from featurestore.quality.report import Evaluation, plain
from featurestore.types import Float64, Int64, String
from featurestore.utc import epoch_us, from_epoch_us

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
HOUR = 3_600_000_000
CITIES = ["ams", "ber", "par", "rom", "o'x"]


def random_rows(rng: random.Random, n: int) -> dict[str, list[Any]]:
    def maybe(v: Any, p: float = 0.15) -> Any:
        return None if rng.random() < p else v

    floats = []
    for _ in range(n):
        r = rng.random()
        floats.append(None if r < 0.1 else math.nan if r < 0.2 else rng.choice([0.0, 1.0, 0.5, rng.uniform(-2, 3)]))
    return {
        "id": [maybe(rng.randint(1, 6), 0.1) for _ in range(n)],
        "i": [maybe(rng.randint(-5, 15)) for _ in range(n)],
        "f": floats,
        "s": [maybe(rng.choice(CITIES)) for _ in range(n)],
        "__fs_ev": [epoch_us(NOW) + rng.randint(-6, 3) * HOUR + rng.choice([0, 1, -1]) for _ in range(n)],
    }


def random_expectations(rng: random.Random) -> tuple[Expectation, ...]:
    def bound(lo: float, hi: float, whole: bool) -> Any:
        if rng.random() < 0.25:
            return None
        return rng.randint(int(lo), int(hi)) if whole else round(rng.uniform(lo, hi), 2)

    pool: list[Expectation] = [
        expect.not_null(rng.choice(["i", "f", "s"])),
        expect.null_ratio(rng.choice(["i", "f", "s"]), max=rng.choice([0.0, 0.1, 0.3, 1.0])),
        expect.in_set("s", rng.sample(CITIES, rng.randint(1, 4))),
        expect.in_set("i", rng.sample(range(-5, 16), rng.randint(1, 10))),
        expect.not_future(tolerance=rng.choice(["0s", "1h", "2h"])),
        expect.row_count(min=rng.choice([0, 5, 30]), max=rng.choice([None, 40, 100])),
    ]
    for col, whole in (("i", True), ("f", False)):
        lo, hi = bound(-3, 5, whole), bound(0, 12, whole)
        if lo is None and hi is None:
            lo = 0
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        pool.append(expect.between(col, lo, hi))
    chosen = rng.sample(pool, rng.randint(1, len(pool)))
    return tuple({e.label: e for e in chosen}.values())


def missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def is_bad(e: Expectation, row: dict[str, Any], now_us: int) -> bool:
    """The reference: whether ``row`` fails the row-level check ``e``."""
    if e.kind == "not_future":
        return bool(row["__fs_ev"] > now_us + e.tolerance_us)
    v = row[str(e.column)]
    if e.kind == "not_null":
        return missing(v)
    if v is None:
        return False  # nulls pass between and in_set
    if e.kind == "between":
        return math.isnan(v) if isinstance(v, float) and math.isnan(v) else (
            (e.min is not None and v < e.min) or (e.max is not None and v > e.max))
    assert e.kind == "in_set"
    return not any(v == x for x in e.values)


def reference(rows: list[dict[str, Any]], exps: tuple[Expectation, ...], now_us: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": len(rows), "results": []}
    out["bad_rows"] = sum(any(is_bad(e, r, now_us) for e in exps if e.row_level) for r in rows)
    for e in exps:
        if e.kind == "null_ratio":
            nulls = sum(missing(r[str(e.column)]) for r in rows)
            ratio = nulls / len(rows) if rows else 0.0
            out["results"].append({"ok": ratio <= float(e.max or 0), "observed": ratio, "bad": nulls, "values": set()})
        elif e.kind == "row_count":
            n = len(rows)
            ok = (e.min is None or n >= e.min) and (e.max is None or n <= e.max)
            out["results"].append({"ok": ok, "observed": n, "bad": 0, "values": set()})
        else:
            bad = [r for r in rows if is_bad(e, r, now_us)]
            col = "__fs_ev" if e.column is None else e.column
            values = {from_epoch_us(r[col]).isoformat() if e.kind == "not_future" else plain(r[col]) for r in bad}
            out["results"].append({"ok": not bad, "observed": None, "bad": len(bad), "values": values})
    return out


def compare(got: Evaluation, want: dict[str, Any], exps: tuple[Expectation, ...]) -> None:
    assert (got.rows, got.bad_rows) == (want["rows"], want["bad_rows"])
    for e, r, w in zip(exps, got.results, want["results"], strict=True):
        assert r.expectation == e
        assert (r.ok, r.bad_rows) == (w["ok"], w["bad"]), e.label
        if w["observed"] is None:
            assert r.observed is None
        else:
            assert r.observed == pytest.approx(w["observed"]), e.label
        examples = [plain(x) for x in r.examples]
        assert len(set(examples)) == len(examples) == min(3, len(w["values"])), (e.label, examples, w["values"])
        assert set(examples) <= w["values"], e.label


def arrow_batch(data: dict[str, list[Any]]) -> pa.Table:
    return pa.table({"id": pa.array(data["id"], pa.int64()), "i": pa.array(data["i"], pa.int64()),
                     "f": pa.array(data["f"], pa.float64()), "s": pa.array(data["s"], pa.string()),
                     "__fs_ev": pa.array(data["__fs_ev"], pa.int64())})


@pytest.mark.parametrize("seed", range(40))
def test_arrow_batches_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    data = random_rows(rng, rng.choice([0, 1, 7, 40, 120]))
    rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    exps = random_expectations(rng)
    now_us = epoch_us(NOW)
    table = arrow_batch(data)
    compare(evaluate.evaluate_table(table, exps, now_us), reference(rows, exps, now_us), exps)
    reasons = evaluate.reasons(table, exps, now_us).to_pylist()
    want = ["; ".join(e.label for e in exps if e.row_level and is_bad(e, r, now_us)) or None for r in rows]
    assert reasons == want


def view_over(path: str, exps: tuple[Expectation, ...]) -> FeatureView:
    entity = Entity(name="thing", join_keys=["id"])
    return FeatureView(name="v", entities=[entity], source=ParquetSource(path=path, timestamp_field="ts"),
                       schema=[Field(name="i", dtype=Int64), Field(name="f", dtype=Float64),
                               Field(name="s", dtype=String)], expectations=list(exps), on_invalid="quarantine")


@pytest.mark.parametrize("seed", range(30))
def test_the_engine_matches_the_reference_over_a_source_range(tmp_path: Path, seed: int) -> None:
    rng = random.Random(1000 + seed)
    data = random_rows(rng, rng.choice([0, 5, 60, 300]))
    table = arrow_batch(data)
    ts = pa.array([from_epoch_us(v) for v in data["__fs_ev"]], pa.timestamp("us", tz="UTC"))
    # small row groups: DuckDB prunes them by min/max statistics, which leave NaN out
    pq.write_table(table.drop_columns(["__fs_ev"]).append_column("ts", ts), tmp_path / "src.parquet",
                   row_group_size=rng.choice([8, 64, 1 << 20]))
    exps = random_expectations(rng)
    view = view_over("src.parquet", exps)
    start = None if rng.random() < 0.3 else NOW - timedelta(hours=rng.randint(0, 7))
    end = None if rng.random() < 0.3 else NOW + timedelta(hours=rng.randint(-2, 4))
    rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    kept = [r for r in rows if r["id"] is not None and (start is None or r["__fs_ev"] >= epoch_us(start))
            and (end is None or r["__fs_ev"] <= epoch_us(end))]
    store = DuckDBOfflineStore(tmp_path)
    try:
        got = store.check_rows(view, start, end, exps, NOW)
        compare(got, reference(kept, exps, epoch_us(NOW)), exps)
        bad = store.bad_rows(view, start, end, exps, NOW).to_pylist()
        want = [r for r in kept if any(is_bad(e, r, epoch_us(NOW)) for e in exps if e.row_level)]
        key = lambda r: repr((r["id"], r["__fs_ev"], plain(r["i"]), plain(r["f"]), plain(r["s"])))  # noqa: E731
        assert sorted(map(key, bad)) == sorted(map(key, want))
        for r in bad:
            assert r["__fs_reason"] == "; ".join(e.label for e in exps if e.row_level and is_bad(e, r, epoch_us(NOW)))
    finally:
        store.close()

"""Every timestamp unit (s, ms, us, ns), naive and aware, as entity frames and as source columns.

Times are compared to the microsecond: an input in any unit must give exactly what the same
input floored to microseconds gives, checked against the brute-force reference on randomized
data (with sub-microsecond parts for ns, so flooring and ties at one microsecond are exercised).
DATE columns are midnight UTC.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureView, Field, ParquetSource
from featurestore.types import Float64
from tests.offline.reference import point_in_time

UNITS = ("s", "ms", "us", "ns")
NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
BASE_NS = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * 10**9
TTL = timedelta(seconds=40)
driver = Entity(name="driver", join_keys=["driver_id"])


def _ns_times(rng: random.Random, n: int, unit: str, base: int = BASE_NS) -> list[int | None]:
    """Epoch ns on a small grid (seconds, plus sub-second and sub-microsecond parts), exact in ``unit``."""
    out: list[int | None] = []
    for _ in range(n):
        ns = base + rng.randint(0, 90) * 10**9 + rng.choice([0, 0, 1, 999_999, 10**6, 1500, 500]) * 1000
        ns += rng.choice([0, 0, 1, 499, 999])  # below a microsecond
        out.append(None if rng.random() < 0.05 else ns // NS[unit] * NS[unit])
    return out


def _arrow_times(ns: list[int | None], unit: str, tz: str | None) -> pa.Array:
    raw = pa.array([None if v is None else v // NS[unit] for v in ns], pa.int64())
    return raw.cast(pa.timestamp(unit)).cast(pa.timestamp(unit, tz=tz)) if tz else raw.cast(pa.timestamp(unit))


def _us(ns: int | None) -> datetime | None:
    """What the microsecond-normalized input holds: floored to the microsecond, as UTC."""
    if ns is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def _view(created: bool = True) -> FeatureView:
    return FeatureView(name="s", entities=[driver], ttl=TTL, schema=[Field(name="v", dtype=Float64)],
                       source=ParquetSource(path="s.parquet", created_timestamp_field="created" if created else None))


def _source(tmp_path, rng: random.Random, unit: str = "us", tz: str | None = "UTC",  # type: ignore[no-untyped-def]
            base: int = BASE_NS):
    n = rng.randint(20, 60)
    ev = _ns_times(rng, n, unit, base)
    cr = [None if e is None or rng.random() < 0.2 else e + rng.choice([0, 0, 1, 1000, 10**9]) // NS[unit] * NS[unit]
          for e in ev]
    ids = [rng.randint(1, 4) for _ in range(n)]
    vals = [float(i) for i in range(n)]
    pq.write_table(pa.table({"driver_id": pa.array(ids, pa.int64()), "event_timestamp": _arrow_times(ev, unit, tz),
                             "created": _arrow_times(cr, unit, tz), "v": pa.array(vals)}), tmp_path / "s.parquet")
    return [{"driver_id": i, "event_timestamp": _us(e), "created": _us(c), "v": v}
            for i, e, c, v in zip(ids, ev, cr, vals, strict=True)]


def _entity_ns(rng: random.Random, unit: str, base: int = BASE_NS) -> tuple[list[int], list[int | None]]:
    n = rng.randint(20, 60)
    return [rng.randint(0, 5) for _ in range(n)], _ns_times(rng, n, unit, base)


def _as_input(table: pa.Table, kind: str, tmp_path):  # type: ignore[no-untyped-def]
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        return pl.from_arrow(table)
    if kind == "parquet":
        pq.write_table(table, tmp_path / "entity.parquet")
        return tmp_path / "entity.parquet"
    return table


def _check(store, data, ids, times, rows, as_of_created: bool) -> None:  # type: ignore[no-untyped-def]
    got = store.get_historical_features(data, ["s:v"], as_of_created=as_of_created).to_arrow()
    entities = [{"driver_id": i, "event_timestamp": t} for i, t in zip(ids, times, strict=True)]
    want = point_in_time(rows, ["driver_id"], ["v"], entities, ttl=TTL, as_of_created=as_of_created,
                         created_col="created")
    assert got.column("driver_id").to_pylist() == ids
    assert got.column("v").to_pylist() == [w["v"] for w in want]


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "parquet"])
@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
@pytest.mark.parametrize("unit", UNITS)
def test_entity_frame_timestamps_in_every_unit(make_store, tmp_path, unit: str, tz: str | None, kind: str) -> None:
    rng = random.Random(f"{unit}-{tz}-{kind}")
    rows = _source(tmp_path, rng)
    store = make_store()
    store.apply([driver, _view()])
    ids, ns = _entity_ns(rng, unit)
    table = pa.table({"driver_id": pa.array(ids, pa.int64()), "event_timestamp": _arrow_times(ns, unit, tz)})
    data = _as_input(table, kind, tmp_path)
    if kind == "pandas" and tz is not None and unit == "ns":
        assert str(data["event_timestamp"].dtype) == f"datetime64[ns, {tz}]"  # pandas' own tz-aware dtype
    _check(store, data, ids, [_us(v) for v in ns], rows, as_of_created=rng.random() < 0.5)


def test_pandas_default_tz_aware_column(make_store, tmp_path) -> None:
    """The frame pandas gives for parsed tz-aware strings (datetime64[ns, tz] in pandas 2.x)."""
    rng = random.Random(7)
    rows = _source(tmp_path, rng)
    store = make_store()
    store.apply([driver, _view()])
    frame = pd.DataFrame({"driver_id": [1, 2, 3], "event_timestamp": pd.to_datetime(
        ["2026-03-01 00:00:30.000000500+00:00", "2026-03-01 01:01:00+01:00", "2026-02-28 19:00:59-05:00"],
        format="ISO8601", utc=True).as_unit("ns").tz_convert("Europe/Paris")})
    times = [datetime(2026, 3, 1, 0, 0, 30, tzinfo=UTC), datetime(2026, 3, 1, 0, 1, tzinfo=UTC),
             datetime(2026, 3, 1, 0, 0, 59, tzinfo=UTC)]
    _check(store, frame, [1, 2, 3], times, rows, as_of_created=False)


@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Tokyo"])
@pytest.mark.parametrize("unit", UNITS)
def test_source_timestamps_in_every_unit(make_store, tmp_path, unit: str, tz: str | None) -> None:
    rng = random.Random(f"source-{unit}-{tz}")
    rows = _source(tmp_path, rng, unit, tz)
    store = make_store()
    store.apply([driver, _view()])
    ids, ns = _entity_ns(rng, "us")
    table = pa.table({"driver_id": pa.array(ids, pa.int64()), "event_timestamp": _arrow_times(ns, "us", "UTC")})
    for as_of_created in (False, True):
        _check(store, table, ids, [_us(v) for v in ns], rows, as_of_created)


@pytest.mark.parametrize("seed", range(4))
def test_times_around_and_before_1970(make_store, tmp_path, seed: int) -> None:
    """Negative epoch times: flooring, ttl and ties work the same way (the key packs times as integers)."""
    rng = random.Random(seed)
    base = -45 * 10**9
    rows = _source(tmp_path, rng, "ns", "UTC", base)
    store = make_store()
    store.apply([driver, _view()])
    ids, ns = _entity_ns(rng, "ns", base)
    table = pa.table({"driver_id": pa.array(ids, pa.int64()), "event_timestamp": _arrow_times(ns, "ns", None)})
    for as_of_created in (False, True):
        _check(store, table, ids, [_us(v) for v in ns], rows, as_of_created)


def test_date_columns_are_midnight_utc(make_store, tmp_path) -> None:
    rng = random.Random(3)
    days = [rng.randint(0, 6) for _ in range(30)]
    ids = [rng.randint(1, 3) for _ in range(30)]
    start = datetime(2026, 3, 1).date()
    pq.write_table(pa.table({"driver_id": pa.array(ids, pa.int64()),
                             "event_timestamp": pa.array([start + timedelta(days=d) for d in days], pa.date32()),
                             "created": pa.array([start] * 30, pa.date64()),
                             "v": pa.array([float(i) for i in range(30)])}), tmp_path / "s.parquet")
    rows = [{"driver_id": i, "event_timestamp": datetime(2026, 3, 1 + d, tzinfo=UTC),
             "created": datetime(2026, 3, 1, tzinfo=UTC), "v": float(k)}
            for k, (i, d) in enumerate(zip(ids, days, strict=True))]
    store = make_store()
    view = FeatureView(name="s", entities=[driver], ttl=timedelta(days=2), schema=[Field(name="v", dtype=Float64)],
                       source=ParquetSource(path="s.parquet", created_timestamp_field="created"))
    store.apply([driver, view])
    e_ids = [rng.randint(0, 4) for _ in range(40)]
    e_days = [rng.randint(-1, 8) for _ in range(40)]
    table = pa.table({"driver_id": pa.array(e_ids, pa.int64()),
                      "event_timestamp": pa.array([start + timedelta(days=d) for d in e_days], pa.date32())})
    entities = [{"driver_id": i, "event_timestamp": datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=d)}
                for i, d in zip(e_ids, e_days, strict=True)]
    want = point_in_time(rows, ["driver_id"], ["v"], entities, ttl=timedelta(days=2), created_col="created")
    for data in (table, table.to_pandas(), pl.from_arrow(table)):
        got = store.get_historical_features(data, ["s:v"]).to_arrow()
        assert got.column("v").to_pylist() == [w["v"] for w in want]


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("tz", [None, "Asia/Tokyo"])
def test_time_sql_is_integer_arithmetic_for_every_unit(unit: str, tz: str | None) -> None:
    """``utc_us`` floors to the microsecond without a per-row time-zone conversion (aware never cast to naive)."""
    import duckdb

    from featurestore.offline.duckdb.relations import utc_us
    from featurestore.offline.duckdb.store import arrow_time_type

    ns = [BASE_NS - 10**9 * 86400 * 365 * 60 + 1501, BASE_NS + 999, None]  # one before 1970: floor, not truncation
    table = pa.table({"t": _arrow_times([None if v is None else v // NS[unit] * NS[unit] for v in ns], unit, tz)})
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Kolkata'")  # the session zone must not matter
    con.register("t", table)
    described = con.sql("DESCRIBE t").fetchall()[0][1]
    assert arrow_time_type(table.schema.field("t").type) == described
    sql = utc_us('"t"', described)
    assert ("AS TIMESTAMP)" if tz else "AS TIMESTAMPTZ)") not in sql.upper()
    want = [None if v is None else v // NS[unit] * NS[unit] // 1000 for v in ns]
    assert [r[0] for r in con.sql(f"SELECT {sql} FROM t").fetchall()] == want

"""Randomized point-in-time joins checked against the brute-force reference.

Small time grids make ties, ttl boundaries (to the microsecond), duplicates and
out-of-window rows frequent; every seed builds a fresh repo with three views:
a single-key Parquet view with a ttl and created times, a two-key view with a
field_mapping and Tokyo-time timestamps, and a CSV view without ttl or created
column (ties broken by file position).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from featurestore import CsvSource, Entity, FeatureView, Field, ParquetSource
from featurestore.types import Float32, Float64, Int64, String
from tests.offline.reference import point_in_time

BASE = datetime(2026, 3, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")

driver = Entity(name="driver", join_keys=["driver_id"])
customer = Entity(name="customer", join_keys=["customer_id"])


def _time(rng: random.Random) -> datetime:
    return BASE + timedelta(minutes=rng.randint(0, 30)) + rng.choice([0, 0, 0, 1, -1]) * US


def _views(ttl_a: timedelta | None, ttl_b: timedelta | None) -> list[FeatureView]:
    a = FeatureView(
        name="a", entities=[driver], ttl=ttl_a,
        schema=[Field(name="x", dtype=Float64), Field(name="n", dtype=Int64), Field(name="s", dtype=String),
                Field(name="q", dtype=Float32)],
        source=ParquetSource(path="a.parquet", created_timestamp_field="created"),
    )
    b = FeatureView(
        name="b", entities=[driver, customer], ttl=ttl_b,
        schema=[Field(name="score", dtype=Float64)],
        source=ParquetSource(path="b.parquet", timestamp_field="ts",
                             field_mapping={"drv": "driver_id", "cust": "customer_id", "raw": "score"}),
    )
    c = FeatureView(
        name="c", entities=[customer], ttl=timedelta(0),
        schema=[Field(name="tier", dtype=String), Field(name="x", dtype=Int64)],
        source=CsvSource(path="c.csv"),
    )
    return [a, b, c]


def _write_sources(tmp_path, rng: random.Random):  # type: ignore[no-untyped-def]
    a_rows = []
    for _ in range(rng.randint(5, 60)):
        ev = _time(rng)
        created = rng.choice([None, ev, ev + timedelta(minutes=rng.randint(0, 3)), ev - US])
        a_rows.append({"driver_id": rng.randint(1, 5), "event_timestamp": ev, "created": created,
                       "x": rng.choice([None, rng.random()]), "n": rng.choice([None, rng.randint(-5, 5)]),
                       "s": rng.choice(["", "é", "z", None]), "q": rng.randint(-8, 8) / 4})
    for _ in range(rng.randint(0, 10)):  # exact duplicates and same-time rows with other values
        row = dict(rng.choice(a_rows))
        if rng.random() < 0.5:
            row["x"] = rng.random()
        a_rows.append(row)
    for _ in range(rng.randint(0, 3)):  # rows without an event time or a key never match
        a_rows.append({**rng.choice(a_rows), "event_timestamp": None, "x": -1.0})
        a_rows.append({**rng.choice(a_rows), "driver_id": None, "x": -2.0})
    rng.shuffle(a_rows)
    pq.write_table(pa.Table.from_pylist(a_rows, schema=pa.schema([
        ("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("created", pa.timestamp("us", tz="UTC")), ("x", pa.float64()), ("n", pa.int64()),
        ("s", pa.string()), ("q", pa.float32())])), tmp_path / "a.parquet")

    b_rows = [{"drv": rng.randint(1, 5), "cust": rng.choice(["c1", "c2", "c,3"]),
               "ts": _time(rng).astimezone(TOKYO), "raw": rng.random()} for _ in range(rng.randint(1, 40))]
    pq.write_table(pa.Table.from_pylist(b_rows, schema=pa.schema([
        ("drv", pa.int32()), ("cust", pa.string()), ("ts", pa.timestamp("us", tz="Asia/Tokyo")),
        ("raw", pa.float64())])), tmp_path / "b.parquet")

    c_rows = [{"customer_id": rng.choice(["c1", "c2", "c,3"]),
               "event_timestamp": BASE + timedelta(minutes=rng.randint(0, 30)),
               "tier": rng.choice(["gold", "silver"]), "x": rng.randint(0, 9)} for _ in range(rng.randint(1, 30))]
    pacsv.write_csv(pa.Table.from_pylist(c_rows, schema=pa.schema([
        ("customer_id", pa.string()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("tier", pa.string()), ("x", pa.int64())])), tmp_path / "c.csv")
    b_ref = [{"driver_id": r["drv"], "customer_id": r["cust"], "ts": r["ts"], "score": r["raw"]} for r in b_rows]
    return a_rows, b_ref, c_rows


def _entities(rng: random.Random, a_rows, ttl_a):  # type: ignore[no-untyped-def]
    rows = []
    for _ in range(rng.randint(1, 80)):
        t = _time(rng) + timedelta(minutes=rng.choice([0, 0, 5]))
        timed = [r for r in a_rows if r["event_timestamp"] is not None]
        if timed and ttl_a and rng.random() < 0.3:  # exactly on (or just past) a ttl boundary
            t = rng.choice(timed)["event_timestamp"] + ttl_a + rng.choice([0, 0, 1, -1]) * US
        rows.append({"driver_id": rng.choice([0, 1, 2, 3, 4, 5, 6, None]),
                     "customer_id": rng.choice(["c1", "c2", "c,3", "zz", None]),
                     "event_timestamp": None if rng.random() < 0.03 else t.astimezone(NEW_YORK),
                     "label": rng.randint(0, 1)})
    if rows:
        rows += [dict(r) for r in rng.sample(rows, min(5, len(rows)))]  # duplicate entity rows
    return rows


@pytest.mark.parametrize("seed", range(40))
def test_matches_reference(make_store, tmp_path, seed: int) -> None:
    rng = random.Random(seed)
    ttl_a = rng.choice([timedelta(minutes=5), timedelta(minutes=3, microseconds=1), None])
    ttl_b = rng.choice([timedelta(minutes=7), timedelta(0)])
    a_rows, b_rows, c_rows = _write_sources(tmp_path, rng)
    store = make_store()
    store.apply([driver, customer, *_views(ttl_a, ttl_b)])
    entities = _entities(rng, a_rows, ttl_a)
    as_of_created = rng.random() < 0.4
    entity_table = pa.Table.from_pylist(entities, schema=pa.schema([
        ("driver_id", pa.int64()), ("customer_id", pa.string()),
        ("event_timestamp", pa.timestamp("us", tz="America/New_York")), ("label", pa.int64())]))
    feats = ["a:x", "a:n", "a:s", "a:q", "b:score", "c:tier", "c:x"]
    got = store.get_historical_features(entity_table, feats, full_feature_names=True,
                                        as_of_created=as_of_created).to_arrow()

    exp_a = point_in_time(a_rows, ["driver_id"], ["x", "n", "s", "q"], entities, ttl=ttl_a,
                          as_of_created=as_of_created, created_col="created")
    exp_b = point_in_time(b_rows, ["driver_id", "customer_id"], ["score"], entities, ttl=ttl_b or None,
                          event_col="ts", as_of_created=as_of_created)
    exp_c = point_in_time(c_rows, ["customer_id"], ["tier", "x"], entities, as_of_created=as_of_created)
    assert got.column_names == ["driver_id", "customer_id", "event_timestamp", "label", "a__x", "a__n", "a__s",
                                "a__q", "b__score", "c__tier", "c__x"]
    assert got.select(["driver_id", "customer_id", "event_timestamp", "label"]).equals(entity_table)
    for i, row in enumerate(got.to_pylist()):
        want = {"a__x": exp_a[i]["x"], "a__n": exp_a[i]["n"], "a__s": exp_a[i]["s"], "a__q": exp_a[i]["q"],
                "b__score": exp_b[i]["score"], "c__tier": exp_c[i]["tier"], "c__x": exp_c[i]["x"]}
        assert {k: row[k] for k in want} == want, f"entity row {i}: {entities[i]}"

"""The ``as_of`` cutoff against a brute-force reference: only rows known at ``as_of`` are read (event time and, when
the source has one, created time at or before it), then the usual point-in-time rules apply."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from featurestore import (
    AggregateView,
    Aggregation,
    CsvSource,
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    InputError,
    ParquetSource,
)
from featurestore.types import Float64, Int64
from tests.aggregates.oracle import oracle
from tests.offline.reference import point_in_time

BASE = datetime(2026, 3, 1, tzinfo=UTC)
NOW = BASE + timedelta(days=2)
driver = Entity(name="driver", join_keys=["driver_id"])


def _t(rng: random.Random) -> datetime:
    return BASE + timedelta(minutes=rng.randint(0, 40))


def _known(row: dict[str, Any], as_of: datetime, created: str | None) -> bool:
    """Brute force of the cutoff: event time <= as_of, and created <= as_of when there is one."""
    if row["event_timestamp"] > as_of:
        return False
    return created is None or row.get(created) is None or row[created] <= as_of


@pytest.mark.parametrize("seed", range(12))
def test_as_of_matches_filtering_then_point_in_time(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    a_rows = [{"driver_id": rng.randint(1, 4), "event_timestamp": _t(rng), "x": rng.random(),
               "created": None if rng.random() < 0.2 else _t(rng) + timedelta(minutes=rng.randint(0, 30))}
              for _ in range(rng.randint(1, 60))]
    c_rows = [{"driver_id": rng.randint(1, 4), "event_timestamp": _t(rng), "n": rng.randint(0, 9)}
              for _ in range(rng.randint(1, 40))]
    pq.write_table(pa.Table.from_pylist(a_rows, pa.schema([("driver_id", pa.int64()),
                                                           ("event_timestamp", pa.timestamp("us", "UTC")),
                                                           ("x", pa.float64()),
                                                           ("created", pa.timestamp("us", "UTC"))])),
                   tmp_path / "a.parquet")
    pacsv.write_csv(pa.Table.from_pylist([{**r, "event_timestamp": r["event_timestamp"].isoformat()}
                                          for r in c_rows]), tmp_path / "c.csv")
    (tmp_path / "featurestore.yaml").write_text("project: asof\n")
    a = FeatureView(name="a", entities=[driver], schema=[Field(name="x", dtype=Float64)],
                    ttl=timedelta(minutes=rng.choice([10, 60])),
                    source=ParquetSource(path="a.parquet", created_timestamp_field="created"))
    c = FeatureView(name="c", entities=[driver], schema=[Field(name="n", dtype=Int64)], source=CsvSource(path="c.csv"))
    store = FeatureStore(tmp_path, clock=lambda: NOW)
    store.apply([driver, a, c])
    entity_rows = [{"driver_id": rng.randint(1, 5), "event_timestamp": _t(rng) + timedelta(minutes=20)}
                   for _ in range(30)]
    entities = pa.Table.from_pylist(entity_rows)
    for as_of in (_t(rng), _t(rng) + timedelta(minutes=30), BASE - timedelta(days=1)):
        got = store.get_historical_features(entities, ["a:x", "c:n"], as_of=as_of).to_arrow().to_pylist()
        want_a = point_in_time([r for r in a_rows if _known(r, as_of, "created")], ["driver_id"], ["x"], entity_rows,
                               ttl=a.ttl, created_col="created")
        want_c = point_in_time([r for r in c_rows if _known(r, as_of, None)], ["driver_id"], ["n"], entity_rows)
        assert [g["x"] for g in got] == [w["x"] for w in want_a], (seed, as_of)
        assert [g["n"] for g in got] == [w["n"] for w in want_c], (seed, as_of)


@pytest.mark.parametrize("seed", range(6))
def test_as_of_on_an_aggregate_view(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    us = lambda t: int((t - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)  # noqa: E731
    events = [{"driver_id": rng.randint(1, 3), "ts": _t(rng), "amount": float(rng.randint(1, 9)),
               "created": _t(rng) + timedelta(minutes=rng.randint(0, 30))} for _ in range(80)]
    pq.write_table(pa.Table.from_pylist(events), tmp_path / "e.parquet")
    (tmp_path / "featurestore.yaml").write_text("project: asof\n")
    source = ParquetSource(path="e.parquet", timestamp_field="ts", created_timestamp_field="created")
    view = AggregateView(name="agg", entities=[driver], source=source,
                         aggregations=[Aggregation(column="amount", function="sum", windows=["1h"])])
    store = FeatureStore(tmp_path, clock=lambda: NOW)
    store.apply([driver, view])
    spine = [{"driver_id": rng.randint(1, 3), "event_timestamp": _t(rng) + timedelta(minutes=10)} for _ in range(25)]
    as_of = _t(rng) + timedelta(minutes=15)
    got = store.get_historical_features(pa.Table.from_pylist(spine), ["agg:amount_sum_1h"], as_of=as_of)
    kept = [{"key": (e["driver_id"],), "ts": us(e["ts"]), "created": us(e["created"]), "ord": i, "amount": e["amount"]}
            for i, e in enumerate(events) if e["ts"] <= as_of and e["created"] <= as_of]
    want = oracle(kept, [((s["driver_id"],), us(s["event_timestamp"])) for s in spine], "sum", "amount",
                  window=3600 * 1_000_000)
    assert got.to_arrow().column("amount_sum_1h").to_pylist() == want


def test_future_cutoff_is_refused(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: asof\n")
    store = FeatureStore(tmp_path, clock=lambda: NOW)
    with pytest.raises(InputError, match="as_of 2026-03-04T00:00:00\\+00:00 is in the future"):
        store.get_historical_features(pa.table({"driver_id": [1], "event_timestamp": [BASE]}), ["a:x"],
                                      as_of="2026-03-04")
    with pytest.raises(InputError, match=r"as_of .soon. is not an ISO-8601 date or datetime"):
        store.get_historical_features(pa.table({"driver_id": [1], "event_timestamp": [BASE]}), ["a:x"],
                                      as_of="soon")

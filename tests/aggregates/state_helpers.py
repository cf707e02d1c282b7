"""Random events, an aggregate view over them, and its states/records built by the real code (DuckDB), for the
online state tests; the expected values come from the oracle."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import AggregateView, Aggregation, Entity, ParquetSource
from featurestore.definitions.field import Field
from featurestore.materialize.aggregates import encode_page
from featurestore.offline.duckdb.agg_inputs import input_sql
from featurestore.offline.duckdb.store import DuckDBOfflineStore
from featurestore.online.agg_state import encode_records
from featurestore.types import Float64, Int64, String
from featurestore.utc import from_epoch_us
from tests.aggregates.oracle import Event, oracle

MIN = 60_000_000
HOUR = 60 * MIN
BASE = 1_700_000_000_000_000 // HOUR * HOUR  # an hour boundary
ORD_PUSHED = 1 << 62

WHERES: dict[str | None, Callable[[Event], bool | None] | None] = {
    None: None,
    "status = 'declined'": lambda e: None if e["status"] is None else e["status"] == "declined",
    "qty >= 3": lambda e: None if e["qty"] is None else e["qty"] >= 3,
}

AGGREGATIONS = [
    Aggregation(function="count", windows=["30m", "1h", "3h"]),
    Aggregation(function="count"),
    Aggregation(column="amount", function="sum", windows=["1h", "5h"]),
    Aggregation(column="qty", function="sum", windows=["2h"]),
    Aggregation(column="qty", function="sum", name="qty_total"),
    Aggregation(column="amount", function="mean", windows=["3h"]),
    Aggregation(column="qty", function="mean", windows=["90m"]),
    Aggregation(column="amount", function="stddev", windows=["4h"]),
    Aggregation(column="amount", function="stddev", name="amount_sd_life"),
    Aggregation(column="qty", function="min", windows=["1h"]),
    Aggregation(column="amount", function="max", windows=["2h"]),
    Aggregation(column="merchant", function="count_distinct", windows=["3h"]),
    Aggregation(column="merchant", function="last", windows=["1h"]),
    Aggregation(column="merchant", function="first", windows=["2h"]),
    Aggregation(column="merchant", function="last"),
    Aggregation(column="merchant", function="first"),
    Aggregation(column="qty", function="first", windows=["6h"]),
    Aggregation(column="amount", function="last", windows=["5h"]),
    Aggregation(column="amount", function="sum", windows=["3h"], where="status = 'declined'", name="declined_3h"),
    Aggregation(function="count", windows=["1h"], where="qty >= 3", name="big_1h"),
]

SCHEMA = [Field(name="card", dtype=Int64), Field(name="amount", dtype=Float64), Field(name="qty", dtype=Int64),
          Field(name="merchant", dtype=String), Field(name="status", dtype=String)]


def make_view(path: str, resolution: str | None = None, horizon: str = "2h",
              aggregations: list[Aggregation] | None = None) -> AggregateView:
    return AggregateView(
        name="txn", entities=[Entity(name="card", join_keys=["card"])],
        source=ParquetSource(path=path, timestamp_field="ts", created_timestamp_field="created"),
        aggregations=aggregations or AGGREGATIONS, schema=SCHEMA, serving_horizon=horizon, resolution=resolution)


def random_row(rng: random.Random, key: int, ts: int, created: int) -> dict[str, Any]:
    """One event (column values with ~10 % null or NaN)."""
    amount: float | None = round(rng.uniform(-50, 500), 2)
    roll = rng.random()
    if roll < 0.07:
        amount = None
    elif roll < 0.12:
        amount = math.nan
    return {"card": key, "ts": ts, "created": created,
            "amount": amount, "qty": None if rng.random() < 0.1 else rng.randint(-2, 9),
            "merchant": None if rng.random() < 0.1 else rng.choice("abcdefg"),
            "status": None if rng.random() < 0.1 else rng.choice(["ok", "ok", "declined"])}


def random_events(rng: random.Random, n: int, snapshot: int, keys: int = 6, span: int = 8 * HOUR) -> list[Event]:
    """Events on a coarse grid (ties at window edges) around ``snapshot``: some after it, some created late."""
    grid = rng.choice([MIN, 5 * MIN, 10 * MIN])
    out = []
    for _ in range(n):
        ts = snapshot + rng.randint(-span // grid, span // (4 * grid)) * grid + rng.choice([0, 0, 0, 1, -1])
        late = rng.choice([0, 0, 0, 1, MIN, 30 * MIN, 3 * HOUR])
        out.append(random_row(rng, rng.randint(1, keys), ts, ts + late))
    return out


def write_events(path: Path, events: list[Event]) -> None:
    """The events as a Parquet file (timestamps as UTC TIMESTAMPs); each event gets its ``ord`` and ``key``."""
    for i, e in enumerate(events):
        e["ord"] = i  # file 0: the row number
        e["key"] = (e["card"],)
    table = pa.table({
        "card": pa.array([e["card"] for e in events], pa.int64()),
        "ts": pa.array([from_epoch_us(e["ts"]) for e in events], pa.timestamp("us", tz="UTC")),
        "created": pa.array([from_epoch_us(e["created"]) for e in events], pa.timestamp("us", tz="UTC")),
        "amount": pa.array([e["amount"] for e in events], pa.float64()),
        "qty": pa.array([e["qty"] for e in events], pa.int64()),
        "merchant": pa.array([e["merchant"] for e in events], pa.string()),
        "status": pa.array([e["status"] for e in events], pa.string()),
    })
    pq.write_table(table, path)


def states_at(offline: DuckDBOfflineStore, view: AggregateView, snapshot: int) -> dict[tuple[Any, ...], bytes]:
    """Per entity, the state bytes a materialize at ``snapshot`` writes."""
    out: dict[tuple[Any, ...], bytes] = {}
    for entities, tail in offline.aggregate_states(view, from_epoch_us(snapshot), page_entities=2):
        keys = entities.column("card").to_pylist()
        for k, state in zip(keys, encode_page(view, snapshot, entities, tail), strict=True):
            assert (k,) not in out
            out[(k,)] = state
    return out


def push_records(view: AggregateView, pushes: list[tuple[int, list[Event]]]
                 ) -> dict[tuple[Any, ...], list[tuple[int, bytes]]]:
    """Per entity, its records ``(created, bytes)`` in push order; each event gets its ``created``, ``ord`` and
    ``key`` (a push's rows share its created stamp; ordinal ``2**62 + index within the push``)."""
    con = duckdb.connect()
    out: dict[tuple[Any, ...], list[tuple[int, bytes]]] = {}
    cols = ", ".join(input_sql(view, inp) for inp in view.inputs)
    for created, rows in pushes:
        for i, e in enumerate(rows):
            e["created"], e["ord"], e["key"] = created, ORD_PUSHED + i, (e["card"],)
        pushed = pa.table({c: pa.array([e[c] for e in rows], t) for c, t in (
            ("amount", pa.float64()), ("qty", pa.int64()), ("merchant", pa.string()), ("status", pa.string()))})
        con.register("pushed", pushed)
        inputs = [tuple(r) for r in con.sql(f"SELECT {cols} FROM pushed").fetchall()]
        records = encode_records(view, [e["ts"] for e in rows], [created] * len(rows), inputs)
        for e, rec in zip(rows, records, strict=True):
            out.setdefault(e["key"], []).append((created, rec))
    return out


def expected(view: AggregateView, events: list[Event], key: tuple[Any, ...], now: int) -> list[Any]:
    """The oracle's value of every output of ``view`` for ``key`` at ``now`` (as_of_created=True)."""
    values = []
    for agg in view.aggregations:
        for window in agg.window_us:
            values.append(oracle(events, [(key, now)], agg.function, agg.column, window, WHERES[agg.where],
                                 view.resolution_us, as_of_created=True)[0])
    return values


def offline_store(path: Path) -> DuckDBOfflineStore:
    return DuckDBOfflineStore(path, threads=2)


__all__ = ["BASE", "HOUR", "MIN", "expected", "make_view", "push_records", "random_events", "states_at",
           "timedelta", "write_events"]

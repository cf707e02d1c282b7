"""write_to_online_store and push: validation first (a bad batch writes nothing), exact type round trips."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureView, Field, InputError, NotFoundError, ParquetSource, PushSource
from featurestore.online.lookup import OnlineReader
from featurestore.types import Array, Bool, Bytes, Float32, Float64, Int32, Int64, String, Timestamp

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
user = Entity(name="user", join_keys=["user_id"])
ALL = [Field(name="i32", dtype=Int32), Field(name="i64", dtype=Int64), Field(name="f32", dtype=Float32),
       Field(name="f64", dtype=Float64), Field(name="s", dtype=String), Field(name="b", dtype=Bool),
       Field(name="raw", dtype=Bytes), Field(name="ts", dtype=Timestamp), Field(name="arr", dtype=Array(Int64)),
       Field(name="farr", dtype=Array(Float64)), Field(name="sarr", dtype=Array(String))]
SCHEMA = pa.schema([("user_id", pa.string()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                    *[(f.name, f.dtype.to_arrow()) for f in ALL]])


def _setup(make_fs, tmp_path):  # type: ignore[no-untyped-def]
    pq.write_table(pa.Table.from_pylist([], schema=SCHEMA), tmp_path / "users.parquet")
    push = PushSource(name="users_push", batch_source=ParquetSource(path="users.parquet"))
    view = FeatureView(name="users", entities=[user], schema=ALL, source=push)
    store = make_fs()
    store.apply([user, view])
    return store


EXTREMES = [
    {"user_id": "a,b=c", "i32": -2**31, "i64": -2**63, "f32": -0.0, "f64": float("nan"), "s": "", "b": True,
     "raw": b"", "ts": datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "arr": [], "farr": [],
     "sarr": []},
    {"user_id": "ünï", "i32": 2**31 - 1, "i64": 2**63 - 1, "f32": 3.5, "f64": float("inf"), "s": "日本語 🚀",
     "b": False, "raw": b"\x00\xff\xfe", "ts": datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
     "arr": [-2**63, 0, None], "farr": [float("-inf"), 1.5], "sarr": ["", None, "x"]},
    {"user_id": "", "i32": None, "i64": None, "f32": None, "f64": None, "s": None, "b": None, "raw": None,
     "ts": None, "arr": None, "farr": None, "sarr": None},
]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return (a == b and type(a) is type(b)) or (a is None and b is None)


@pytest.mark.parametrize("kind", ["arrow", "polars"])  # pandas turns int64 nulls into floats: not exact
def test_every_type_round_trips_exactly(make_fs, tmp_path, kind: str) -> None:
    store = _setup(make_fs, tmp_path)
    table = pa.Table.from_pylist([{**r, "event_timestamp": T} for r in EXTREMES], schema=SCHEMA)
    data = {"arrow": table, "polars": pl.from_arrow(table)}[kind]
    assert store.write_to_online_store("users", data).written == 3
    got = OnlineReader(store.online).read(store.state(), [f"users:{f.name}" for f in ALL],
                                          {"user_id": [r["user_id"] for r in EXTREMES]}, now=T).to_dict()
    for i, row in enumerate(EXTREMES):
        for f in ALL:
            assert _same(row[f.name], got[f.name][i]), (f.name, row[f.name], got[f.name][i])


def _row(**kw: object) -> dict[str, object]:
    base = {"user_id": "u1", "event_timestamp": T, **{f.name: None for f in ALL}, "i64": 1}
    return {**base, **kw}


def test_push_targets_and_offline_pickup(make_fs, tmp_path) -> None:
    store = _setup(make_fs, tmp_path)
    ent = pa.table({"user_id": ["u1", "u2"], "event_timestamp": pa.array([T, T], pa.timestamp("us", tz="UTC"))})

    def offline() -> list:
        return store.get_historical_features(ent, ["users:i64"]).to_arrow().column("i64").to_pylist()

    def online() -> list:
        return OnlineReader(store.online).read(store.state(), ["users:i64"], {"user_id": ["u1", "u2"]},
                                               now=T).to_dict()["i64"]

    store.push("users_push", pd.DataFrame([_row(i64=1)]), to="online")
    assert online() == [1, None] and offline() == [None, None]
    store.push("users_push", pa.Table.from_pylist([_row(user_id="u2", i64=2)], schema=SCHEMA), to="offline")
    assert online() == [1, None] and offline() == [None, 2]
    store.push("users_push", pa.Table.from_pylist([_row(i64=3, event_timestamp=T - timedelta(hours=1))],
                                                  schema=SCHEMA), to="online_and_offline")
    assert online() == [1, None]  # older than what is online: not replaced
    assert offline() == [3, 2]
    pushed = list((tmp_path / "_push" / "users_push").glob("*.parquet"))
    assert len(pushed) == 2


@pytest.mark.parametrize(("rows", "match"), [
    ([{"user_id": "u1", "i64": 1}], "timestamp"),
    ([{"event_timestamp": T, "i64": 1}], "'user_id'"),
    ([{"user_id": "u1", "event_timestamp": T, "i64": "seven"}], "'i64'"),
    ([{"user_id": "u1", "event_timestamp": T, "i64": 1, "unknown": 2}], "'unknown'"),
])
def test_bad_push_batch_writes_nothing(make_fs, tmp_path, rows, match) -> None:
    store = _setup(make_fs, tmp_path)
    full = [{**{f.name: None for f in ALL}, **r} for r in rows]
    with pytest.raises(InputError, match=match):
        store.push("users_push", pd.DataFrame(full), to="online_and_offline")
    assert not (tmp_path / "_push").exists()
    got = OnlineReader(store.online).read(store.state(), ["users:i64"], {"user_id": ["u1"]}, now=T)
    assert got.statuses["i64"] == ["NOT_FOUND"]


def test_unknown_push_source_and_target(make_fs, tmp_path) -> None:
    store = _setup(make_fs, tmp_path)
    with pytest.raises(NotFoundError, match="'nope'"):
        store.push("nope", pd.DataFrame([_row()]))
    with pytest.raises(InputError, match="'sideways'"):
        store.push("users_push", pd.DataFrame([_row()]), to="sideways")
    with pytest.raises(NotFoundError, match="'nope'"):
        store.write_to_online_store("nope", pd.DataFrame([_row()]))


def test_a_future_row_is_reported_as_skipped_and_delete_online_unlocks_the_entity(make_fs, tmp_path) -> None:
    """Issue 10 item 4: rows the never-older rule keeps out are counted as skipped, not as written; deleting
    one entity of a view (or resetting the view) is the way out, narrower than teardown."""
    pq.write_table(pa.Table.from_pylist([], schema=SCHEMA), tmp_path / "users.parquet")
    push = PushSource(name="users_push", batch_source=ParquetSource(path="users.parquet"))
    view = FeatureView(name="users", entities=[user], schema=ALL, source=push)
    store = make_fs(max_future_event_seconds=None)  # the typo'd year gets in
    store.apply([user, view])
    typo = T.replace(year=2062)
    first = store.push("users_push", pa.Table.from_pylist([_row(i64=1, event_timestamp=typo),
                                                           _row(user_id="u2", i64=2)], schema=SCHEMA))
    assert (first.rows, first.written, first.skipped) == (2, 2, 0)
    assert [(w.view, w.rows, w.written, w.skipped) for w in first.online] == [("users", 2, 2, 0)]

    fixed = pa.Table.from_pylist([_row(i64=10), _row(user_id="u2", i64=20)], schema=SCHEMA)
    again = store.push("users_push", fixed, to="online_and_offline")
    assert (again.rows, again.written, again.skipped) == (2, 1, 1)  # u1: the 2062 row is newer and stays
    wrote = store.write_to_online_store("users", fixed)
    assert (wrote.view, wrote.rows, wrote.written, wrote.skipped) == ("users", 2, 1, 1)
    [run] = store.materialize(T - timedelta(days=1), T, ["users"])
    assert (run.rows, run.written, run.skipped) == (2, 1, 1)

    def online(keys: list[str]) -> list:
        return OnlineReader(store.online).read(store.state(), ["users:i64"], {"user_id": keys}, now=T).to_dict()["i64"]

    assert online(["u1", "u2"]) == [1, 20]
    assert store.delete_online("users", [{"user_id": "u1"}, {"user_id": "nobody"}]) == 1
    assert online(["u1", "u2"]) == [None, 20]  # u2 untouched
    assert store.write_to_online_store("users", fixed).written == 2
    assert online(["u1", "u2"]) == [10, 20]
    with pytest.raises(InputError, match="'user_id'"):
        store.delete_online("users", [{"user": "u1"}])
    with pytest.raises(NotFoundError, match="'nope'"):
        store.delete_online("nope", [{"user_id": "u1"}])

    assert "users" in store.watermarks()
    store.reset_online("users")
    assert online(["u1", "u2"]) == [None, None] and "users" not in store.watermarks()
    with pytest.raises(NotFoundError, match="'nope'"):
        store.reset_online("nope")

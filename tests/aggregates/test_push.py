"""Pushes to a push source feeding aggregate views: created stamps, the offline append whatever ``to``, the
records appended online, refusals naming the culprit with nothing written anywhere."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from featurestore import FeatureStore, InputError, OnlineStoreError, OnlineWrite
from server import create_app
from tests.aggregates.push_repo import (
    MINUTE,
    SCHEMA,
    TS,
    Clock,
    Repo,
    S,
    make_repo,
    rows,
    sqlite_online,
    us,
)

FEATURES = ["card_txn:count_1h", "card_txn:amount_sum_1d", "card_txn:merchant_id_last"]


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo", sqlite_online(tmp_path))


def pushed_files(repo: Repo) -> list[Path]:
    return sorted((repo.path / "data" / "_push" / "txn_push").glob("*.parquet"))


def offline_rows(repo: Repo) -> list[dict[str, Any]]:
    """The rows appended offline, in file then row order."""
    files = pushed_files(repo)
    if not files:
        return []
    listing = ", ".join(f"'{f}'" for f in files)
    rel = duckdb.sql(f"SELECT card_id, epoch_us(event_timestamp), epoch_us(created), amount FROM read_parquet("
                     f"[{listing}], union_by_name=true, filename=true, file_row_number=true) "
                     "ORDER BY filename, file_row_number")
    return [dict(zip(["card_id", "ts", "created", "amount"], r, strict=True)) for r in rel.fetchall()]


def replaced(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, values)


def some_rows(n: int = 5, seed: int = 0, at_us: int | None = None, cards: list[int] | None = None) -> pa.Table:
    rng = random.Random(seed)
    at = us(S) if at_us is None else at_us
    return rows(rng, cards or [1, 2, 3], [at - rng.randint(0, 120) * MINUTE for _ in range(n)])


def test_created_is_the_arrival_time_strictly_increasing_and_replaces_the_pushed_one(repo: Repo) -> None:
    clock = Clock(S)
    store = repo.store(clock)
    given = some_rows(3).append_column("created", pa.array([us(S) + 5 * 86_400_000_000] * 3, pa.int64()).cast(TS))
    store.push("txn_push", given, to="offline")
    store.push("txn_push", some_rows(2, seed=1), to="offline")  # the clock did not move: one µs later
    clock.at = S - timedelta(hours=1)  # the clock went back: still after the last stamp
    store.push("txn_push", some_rows(1, seed=2), to="offline")
    clock.at = S + timedelta(minutes=3)
    store.push("txn_push", some_rows(1, seed=3), to="offline")
    created = [r["created"] for r in offline_rows(repo)]
    assert created == [us(S)] * 3 + [us(S) + 1] * 2 + [us(S) + 2] + [us(S + timedelta(minutes=3))]
    assert len(pushed_files(repo)) == 4


def test_the_default_clock_stamps_strictly_increasing_in_the_process(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", sqlite_online(tmp_path))
    a, b = FeatureStore(repo.path), FeatureStore(repo.path)  # two stores, one process: one sequence of stamps
    at = us(a.clock())
    for i in range(6):
        (a if i % 2 else b).push("txn_push", some_rows(1, seed=i, at_us=at), to="offline")
    created = [r["created"] for r in offline_rows(repo)]
    assert created == sorted(set(created)) and len(created) == 6


@pytest.mark.parametrize("to", ["online", "online_and_offline", "offline"])
def test_rows_are_always_appended_offline_and_records_online_unless_offline(repo: Repo, to: str) -> None:
    clock = Clock(S)
    store = repo.store(clock)
    pushed = some_rows(4, cards=[7, 8])
    result = store.push("txn_push", pushed, to=to)
    assert result.rows == 4
    assert [r["ts"] for r in offline_rows(repo)] == [us(t) for t in pushed.column("event_timestamp").to_pylist()]
    clock.at = S + timedelta(seconds=1)  # the records were created at S: counted from S + 1 µs on
    answer = store.get_online_features(["card_txn:amount_count"], [{"card_id": 7}, {"card_id": 8}])
    counts = answer.to_dict()["amount_count"]
    if to == "offline":
        assert result.online == ()
        assert counts == [0, 0] and answer.statuses["amount_count"] == ["NOT_FOUND", "NOT_FOUND"]
    else:
        n = pushed.num_rows
        by_view = {w.view: w for w in result.online}
        assert by_view["card_txn"] == OnlineWrite("card_txn", n, n, 0)
        assert by_view["card_txn_5m"] == OnlineWrite("card_txn_5m", n, n, 0)
        assert by_view["card_last"].rows == n and set(by_view) == {"card_txn", "card_txn_5m", "card_last"}
        ok = pc.is_valid(pc.if_else(pc.is_nan(pushed.column("amount")), None,
                                                    pushed.column("amount")))
        ids = pushed.column("card_id").to_pylist()
        assert counts == [sum(1 for c, v in zip(ids, ok.to_pylist(), strict=True) if c == card and v)
                          for card in (7, 8)]


def test_records_count_from_their_arrival_not_their_event_time(repo: Repo) -> None:
    """A late event (long before the push) counts once the push arrived, and not at times before it."""
    clock = Clock(S + timedelta(minutes=30))
    store = repo.store(clock)
    late = replaced(rows(random.Random(1), [5], [us(S) - 20 * MINUTE]), "amount", pa.array([10.0]))
    store.push("txn_push", late)
    for at, expected in ((S + timedelta(minutes=30), 0), (S + timedelta(minutes=30, microseconds=1), 1)):
        clock.at = at
        assert store.get_online_features(["card_txn:count_1h"], [{"card_id": 5}]).to_dict()["count_1h"] == [expected]


def nothing_written(repo: Repo, store: FeatureStore) -> None:
    assert pushed_files(repo) == []
    answer = store.get_online_features(["card_txn:count_1d", "card_last:amount"], {"card_id": [1, 2, 3]})
    assert answer.statuses["count_1d"] == ["NOT_FOUND"] * 3 and answer.statuses["amount"] == ["NOT_FOUND"] * 3


BAD: list[tuple[str, Callable[[pa.Table], pa.Table], str, dict[str, Any]]] = [
    ("null join key", lambda t: replaced(t, "card_id", pa.array([1, None, 3, None, 2], pa.int64())),
     r"join key column 'card_id' is null at rows 1, 3", {"column": "card_id", "rows": [1, 3], "view": "card_txn"}),
    ("null event time", lambda t: replaced(t, "event_timestamp", pa.array([us(S)] * 4 + [None], pa.int64())
                                               .cast(TS)), r"event_timestamp.*null", {"column": "event_timestamp"}),
    ("future event", lambda t: replaced(t, "event_timestamp", pa.array([us(S)] * 4 + [us(S) + 3 * 86_400_000_000],
                                                                            pa.int64()).cast(TS)),
     r"event_timestamp.*2024-03-13 12:00:00.*at row 4.*max_future_event_seconds", {"column": "event_timestamp"}),
    ("missing aggregated column", lambda t: t.drop(["qty"]), r"missing column 'qty' \(aggregated column",
     {"column": "qty"}),
    ("missing event time", lambda t: t.drop(["event_timestamp"]), r"missing column 'event_timestamp'",
     {"column": "event_timestamp"}),
    ("value that does not cast", lambda t: replaced(t, "qty", pa.array(["1", "2", "x", "4", "5"])),
     r"'qty'.*'x'", {"column": "qty"}),
    ("unknown column", lambda t: t.append_column("oops", pa.array([1] * 5)), r"no column 'oops'", {"column": "oops"}),
]


@pytest.mark.parametrize(("what", "spoil", "message", "fields"), BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("to", ["online", "offline"])
def test_bad_rows_are_refused_naming_the_culprit_and_nothing_is_written(
        repo: Repo, what: str, spoil: Callable[[pa.Table], pa.Table], message: str, fields: dict[str, Any],
        to: str) -> None:
    store = repo.store(Clock(S))
    with pytest.raises(InputError, match=message) as err:
        store.push("txn_push", spoil(some_rows(5)), to=to)
    for name, value in fields.items():
        assert getattr(err.value, name) == value, (name, err.value)
    nothing_written(repo, store)


def test_a_where_that_cannot_be_computed_on_the_pushed_rows_is_refused_naming_the_view(tmp_path: Path) -> None:
    """The pushed rows go through the offline SQL: a ``where`` comparing a text column with a number fails
    in DuckDB on a pushed value, named, before anything is written."""
    repo = make_repo(tmp_path / "repo", sqlite_online(tmp_path))
    defs = repo.path / "cards.py"
    defs.write_text(defs.read_text().replace("where=\"status = 'declined'\"", "where=\"status::INTEGER > 2\""))
    store = repo.store(Clock(S))
    store.apply()
    pushed = replaced(some_rows(5), "status", pa.array(["1", "2", "3", "declined", None]))
    with pytest.raises(InputError, match=r"aggregate view 'card_txn'.*column 'amount' where 'status::INTEGER > 2' "
                                         r"cannot be computed.*declined") as err:
        store.push("txn_push", pushed)
    assert err.value.view == "card_txn" and err.value.column == "amount"
    nothing_written(repo, store)


def test_write_to_online_store_on_an_aggregate_view_is_refused(repo: Repo) -> None:
    store = repo.store(Clock(S))
    with pytest.raises(InputError, match=r"aggregate view 'card_txn'.*push its rows to its push source 'txn_push'"):
        store.write_to_online_store("card_txn", some_rows(2))
    with TestClient(create_app(store=repo.store(Clock(S)))) as client:
        r = client.post("/write-to-online-store", json={"feature_view_name": "card_txn",
                                                        "df": {"card_id": [1], "amount": [1.0]}})
        assert r.status_code == 400, r.text
        assert "push source 'txn_push'" in r.json()["detail"]
    nothing_written(repo, store)


def test_an_online_failure_after_the_offline_append_keeps_the_offline_rows_and_says_so(
        tmp_path: Path, redis_factory: Callable[..., Any]) -> None:
    server = redis_factory()
    repo = make_repo(tmp_path / "repo", {"type": "redis", "url": server.url})
    store = repo.store(Clock(S))
    server.stop()
    with pytest.raises(OnlineStoreError, match=r"the 5 pushed rows were appended offline, created "
                                               r"2024-03-10T12:00:00\+00:00: the next materialize reads them"):
        store.push("txn_push", some_rows(5))
    assert len(offline_rows(repo)) == 5


def test_push_over_http_reports_records_per_aggregate_view(repo: Repo) -> None:
    clock = Clock(S)
    with TestClient(create_app(store=repo.store(clock))) as client:
        r = client.post("/push", json={"push_source_name": "txn_push", "to": "online", "df": {
            "card_id": [1, 1], "event_timestamp": ["2024-03-10T11:30:00Z", "2024-03-10T11:45:00Z"],
            "amount": [5.0, "NaN"], "qty": [1, 2], "merchant_id": ["a", None], "status": ["ok", "declined"]}})
        assert r.status_code == 200, r.text
        views = {v["view"]: v for v in r.json()["views"]}
        assert views["card_txn"] == {"view": "card_txn", "rows": 2, "written": 2, "skipped": 0}
        assert views["card_txn_5m"]["written"] == 2
        clock.at = S + timedelta(seconds=1)
        r = client.post("/get-online-features", json={"features": ["card_txn:count_1h", "card_txn:amount_count"],
                                                      "entities": {"card_id": [1]}})
        assert r.status_code == 200, r.text
        assert [res["values"] for res in r.json()["results"][1:]] == [[2], [1]]
    assert len(offline_rows(repo)) == 2


def test_the_batch_schema_is_the_one_the_offline_rows_get(repo: Repo) -> None:
    """Pushed ints for a float column, a naive event time: appended in the source's types."""
    store = repo.store(Clock(S))
    pushed = pa.table({"card_id": pa.array([1], pa.int32()), "event_timestamp": pa.array([us(S) - MINUTE],
                                                                                          pa.int64()).cast(pa.timestamp("us")),
                       "amount": pa.array([3], pa.int64()), "qty": [1], "merchant_id": ["m"], "status": ["ok"]})
    store.push("txn_push", pushed, to="offline")
    schema = pq.read_schema(pushed_files(repo)[0])
    assert {f.name: f.type for f in schema} == {f.name: f.type for f in SCHEMA}

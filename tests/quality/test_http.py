"""Expectations over HTTP, on one real server (the example repo + a quarantining and a warning view): 422 with the
failures on /push, /write-to-online-store and /materialize, Redis and the push folder byte for byte as before;
quarantine and warn over /push; ``POST /monitoring/validate``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import FeatureStore
from featurestore.quality import outcomes, quarantine
from tests.server.conftest import Server, base_env, local_store, make_repo, redis_db, start_server

from .conftest import snapshot

MODULE = '''\
"""Views of the quality tests: one quarantining, one warning, each on its own push source."""

from datetime import timedelta

from featurestore import FeatureView, Field, ParquetSource, PushSource, expect
from featurestore.types import Float32, Int64

from driver_stats import driver


def _view(name, policy):
    return FeatureView(
        name=name, entities=[driver], ttl=timedelta(days=2),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="avg_daily_trips", dtype=Int64)],
        source=PushSource(name=f"{name}_push", batch_source=ParquetSource(
            path="data/driver_stats.parquet", timestamp_field="event_timestamp", created_timestamp_field="created")),
        expectations=[expect.between("conv_rate", 0, 1), expect.not_null("avg_daily_trips")], on_invalid=policy)


stats_q = _view("stats_q", "quarantine")
stats_w = _view("stats_w", "warn")
'''
REDIS_DB = 9


@pytest.fixture(scope="module")
def url(redis_url: str) -> str:
    return redis_db(redis_url, REDIS_DB)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, url: str) -> Iterator[Server]:
    repo = make_repo(tmp_path_factory.mktemp("quality") / "repo", url, modules={"quality_views.py": MODULE},
                     materialize=("driver_stats",))
    srv = start_server(repo, base_env(url))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def store(server: Server, url: str) -> Iterator[FeatureStore]:
    fs = local_store(server.repo, url)
    yield fs
    fs.close()


def frame(ids: list[int], conv: list[Any], trips: list[Any] | None = None, acc: bool = True) -> dict[str, list[Any]]:
    now = datetime.now(UTC) - timedelta(minutes=5)
    return {"driver_id": ids, "event_timestamp": [now.isoformat()] * len(ids),
            "created": [now.isoformat()] * len(ids), "conv_rate": conv,
            **({"acc_rate": [0.5] * len(ids)} if acc else {}), "avg_daily_trips": trips or [3] * len(ids)}


def refused(r: httpx.Response, view: str) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    body: dict[str, Any] = r.json()
    assert body["error"] == "ExpectationError" and body["fields"]["view"] == view
    assert "Traceback" not in r.text
    return body


def test_push_rejected_is_422_and_writes_nothing(server: Server, store: FeatureStore) -> None:
    before = snapshot(store)
    with server.client() as c:
        r = c.post("/push", json={"push_source_name": "driver_stats_push", "to": "online_and_offline",
                                  "df": frame([1001, 1002, 1003], [0.5, 1.7, 2.5])})
    body = refused(r, "driver_stats")
    assert body["fields"]["rows"] == 3
    [failure] = body["fields"]["failures"]
    assert failure["expectation"] == "between(conv_rate, 0, 1)" and failure["column"] == "conv_rate"
    assert failure["bad_rows"] == 2 and sorted(failure["examples"]) == pytest.approx([1.7, 2.5])
    assert "between(conv_rate, 0, 1): 2 bad rows in column 'conv_rate'" in body["detail"]
    assert snapshot(store) == before
    assert outcomes.counters(store.state_store)["driver_stats"]["rejected"]["batches"] >= 1


def test_write_to_online_store_rejected_is_422(server: Server, store: FeatureStore) -> None:
    before = snapshot(store)
    df = frame([1001], [None])
    del df["created"], df["acc_rate"]
    df["acc_rate"] = [0.5]
    with server.client() as c:
        r = c.post("/write-to-online-store", json={"feature_view_name": "driver_stats", "df": df})
    [failure] = refused(r, "driver_stats")["fields"]["failures"]
    assert (failure["expectation"], failure["bad_rows"], failure["examples"]) == ("not_null(conv_rate)", 1, [None])
    assert snapshot(store) == before


def test_materialize_rejected_is_422(server: Server, store: FeatureStore) -> None:
    folder = server.repo / "data" / "_push" / "driver_stats_push"
    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / "part-zz-bad.parquet"  # a bad row that reached the offline data before the checks existed
    schema = pq.read_schema(server.repo / "data" / "driver_stats.parquet")
    row = pq.read_table(server.repo / "data" / "driver_stats.parquet").slice(0, 1).to_pylist()[0]
    pq.write_table(pa.Table.from_pylist([{**row, "conv_rate": 9.0, "event_timestamp": datetime.now(UTC)}],
                                        schema=schema), bad)
    before, marks = snapshot(store), store.watermarks()
    try:
        with server.client() as c:
            r = c.post("/materialize", json={"start_ts": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                                             "end_ts": datetime.now(UTC).isoformat(),
                                             "feature_views": ["driver_stats"]})
            body = refused(r, "driver_stats")
            assert body["fields"]["failures"][0]["examples"] == [9.0]
            v = c.post("/monitoring/validate", json={"feature_view": "driver_stats"})
        assert v.status_code == 200 and v.json()["outcome"] == "rejected" and v.json()["bad_rows"] == 1
        assert snapshot(store) == before and store.watermarks() == marks
    finally:
        bad.unlink()


def test_quarantine_and_warn_over_http(server: Server, store: FeatureStore) -> None:
    with server.client() as c:
        q = c.post("/push", json={"push_source_name": "stats_q_push", "to": "online_and_offline",
                                  "df": frame([1001, 1002, 1003], [0.5, 1.5, 0.25], [1, 2, None], acc=False)})
        w = c.post("/push", json={"push_source_name": "stats_w_push",
                                  "df": frame([1001, 1002], [0.5, 1.5], acc=False)})
    assert q.status_code == 200 and q.json()["rows"] == 1, q.text
    assert w.status_code == 200 and w.json()["written"] == 2, w.text
    got = store.get_online_features(["stats_q:conv_rate", "stats_w:conv_rate"],
                                    [{"driver_id": i} for i in (1001, 1002, 1003)], full_feature_names=True)
    served = got.to_dict()
    assert served["stats_q__conv_rate"] == [0.5, None, None]  # the good row only
    assert served["stats_w__conv_rate"] == [0.5, 1.5, None]  # everything
    rows = quarantine.read(store.data_dir, "stats_q")
    assert rows is not None
    assert sorted(zip(rows.column("driver_id").to_pylist(), rows.column("__fs_reason").to_pylist(),
                      strict=True)) == [(1002, "between(conv_rate, 0, 1)"), (1003, "not_null(avg_daily_trips)")]
    pushed = pq.read_table(next((server.repo / "data" / "_push" / "stats_q_push").glob("*.parquet")))
    assert pushed.column("driver_id").to_pylist() == [1001]
    counted = outcomes.counters(store.state_store)
    assert counted["stats_q"]["quarantined"]["bad_rows"] == 2 and counted["stats_w"]["warned"]["rows"] == 2


def test_validate_endpoint(server: Server, store: FeatureStore) -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    with server.client() as c:
        r = c.post("/monitoring/validate", json={"feature_view": "stats_q", "end": end.isoformat()})
        missing = c.post("/monitoring/validate", json={"feature_view": "nope"})
        wrong = c.post("/monitoring/validate", json={"feature_view": "stats_q", "start": "yesterday"})
    assert r.status_code == 200, r.text
    mine = store.validate("stats_q", None, end).to_dict()
    assert {k: v for k, v in r.json().items() if k != "checked_at"} == \
        {k: v for k, v in mine.items() if k != "checked_at"}
    assert missing.status_code == 404 and wrong.status_code == 400


"""Lookups over HTTP against a real server: Feast's format and the native one equal the library's answer."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgpack
import pyarrow as pa
import pytest

from featurestore import FeatureStore
from tests.server.conftest import Server

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DRIVERS = [1001, 5, 1002, 1001, 1050]  # 5 is unknown; 1001 twice
STATS = ["driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:avg_daily_trips"]
REQUESTS: list[tuple[Any, dict[str, list[Any]], bool]] = [
    (STATS, {"driver_id": DRIVERS}, False),
    (["driver_stats:*"], {"driver_id": DRIVERS}, True),
    ("driver_activity", {"driver_id": DRIVERS}, False),
    ("trip_model", {"driver_id": [1001, 1002, 9], "customer_id": [2001, 1, 2020],
                    "zone_id": ["airport", "nowhere", "harbor"]}, False),
    ("trip_model", {"zone_id": ["airport", "nowhere", "harbor"], "customer_id": [2001, 1, 2020],
                    "driver_id": [1001, 1002, 9]}, True),
]


def from_json(value: Any) -> Any:
    """A JSON feature value back to Python (the server writes non-finite floats as strings)."""
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def when(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def body(features: Any, entities: dict[str, list[Any]], full: bool) -> dict[str, Any]:
    key = "feature_service" if isinstance(features, str) else "features"
    return {key: features, "entities": entities, "full_feature_names": full}


@pytest.mark.parametrize(("features", "entities", "full"), REQUESTS)
def test_feast_answer_equals_the_library(client: httpx.Client, store: FeatureStore, features: Any,
                                         entities: dict[str, list[Any]], full: bool) -> None:
    r = client.post("/get-online-features", json=body(features, entities, full))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    got = r.json()
    expected = store.get_online_features(features, entities, full_feature_names=full)
    names = list(expected.to_dict())
    assert got["metadata"]["feature_names"] == names
    assert len(got["results"]) == len(names)
    for name, result in zip(names, got["results"], strict=True):
        n = len(next(iter(entities.values())))
        if name in expected.keys:
            assert result == {"values": entities[name], "statuses": ["PRESENT"] * n,
                              "event_timestamps": ["1970-01-01T00:00:00Z"] * n}
            continue
        assert same(from_json(result["values"]), expected.features[name]), name
        assert result["statuses"] == expected.statuses[name]
        assert [when(t) for t in result["event_timestamps"]] == [t or EPOCH for t in
                                                                 expected.event_timestamps[name]]
    statuses = {s for r in got["results"] for s in r["statuses"]}
    assert "PRESENT" in statuses and "NOT_FOUND" in statuses


@pytest.mark.parametrize(("features", "entities", "full"), REQUESTS)
def test_native_answer_equals_the_library(client: httpx.Client, store: FeatureStore, features: Any,
                                          entities: dict[str, list[Any]], full: bool) -> None:
    rows = [dict(zip(entities, values, strict=True)) for values in zip(*entities.values(), strict=True)]
    expected = store.get_online_features(features, entities, full_feature_names=full)
    table = expected.to_dict()
    want_rows = [dict(zip(table, values, strict=True)) for values in zip(*table.values(), strict=True)]
    for sent in (rows, entities):  # row-wise or column-wise entities
        for orient in ("rows", "columns"):
            r = client.post("/v1/online", json={**body(features, {}, full), "entities": sent, "orient": orient,
                                                "event_timestamps": True})
            assert r.status_code == 200, r.text
            got = r.json()
            assert got["feature_names"] == list(table)
            if orient == "rows":
                assert len(got["rows"]) == len(want_rows)
                for g, w in zip(got["rows"], want_rows, strict=True):
                    assert list(g) == list(w) and all(same(from_json(g[k]), w[k]) for k in w)
            else:
                assert list(got["columns"]) == list(table)
                assert all(same(from_json(got["columns"][k]), v) for k, v in table.items())
            views = got["statuses"]
            assert views and set(views) == set(got["event_timestamps"])
            for name, values in expected.statuses.items():  # each feature's statuses are its view's
                view = next(v for v in views if views[v] == values)
                stamps = [None if t is None else when(t) for t in got["event_timestamps"][view]]
                assert stamps == expected.event_timestamps[name]


def test_native_msgpack_and_arrow(client: httpx.Client, store: FeatureStore) -> None:
    req = {"features": STATS, "entities": [{"driver_id": d} for d in DRIVERS]}
    expected = store.get_online_features(STATS, {"driver_id": DRIVERS})
    r = client.post("/v1/online", json={**req, "event_timestamps": True}, headers={"Accept": "application/msgpack"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/msgpack"
    got = msgpack.unpackb(r.content, timestamp=3)
    assert [row["conv_rate"] for row in got["rows"]] == expected.features["conv_rate"]
    assert got["statuses"] == {"driver_stats": expected.statuses["conv_rate"]}
    assert got["event_timestamps"] == {"driver_stats": expected.event_timestamps["conv_rate"]}

    r = client.post("/v1/online", json=req, headers={"Accept": "application/vnd.apache.arrow.stream"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(r.content).read_all()
    assert table.column_names == ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips", "status:driver_stats"]
    assert table.drop_columns(["status:driver_stats"]).equals(expected.to_arrow())
    assert table.column("status:driver_stats").to_pylist() == expected.statuses["conv_rate"]


def test_every_type_renders_like_protobuf_json(client: httpx.Client, store: FeatureStore) -> None:
    raw = b"\x00\xffbytes"
    df = {
        "item_id": ["nan-row", "plain", "nulls"],
        "blob_id": [base64.b64encode(b"\x01\x02").decode(), base64.b64encode(b"").decode(), None],
        "event_timestamp": ["2026-01-02T03:04:05.123456Z", "2026-01-02 03:04:05", "2026-01-02T03:04:05+02:00"],
        "created": [None, None, None],
        "i32": [-2**31, 7, None], "i64": [2**63 - 1, -1, None], "f32": ["NaN", 1.5, None],
        "f64": ["Infinity", "-Infinity", None], "s": ["é", "", None], "b": [True, False, None],
        "raw": [base64.b64encode(raw).decode(), "", None],
        "ts": ["2026-05-01T00:00:00Z", "1969-12-31T23:59:59.999999Z", None],
        "arr": [[1, None, -2**63], [], None], "farr": [["NaN", 1.25], [], None],
    }
    blob_rows = df["blob_id"][:2]
    df["blob_id"] = [blob_rows[0], blob_rows[1], blob_rows[0]]  # a push writes every view of its source
    r = client.post("/push", json={"push_source_name": "typed_push", "df": df, "to": "online"})
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 3, "written": 5, "skipped": 1, "views": [  # by_blob: blob_rows[0] twice
        {"view": "by_blob", "rows": 3, "written": 2, "skipped": 1},
        {"view": "typed", "rows": 3, "written": 3, "skipped": 0}]}
    feats = [f"typed:{f}" for f in ("i32", "i64", "f32", "f64", "s", "b", "raw", "ts", "arr", "farr")]
    ids = {"item_id": ["nan-row", "plain", "nulls", "absent"]}
    got = client.post("/get-online-features", json={"features": feats, "entities": ids}).json()
    by_name = dict(zip(got["metadata"]["feature_names"], got["results"], strict=True))
    assert by_name["f32"]["values"] == ["NaN", 1.5, None, None]
    assert by_name["f64"]["values"] == ["Infinity", "-Infinity", None, None]
    assert by_name["raw"]["values"] == [base64.b64encode(raw).decode(), "", None, None]
    assert by_name["ts"]["values"] == ["2026-05-01T00:00:00Z", "1969-12-31T23:59:59.999999Z", None, None]
    assert by_name["farr"]["values"] == [["NaN", 1.25], [], None, None]
    assert by_name["i64"]["values"] == [2**63 - 1, -1, None, None]
    assert by_name["f32"]["event_timestamps"] == ["2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:05Z",
                                                  "2026-01-02T01:04:05Z", "1970-01-01T00:00:00Z"]
    assert by_name["f32"]["statuses"] == ["PRESENT", "PRESENT", "PRESENT", "NOT_FOUND"]
    expected = store.get_online_features(feats, ids)
    for name, values in expected.features.items():
        rendered = by_name[name]["values"]
        if name == "raw":
            rendered = [None if v is None else base64.b64decode(v) for v in rendered]
        if name == "ts":
            rendered = [None if v is None else when(v) for v in rendered]
        assert same(from_json(rendered), values), name

    blob = client.post("/v1/online", json={"features": ["by_blob:f64"], "entities": [
        {"blob_id": blob_rows[0]}, {"blob_id": blob_rows[1]}, {"blob_id": base64.b64encode(b"zz").decode()}]})
    assert blob.status_code == 200, blob.text
    assert blob.json()["statuses"] == {"by_blob": ["PRESENT", "PRESENT", "NOT_FOUND"]}
    assert [row["blob_id"] for row in blob.json()["rows"]] == [blob_rows[0], blob_rows[1],
                                                               base64.b64encode(b"zz").decode()]
    bad = client.post("/v1/online", json={"features": ["by_blob:f64"], "entities": [{"blob_id": "not base64!"}]})
    assert bad.status_code == 400 and "blob_id" in bad.json()["detail"]


def test_write_to_online_store_then_lookup(client: httpx.Client) -> None:
    df = {"driver_id": [4242], "event_timestamp": [datetime.now(UTC).isoformat()], "conv_rate": [0.25],
          "acc_rate": [0.5], "avg_daily_trips": [12]}
    r = client.post("/write-to-online-store", json={"feature_view_name": "driver_stats", "df": df})
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 1, "written": 1, "skipped": 0}
    older = {**df, "event_timestamp": [(datetime.now(UTC) - timedelta(days=1)).isoformat()], "conv_rate": [0.99]}
    r = client.post("/write-to-online-store", json={"feature_view_name": "driver_stats", "df": older})
    assert r.json() == {"rows": 1, "written": 0, "skipped": 1}  # the stored row is newer: kept, and said so
    got = client.post("/v1/online", json={"features": STATS, "entities": [{"driver_id": 4242}]}).json()
    assert got["rows"] == [{"driver_id": 4242, "conv_rate": 0.25, "acc_rate": 0.5, "avg_daily_trips": 12}]
    assert got["statuses"] == {"driver_stats": ["PRESENT"]}


def test_push_offline_and_online(served: Server, client: httpx.Client) -> None:
    now = datetime.now(UTC)
    df = {"driver_id": [4343], "event_timestamp": [now.isoformat()], "created": [now.isoformat()],
          "conv_rate": [0.75], "acc_rate": [0.5], "avg_daily_trips": [3]}
    r = client.post("/push", json={"push_source_name": "driver_stats_push", "df": df, "to": "online_and_offline"})
    assert r.status_code == 200, r.text
    got = client.post("/v1/online", json={"features": ["driver_stats:conv_rate"],
                                          "entities": [{"driver_id": 4343}]}).json()
    assert got["rows"] == [{"driver_id": 4343, "conv_rate": 0.75}]
    assert list((served.repo / "data" / "_push" / "driver_stats_push").glob("*.parquet")), "no offline push file"

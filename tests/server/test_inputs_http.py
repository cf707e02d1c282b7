"""Entity rows and frames over HTTP: empty lookups answer empty; every missing join key, row without a key,
missing or unknown column is named in one 400; error bodies spell ``fields.kind`` one way."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pyarrow as pa
import pytest

from tests.server.conftest import ROOT

STATS = ["driver_stats:conv_rate", "driver_stats:avg_daily_trips"]
NOW = "2026-11-01T00:00:00Z"
ROW = {"driver_id": [1001], "event_timestamp": [NOW], "created": [NOW], "conv_rate": [0.5], "acc_rate": [0.5],
       "avg_daily_trips": [1]}


def bad(r: httpx.Response, *words: str) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    data: dict[str, Any] = r.json()
    for word in words:
        assert word in data["detail"], (word, data["detail"])
    assert data["error"] == "InputError"
    return data


@pytest.mark.parametrize("entities", [{}, {"driver_id": []}, {"driver_id": [], "customer_id": []}])
def test_empty_feast_lookup_answers_empty(client: httpx.Client, entities: dict[str, Any]) -> None:
    r = client.post("/get-online-features", json={"features": STATS, "entities": entities})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["metadata"]["feature_names"] == ["driver_id", "conv_rate", "avg_daily_trips"]
    assert [res["values"] for res in data["results"]] == [[], [], []]


@pytest.mark.parametrize("entities", [[], {}, {"driver_id": []}])
def test_empty_native_lookup_answers_empty_in_every_format(client: httpx.Client, entities: Any) -> None:
    payload = {"features": STATS, "entities": entities}
    r = client.post("/v1/online", json=payload)
    assert r.status_code == 200, r.text
    assert r.json() == {"feature_names": ["driver_id", "conv_rate", "avg_daily_trips"], "rows": [],
                        "statuses": {"driver_stats": []}}
    cols = client.post("/v1/online", json={**payload, "orient": "columns"}).json()["columns"]
    assert cols == {"driver_id": [], "conv_rate": [], "avg_daily_trips": []}
    packed = msgpack.unpackb(client.post("/v1/online", json=payload, headers={"Accept": "application/msgpack"}).content)
    assert packed["rows"] == [] and packed["feature_names"] == ["driver_id", "conv_rate", "avg_daily_trips"]
    arrow = client.post("/v1/online", json=payload, headers={"Accept": "application/vnd.apache.arrow.stream"})
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.num_rows == 0
    assert table.schema.names == ["driver_id", "conv_rate", "avg_daily_trips", "status:driver_stats"]
    assert table.schema.field("driver_id").type == pa.int64()


def test_a_row_without_a_join_key_names_the_row_and_the_key(client: httpx.Client) -> None:
    r = client.post("/v1/online", json={"features": [*STATS, "customer_profile:tier"],
                                        "entities": [{"driver_id": 1001, "customer_id": 2001}, {"customer_id": 2001},
                                                     {}, {"driver_id": None, "customer_id": 2002}]})
    data = bad(r, "row 1", "row 2", "row 3", "'driver_id'", "'customer_id'")
    assert "None" not in data["detail"]
    assert data["fields"]["rows"] == [1, 2, 3] and data["fields"]["columns"] == ["driver_id", "customer_id"]


def test_every_missing_join_key_is_named_at_once(client: httpx.Client) -> None:
    for path in ("/v1/online", "/get-online-features"):
        data = bad(client.post(path, json={"feature_service": "trip_model", "entities": {"driver_id": [1]}}),
                   "'customer_id'", "'zone_id'")
        assert data["fields"]["columns"] == ["customer_id", "zone_id"]


def test_push_and_write_name_every_missing_column_at_once(client: httpx.Client) -> None:
    df = {"driver_id": [1001], "conv_rate": [0.5]}
    for to in ("online", "offline", "online_and_offline"):
        data = bad(client.post("/push", json={"push_source_name": "driver_stats_push", "to": to, "df": df}),
                   "'event_timestamp'", "'acc_rate'", "'avg_daily_trips'")
        assert set(data["fields"]["columns"]) == {"event_timestamp", "acc_rate", "avg_daily_trips"}
    bad(client.post("/write-to-online-store", json={"feature_view_name": "driver_stats", "df": df}),
        "'event_timestamp'", "'acc_rate'", "'avg_daily_trips'")


@pytest.mark.parametrize("to", ["online", "offline", "online_and_offline"])
def test_push_refuses_unknown_columns_on_every_target(client: httpx.Client, to: str) -> None:
    df = {**ROW, "conv_rat": [0.1], "note": ["x"]}
    data = bad(client.post("/push", json={"push_source_name": "driver_stats_push", "to": to, "df": df}),
               "'conv_rat'", "'note'", "'driver_stats_push'", "'driver_stats'")
    assert data["fields"]["columns"] == ["conv_rat", "note"]


def test_write_refuses_unknown_columns(client: httpx.Client) -> None:
    df = {k: v for k, v in ROW.items() if k != "created"}
    bad(client.post("/write-to-online-store", json={"feature_view_name": "driver_stats",
                                                    "df": {**df, "conv_rat": [0.1]}}), "'conv_rat'", "'driver_stats'")


# --- one spelling of `kind` ---------------------------------------------------------------------------

KINDS = {"entity", "feature_view", "aggregate_view", "on_demand_feature_view", "feature_service", "feature",
         "push_source", "source", "join_key", "training_set", "registry_version"}
"""The values of ``NotFoundError.kind``: singular, snake_case (the registry kinds' labels and the rest)."""


@pytest.mark.parametrize(("path", "payload", "kind"), [
    ("/get-online-features", {"features": ["nope:conv_rate"], "entities": {"driver_id": [1]}}, "feature_view"),
    ("/get-online-features", {"features": ["driver_stats:nope"], "entities": {"driver_id": [1]}}, "feature"),
    ("/get-online-features", {"feature_service": "nope", "entities": {"driver_id": [1]}}, "feature_service"),
    ("/v1/online", {"feature_service": "nope", "entities": [{"driver_id": 1}]}, "feature_service"),
    ("/push", {"push_source_name": "nope", "df": {"driver_id": [1]}}, "push_source"),
    ("/write-to-online-store", {"feature_view_name": "nope", "df": {"driver_id": [1]}}, "feature_view"),
    ("/materialize", {"start_ts": "2026-01-01", "end_ts": "2026-01-02", "feature_views": ["nope"]}, "feature_view"),
])
def test_error_bodies_spell_kind_one_way(client: httpx.Client, path: str, payload: dict[str, Any],
                                         kind: str) -> None:
    r = client.post(path, json=payload)
    assert r.status_code == 404, r.text
    fields = r.json()["fields"]
    assert fields["kind"] == kind and "nope" in fields["name"], fields


def _kinds_in_source() -> list[tuple[str, str]]:
    """Every literal ``kind=`` given to an error in featurestore/ and server/ (file, value)."""
    found = []
    for folder in ("featurestore", "server"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith("Error"):
                    found += [(str(path.relative_to(ROOT)), kw.value.value) for kw in node.keywords
                              if kw.arg == "kind" and isinstance(kw.value, ast.Constant)]
    return found


def test_every_kind_in_the_source_is_spelt_the_one_way() -> None:
    found = _kinds_in_source()
    assert len(found) >= 6
    assert [(f, k) for f, k in found if k not in KINDS] == []
    from featurestore.definitions import kinds
    assert {k.label for k in kinds.KINDS} <= KINDS  # the registry's NotFoundError uses the labels
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`kind`: ((?:`\w+`(?:, | or )?)+)", readme)[0].replace("`", "").replace(
        " or ", ", ").split(", "))
    assert documented == KINDS


def test_the_registry_names_a_missing_object_with_the_same_kind(tmp_path: Path) -> None:
    from featurestore import NotFoundError
    from featurestore.registry.file import RegistryState

    state = RegistryState(project="p")
    for key, label in (("feature_views", "feature_view"), ("entities", "entity"),
                       ("feature_services", "feature_service")):
        with pytest.raises(NotFoundError) as err:
            state.get(key, "nope")
        assert err.value.fields == {"kind": label, "name": "nope"}

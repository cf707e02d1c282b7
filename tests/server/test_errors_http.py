"""Error answers of a real server: 404, 422, 400, 413; JSON bodies naming what is wrong, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

LOOKUP = {"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1001]}}


def check(r: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "Traceback" not in r.text
    data: dict[str, Any] = r.json()
    detail = str(data["detail"])
    for word in words:
        assert word in detail, (word, detail)
    return data


@pytest.mark.parametrize(("path", "payload", "words"), [
    ("/get-online-features", {**LOOKUP, "features": ["nope:conv_rate"]}, ["nope"]),
    ("/get-online-features", {**LOOKUP, "features": ["driver_stats:nope"]}, ["driver_stats", "nope"]),
    ("/get-online-features", {"feature_service": "no_service", "entities": {"driver_id": [1]}}, ["no_service"]),
    ("/v1/online", {"features": ["nope:x"], "entities": [{"driver_id": 1}]}, ["nope"]),
    ("/push", {"push_source_name": "no_push", "df": {"driver_id": [1]}}, ["no_push"]),
    ("/write-to-online-store", {"feature_view_name": "no_view", "df": {"driver_id": [1]}}, ["no_view"]),
    ("/materialize", {"start_ts": "2026-01-01", "end_ts": "2026-01-02", "feature_views": ["no_view"]},
     ["no_view"]),
])
def test_unknown_names_are_404(client: httpx.Client, path: str, payload: dict[str, Any], words: list[str]) -> None:
    data = check(client.post(path, json=payload), 404, *words)
    assert data["error"] == "NotFoundError"


@pytest.mark.parametrize(("path", "content"), [
    ("/get-online-features", b"not json"),
    ("/get-online-features", b""),
    ("/get-online-features", b'{"features": ["driver_stats:conv_rate"]}'),  # no entities
    ("/get-online-features", b'{"entities": {"driver_id": [1]}}'),  # neither features nor service
    ("/get-online-features", b'{"features": ["a:b"], "feature_service": "s", "entities": {"driver_id": [1]}}'),
    ("/get-online-features", b'{"features": "driver_stats:conv_rate", "entities": {"driver_id": [1]}}'),
    ("/get-online-features", b'{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": 1}}'),
    ("/get-online-features", b'[1, 2]'),
    ("/v1/online", b'{"features": ["driver_stats:conv_rate"], "entities": [1, 2]}'),
    ("/push", b'{"push_source_name": "driver_stats_push", "df": {"a": [1]}, "to": "elsewhere"}'),
    ("/push", b'{"df": {"a": [1]}}'),
    ("/write-to-online-store", b'{"feature_view_name": "driver_stats", "df": [1]}'),
    ("/materialize", b'{"start_ts": "2026-01-01"}'),
    ("/materialize-incremental", b'{}'),
])
def test_malformed_bodies_are_422(client: httpx.Client, path: str, content: bytes) -> None:
    data = check(client.post(path, content=content, headers={"Content-Type": "application/json"}), 422)
    assert isinstance(data["detail"], list) and data["detail"][0]["loc"][0] == "body"


NOW = "2026-11-01T00:00:00Z"


@pytest.mark.parametrize(("path", "payload", "words"), [
    ("/get-online-features", {**LOOKUP, "entities": {"customer_id": [1]}}, ["driver_id"]),
    ("/get-online-features", {**LOOKUP, "entities": {"driver_id": ["1001"]}}, ["driver_id", "Int64"]),
    ("/get-online-features", {**LOOKUP, "entities": {"driver_id": [1.5]}}, ["driver_id"]),
    ("/get-online-features", {**LOOKUP, "entities": {"driver_id": [1], "x": [1, 2]}}, ["length"]),
    ("/get-online-features", {**LOOKUP, "features": ["conv_rate"]}, ["view:feature"]),
    ("/v1/online", {"features": ["driver_stats:conv_rate"], "entities": [{"driver_id": 1}, {}]}, ["driver_id"]),
    ("/write-to-online-store", {"feature_view_name": "driver_stats", "df": {"driver_id": [1],
                                "event_timestamp": [NOW], "conv_rate": [0.5]}}, ["acc_rate"]),
    ("/write-to-online-store", {"feature_view_name": "driver_stats", "df": {"driver_id": [1],
                                "event_timestamp": ["yesterday"]}}, ["event_timestamp"]),
    ("/write-to-online-store", {"feature_view_name": "driver_stats", "df": {"driver_id": ["x"],
                                "event_timestamp": [NOW], "conv_rate": [0.5], "acc_rate": [0.5],
                                "avg_daily_trips": [1]}}, ["driver_id"]),
    ("/write-to-online-store", {"feature_view_name": "driver_stats", "df": {"driver_id": [1, 2],
                                "event_timestamp": [NOW]}}, ["df"]),
    ("/push", {"push_source_name": "driver_stats_push", "df": {"driver_id": [2**70], "event_timestamp": [NOW]}},
     ["df"]),
    ("/push", {"push_source_name": "typed_push", "df": {"item_id": ["a"], "event_timestamp": [NOW],
                                                        "raw": ["%%%"]}}, ["raw"]),
    ("/materialize", {"start_ts": "not a date", "end_ts": NOW}, ["start_ts"]),
    ("/materialize-incremental", {"end_ts": "2026-13-45"}, ["end_ts"]),
])
def test_bad_input_is_400_naming_it(client: httpx.Client, path: str, payload: dict[str, Any],
                                    words: list[str]) -> None:
    check(client.post(path, json=payload), 400, *words)


def test_too_many_entities_is_413(client: httpx.Client) -> None:
    ids = list(range(101))  # the server's max_entities is 100
    check(client.post("/get-online-features", json={**LOOKUP, "entities": {"driver_id": ids}}), 413, "100")
    check(client.post("/v1/online", json={**LOOKUP, "entities": [{"driver_id": i} for i in ids]}), 413,
          "max_entities")
    assert client.post("/get-online-features", json={**LOOKUP, "entities": {"driver_id": ids[:100]}}).is_success


def test_body_over_the_limit_is_413_by_content_length(client: httpx.Client) -> None:
    big = b'{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [' + b"1," * 40_000 + b'1]}}'
    check(client.post("/get-online-features", content=big), 413, "65536")
    check(client.post("/push", content=big), 413, "max_body_bytes")
    assert client.get("/health").status_code == 200  # the connection and the server are fine


def test_body_over_the_limit_is_413_when_streamed(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": ['
        for _ in range(100):
            yield b"1," * 500
        yield b"1]}}"

    r = client.post("/get-online-features", content=chunks())
    assert "content-length" not in r.request.headers
    check(r, 413, "max_body_bytes")

    def small() -> Iterator[bytes]:
        yield b'{"features": ["driver_stats:conv_rate"], '
        yield b'"entities": {"driver_id": [1001]}}'

    assert client.post("/get-online-features", content=small()).status_code == 200


def test_unknown_path_and_method(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/get-online-features").status_code == 405

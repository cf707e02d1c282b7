"""API keys on a real server (keys from FEATURESTORE_READ_API_KEYS / FEATURESTORE_WRITE_API_KEYS)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.conftest import Server, base_env, start_server

READ, READ2, WRITE = "read-key-1", "read-key-2", "write-key-3"
LOOKUP = {"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1001]}}
PUSH = {"push_source_name": "driver_stats_push", "df": {"driver_id": [1001]}}  # 400 once authorized


@pytest.fixture(scope="module")
def secured(served: Server, server_redis_url: str) -> Iterator[Server]:
    """A second server on the main server's repo, with keys."""
    env = base_env(server_redis_url, FEATURESTORE_READ_API_KEYS=f"{READ}, {READ2}",
                   FEATURESTORE_WRITE_API_KEYS=WRITE)
    server = start_server(served.repo, env)
    yield server
    server.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_public_paths_need_no_key(secured: Server) -> None:
    with secured.client() as c:
        for path in ("/health", "/ready", "/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js"):
            assert c.get(path).status_code == 200, path
        spec = c.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["apiKey"] == {"type": "http", "scheme": "bearer"}


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": READ}, {"Authorization": f"Basic {READ}"},
                                     {"Authorization": "Bearer"}])
def test_no_or_unknown_key_is_401(secured: Server, headers: dict[str, str]) -> None:
    with secured.client(headers=headers) as c:
        for method, path, body in (("POST", "/get-online-features", LOOKUP), ("POST", "/v1/online", LOOKUP),
                                   ("GET", "/features", None), ("GET", "/metrics", None),
                                   ("POST", "/push", PUSH), ("POST", "/materialize-incremental", {})):
            r = c.request(method, path, json=body)
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert "key" in r.json()["detail"]


def test_read_keys_read_and_write_keys_write(secured: Server) -> None:
    for key in (READ, READ2, WRITE):
        with secured.client(headers=bearer(key)) as c:
            assert c.post("/get-online-features", json=LOOKUP).status_code == 200
            assert c.post("/v1/online", json=LOOKUP).status_code == 200
            assert c.get("/features").status_code == 200
            assert c.get("/metrics").status_code == 200
    for key in (READ, READ2):
        with secured.client(headers=bearer(key)) as c:
            for path, body in (("/push", PUSH), ("/write-to-online-store", {"feature_view_name": "driver_stats",
                                                                            "df": {}}),
                               ("/materialize", {"start_ts": "2026-01-01", "end_ts": "2026-01-02"}),
                               ("/materialize-incremental", {"end_ts": "2026-01-02"})):
                r = c.post(path, json=body)
                assert r.status_code == 403, (path, r.text)
                assert "write" in r.json()["detail"]
    with secured.client(headers=bearer(WRITE)) as c:
        r = c.post("/push", json=PUSH)  # authorized: the body's own problem now
        assert r.status_code == 400, r.text


def test_main_server_has_no_auth(client: httpx.Client) -> None:
    assert client.get("/features").status_code == 200


MONITORING = (("GET", "/monitoring/freshness", None),
              ("POST", "/monitoring/validate", {"feature_view": "driver_stats"}),
              ("POST", "/monitoring/profile", {"what": "driver_stats"}),
              ("POST", "/monitoring/drift", {"what": "driver_stats", "reference": [None, None],
                                             "current": [None, None], "min_rows": 1}),
              ("POST", "/monitoring/consistency", {"service": "driver_activity"}))


def test_monitoring_endpoints_take_a_read_key(secured: Server) -> None:
    with secured.client() as c:
        for method, path, body in MONITORING:
            assert c.request(method, path, json=body).status_code == 401, path
    for key in (READ, WRITE):
        with secured.client(headers=bearer(key)) as c:
            for method, path, body in MONITORING:
                r = c.request(method, path, json=body)
                assert r.status_code == 200, (key, path, r.text)

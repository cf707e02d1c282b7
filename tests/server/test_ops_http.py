"""Operations endpoints of a real server: health, ready, metrics, the catalog, the docs; materialization."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from featurestore import FeatureStore
from tests.server.conftest import Server, base_env, make_repo, run_cli, start_server


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if m and m.group(1) == name and ",".join(sorted((m.group(2) or "").split(","))).strip(",") == want:
            return float(m.group(3))
    return 0.0


def test_health_and_ready(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 200 and r.json()["status"] == "ready" and r.json()["registry_version"] >= 1


def test_metrics_move_with_requests(client: httpx.Client) -> None:
    before = client.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    body = {"features": ["driver_stats:conv_rate", "customer_profile:tier"],
            "entities": {"driver_id": [1001, 7, 8], "customer_id": [2001, 2002, 1]}}
    for _ in range(3):
        assert client.post("/get-online-features", json=body).status_code == 200
    assert client.post("/get-online-features", json={**body, "features": ["nope:x"]}).status_code == 404
    after = client.get("/metrics").text
    old = before.text
    req = {"endpoint": "/get-online-features", "method": "POST"}
    for status, n in (("200", 3), ("404", 1)):
        name = "featurestore_http_requests_total"
        assert sample(after, name, **req, status=status) - sample(old, name, **req, status=status) == n
        name = "featurestore_http_request_duration_seconds_count"
        assert sample(after, name, **req, status=status) - sample(old, name, **req, status=status) == n
    bucket = sample(after, "featurestore_http_request_duration_seconds_bucket", **req, status="200", le="+Inf")
    assert bucket >= 3
    for view, looked, missing in (("driver_stats", 9, 6), ("customer_profile", 9, 3)):
        for name, n in (("featurestore_online_lookups_total", looked),
                        ("featurestore_online_not_found_total", missing)):
            assert sample(after, name, view=view) - sample(old, name, view=view) == n, (name, view)
        assert f'featurestore_online_outside_max_age_total{{view="{view}"}}' in after
    assert sample(after, "featurestore_registry_version") >= 1
    assert sample(after, "featurestore_materialization_rows_total", view="driver_stats") >= 50
    assert sample(after, "featurestore_materialization_last_success_timestamp_seconds", view="driver_stats") > 0
    assert sample(after, "featurestore_materialization_watermark_timestamp_seconds", view="driver_stats") > 0
    assert "featurestore_materialization_last_rows" in after


def test_catalog(client: httpx.Client, store: FeatureStore) -> None:
    cat = client.get("/features").json()
    assert cat["project"] == "driver_ranking"
    assert {e["name"] for e in cat["entities"]} >= {"driver", "customer"}
    views = {v["name"]: v for v in cat["feature_views"]}
    stats = views["driver_stats"]
    assert stats["join_keys"] == [{"name": "driver_id", "type": "Int64"}]
    assert stats["features"] == [{"name": "conv_rate", "type": "Float32"}, {"name": "acc_rate", "type": "Float32"},
                                 {"name": "avg_daily_trips", "type": "Int64"}]
    assert stats["ttl_seconds"] == 2 * 86400
    assert stats["owner"] == "ml-platform@example.com" and stats["tags"] == {"team": "pricing"}
    mark = store.watermarks()["driver_stats"]
    assert stats["materialization"]["watermark"] == mark["watermark"]
    assert stats["materialization"]["total_rows"] >= 50
    assert views["typed"]["join_keys"] == [{"name": "item_id", "type": "String"}]
    assert {"name": "farr", "type": "Array(Float64)"} in views["typed"]["features"]
    services = {s["name"]: s for s in cat["feature_services"]}
    assert services["trip_model"]["features"] == store.get_feature_service("trip_model").refs()
    assert services["trip_model"]["features"][:2] == ["driver_stats:conv_rate", "driver_stats:avg_daily_trips"]
    assert services["trip_model"]["description"] == "Features of the trip-completion model"


def test_docs_and_openapi(client: httpx.Client) -> None:
    assert "swagger" in client.get("/docs").text.lower()
    for page in ("/docs", "/redoc"):  # served from local assets: they render without internet access
        html = client.get(page).text
        urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html)
        assert urls, page
        assert not [u for u in urls if "//" in u], (page, urls)  # no CDN, no other host
        for url in urls:
            if url.startswith("/docs-assets/"):
                r = client.get(url)
                assert r.status_code == 200 and len(r.content) > 1000, url
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/get-online-features", "/v1/online", "/push", "/write-to-online-store", "/materialize",
                 "/materialize-incremental", "/features", "/health", "/ready", "/metrics"):
        assert path in paths, path
    schema = paths["/get-online-features"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"features", "feature_service", "entities", "full_feature_names"} <= set(schema["properties"])


def test_materialize_endpoints(client: httpx.Client) -> None:
    end = datetime.now(UTC)
    r = client.post("/materialize", json={"start_ts": (end - timedelta(days=3)).isoformat(),
                                          "end_ts": end.isoformat(), "feature_views": ["driver_stats"]})
    assert r.status_code == 200, r.text
    [run] = r.json()["views"]
    assert run["view"] == "driver_stats" and run["rows"] >= 50  # plus rows pushed offline by other tests
    r = client.post("/materialize-incremental", json={"end_ts": (end + timedelta(seconds=1)).isoformat()})
    assert r.status_code == 200, r.text
    assert {v["view"] for v in r.json()["views"]} >= {"driver_stats", "customer_profile"}
    cat = client.get("/features").json()
    stats = next(v for v in cat["feature_views"] if v["name"] == "driver_stats")
    assert datetime.fromisoformat(stats["materialization"]["watermark"]) >= end


def test_metrics_add_up_across_workers(served: Server, server_redis_url: str) -> None:
    server = start_server(served.repo, base_env(server_redis_url), 60.0, "--workers", "2")
    try:
        for _ in range(12):  # a new connection each time: the kernel spreads them over the workers
            assert httpx.post(f"{server.url}/v1/online", json={"features": ["driver_stats:conv_rate"],
                                                               "entities": [{"driver_id": 1001}]}).status_code == 200
        texts = [httpx.get(f"{server.url}/metrics").text for _ in range(4)]  # whichever worker answers
        text = texts[-1]
        assert all(sample(t, "featurestore_online_lookups_total", view="driver_stats") == 12 for t in texts)
        req = {"endpoint": "/v1/online", "method": "POST", "status": "200"}
        assert sample(text, "featurestore_http_requests_total", **req) == 12
        assert sample(text, "featurestore_online_lookups_total", view="driver_stats") == 12
    finally:
        server.stop()


def test_ready_is_503_naming_an_on_demand_view_whose_code_differs_from_the_applied_code(
        tmp_path: Path, server_redis_url: str) -> None:
    env = base_env(server_redis_url)
    repo = make_repo(tmp_path / "repo", server_redis_url, materialize=(), project="odfv_ready")
    pricing = repo / "trip_pricing.py"
    pricing.write_text(pricing.read_text().replace("/ 30.0 * 60.0", "/ 40.0 * 60.0"))  # edited after apply
    server = start_server(repo, env)
    try:
        client = server.client()
        r = client.get("/ready")
        assert r.status_code == 503 and r.json()["code_mismatches"] == ["eta"], r.text
        assert any(x.startswith("code: on-demand feature view 'eta': its code differs") for x in r.json()["reasons"])
        assert client.get("/health").status_code == 200
        run_cli(repo, env, "apply")  # the edit applied: the server's next snapshot matches its code
        deadline = time.monotonic() + 60
        while (r := client.get("/ready")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.status_code == 200 and "code_mismatches" not in r.json(), r.text
    finally:
        server.stop()

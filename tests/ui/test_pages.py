"""Every page of the web UI and its JSON, over the ASGI client, on the example repo."""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from featurestore import FeatureStore

from .conftest import TRAINING_SET
from .links import internal, parse

PAGES: list[tuple[str, list[str]]] = [
    ("/ui", ["Overview", "driver_ranking", "Views past their max_staleness", "Failing expectations",
             "Drift alerts", "Latest materializations", "rejected"]),
    ("/ui/views", ["driver_stats", "fare", "eta", "trip_stats", "aggregate view", "on-demand view"]),
    ("/ui/views?kind=aggregate_view", ["card_txn"]),
    ("/ui/views/driver_stats", ["driver_stats", "conv_rate", "Float32", "avg_daily_trips", "Int64",
                                "data/driver_stats.parquet", "driver_stats_push", "ml-platform@example.com",
                                "team=pricing", "2d", "between(conv_rate, 0, 1)", "reject", "max_staleness",
                                "Compute statistics", "get_historical_features", "get_online_features",
                                "/get-online-features", "driver_activity"]),
    ("/ui/views/card_txn", ["aggregate view", "Windows", "Serving horizon", "exist only after aggregation"]),
    ("/ui/views/fare", ["on-demand view", "Code", "request", "distance_km"]),
    ("/ui/entities", ["driver", "driver_id", "customer"]),
    ("/ui/entities/driver", ["driver_id", "A ride-hailing driver, rated by riders", "driver_stats"]),
    ("/ui/services", ["driver_activity", "trip_model"]),
    ("/ui/services/driver_activity", ["driver_stats", "sample rate", TRAINING_SET, "feature_service"]),
    ("/ui/sources", ["driver_stats_push", "push source", "parquet"]),
    ("/ui/sources/driver_stats_push", ["driver_stats", "Batch source"]),
    ("/ui/lineage/driver_activity", ["Lineage of", "driver_stats", "driver_stats_push", TRAINING_SET]),
    ("/ui/lineage/driver_stats?kind=feature_view", ["driver_activity", "driver_stats.parquet"]),
    ("/ui/training-sets", [TRAINING_SET, "driver_activity"]),
    (f"/ui/training-sets/{TRAINING_SET}", ["v1", "driver_activity"]),
    (f"/ui/training-sets/{TRAINING_SET}/v1", ["Content hash", "Re-creation", "Not checked", "Source files",
                                              "conv_rate"]),
    ("/ui/history", ["Registry history", "entity driver", "feature_view driver_stats"]),
    ("/ui/history/2", ["Registry version 2", "description", "A ride-hailing driver, rated by riders"]),
    ("/ui/history/1", ["The first version"]),
    ("/ui/search?q=conv_rate", ["driver_stats", "conv_rate"]),
]


@pytest.mark.parametrize(("path", "texts"), PAGES, ids=[p for p, _ in PAGES])
def test_page_and_its_json(client: TestClient, path: str, texts: list[str]) -> None:
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    for text in texts:
        assert text in r.text, f"{path} lacks {text!r}"
    parts = parse(r.text)
    assert parts.h1 == 1 and parts.lang == "en" and parts.scripts_inline == 0
    assert len(parts.ids) == len(set(parts.ids)), f"{path}: duplicate ids"
    for tag, ident, kind in parts.controls:
        assert kind == "hidden" or (ident and ident in parts.label_for), f"{path}: {tag}#{ident} has no label"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert float(r.headers["server-timing"].split("dur=")[1]) >= 0
    j = client.get(path.replace("/ui", "/ui/api", 1))
    assert j.status_code == 200 and j.headers["content-type"] == "application/json"
    assert isinstance(j.json(), dict)


def test_json_content(client: TestClient, example_store: FeatureStore) -> None:
    state = example_store.state()
    over = client.get("/ui/api").json()
    assert over["registry_version"] == state.version == 2
    assert over["counts"]["feature_views"] == len(state.feature_views())
    assert over["counts"]["aggregate_views"] == len(state.aggregate_views())
    assert over["counts"]["on_demand_feature_views"] == len(state.on_demand_feature_views())
    assert over["counts"]["entities"] == len(state.entities())
    assert over["counts"]["feature_services"] == len(state.feature_services())
    assert over["counts"]["training_sets"] == 1
    assert [f["view"] for f in over["failing_expectations"]] == ["driver_stats"]
    assert {m["view"] for m in over["materializations"]} == set(example_store.watermarks())
    fresh = example_store.freshness()
    assert {s["view"] for s in over["stale_views"]} == {n for n, f in fresh.items() if f.stale}

    views = client.get("/ui/api/views").json()["views"]
    names = {v["name"] for v in views}
    assert names == {v.name for v in (*state.feature_views(), *state.aggregate_views(),
                                      *state.on_demand_feature_views())}
    view = client.get("/ui/api/views/driver_stats").json()
    fv = state.feature_view("driver_stats")
    assert [(f["name"], f["type"]) for f in view["features"]] == [(f.name, f.dtype.name) for f in fv.features]
    assert view["ttl_seconds"] == fv.ttl.total_seconds() if fv.ttl else None
    assert view["join_keys"] == [{"name": "driver_id", "type": "Int64"}]
    assert view["validation"]["counts"]["rejected"]["bad_rows"] == 1
    assert view["validation"]["latest"][0]["outcome"] == "rejected"
    assert view["statistics"] is None  # never computed by a page view
    assert view["freshness"]["max_staleness_seconds"] == 7200


def test_sample_online_values_equal_the_sdk(client: TestClient, example_store: FeatureStore) -> None:
    for driver in (1001, 1017, 999999):
        got = client.get(f"/ui/api/views/driver_stats?driver_id={driver}").json()["sample"]
        want = example_store.get_online_features(["driver_stats:conv_rate", "driver_stats:acc_rate",
                                                  "driver_stats:avg_daily_trips"], [{"driver_id": driver}])
        assert got["looked_up"]
        for row in got["rows"]:
            assert row["value"] == want.features[row["feature"]][0]
            assert row["status"] == want.statuses[row["feature"]][0]
        html = client.get(f"/ui/views/driver_stats?driver_id={driver}").text
        assert 'id="sample-values"' in html


def test_a_bad_entity_value_is_named(client: TestClient) -> None:
    r = client.get("/ui/views/driver_stats?driver_id=abc")
    assert r.status_code == 400
    assert "&#39;driver_id&#39; takes an Int64 value, got &#39;abc&#39;" in r.text
    on_demand = client.get("/ui/api/views/fare?driver_id=1001").json()["sample"]
    assert on_demand["error"] and "give a value for" in on_demand["error"]


def test_snippets_run(client: TestClient, example_repo: Path, example_store: FeatureStore) -> None:
    snippets = client.get("/ui/api/views/driver_stats?driver_id=1001").json()["snippets"]
    assert "Authorization" not in snippets["curl"]  # no keys configured
    assert "API keys are configured" not in client.get("/ui/views/driver_stats").text
    assert "http://testserver/get-online-features" in snippets["curl"]
    assert '"driver_id": [1001]' in snippets["curl"]
    want = example_store.get_online_features(["driver_stats:conv_rate", "driver_stats:acc_rate",
                                              "driver_stats:avg_daily_trips"], [{"driver_id": 1001}]).to_dict()
    for name in ("python_online", "python_historical"):
        done = subprocess.run([sys.executable, "-c", snippets[name]], capture_output=True, text=True, timeout=120,
                              cwd=example_repo)
        assert done.returncode == 0, f"{name}:\n{snippets[name]}\n{done.stderr}"
        if name == "python_online":
            assert done.stdout.strip() == str(want)
        else:
            assert "acc_rate" in done.stdout and "1001" in done.stdout


def test_statistics_are_computed_on_request_and_cached(client: TestClient, example_store: FeatureStore) -> None:
    first = client.get("/ui/api/views/trip_stats/statistics").json()
    assert first["computed_now"] is True
    second = client.get("/ui/api/views/trip_stats/statistics").json()
    assert second["computed_now"] is False and second["computed_at"] == first["computed_at"]
    want = example_store.profile("trip_stats")
    assert first["rows"] == want.rows
    assert first["features"] == {k: f.to_dict() for k, f in want.features.items()}
    page = client.get("/ui/views/trip_stats")
    assert page.text.count('class="bar') > 0 and "Compute statistics" not in page.text
    assert client.get("/ui/api/views/trip_stats").json()["statistics"]["rows"] == want.rows
    html = client.get("/ui/views/trip_stats/statistics").text
    assert "from the cache" in html and "<svg" in html
    assert client.get("/ui/api/views/fare/statistics").status_code == 400  # an on-demand view


def test_new_source_data_computes_again(example_repo: Path) -> None:
    """A source file with a new modification time is a new source state (customer_driver: no other test reads
    its files' times)."""
    import os

    from server.app import create_app

    with TestClient(create_app(example_repo)) as c:
        assert c.get("/ui/api/views/customer_driver/statistics").json()["computed_now"] is True
        assert c.get("/ui/api/views/customer_driver/statistics").json()["computed_now"] is False
        store = FeatureStore(repo_path=example_repo)
        try:
            files = store.offline.view_files(store.get_feature_view("customer_driver"), True)
        finally:
            store.close()
        st = Path(files[0]).stat()
        os.utime(files[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        again = c.get("/ui/api/views/customer_driver/statistics").json()
        assert again["computed_now"] is True
        assert c.get("/ui/api/views/customer_driver/statistics").json()["computed_now"] is False


UNKNOWN = ["/ui/views/nope", "/ui/views/nope/statistics", "/ui/entities/nope", "/ui/services/nope",
           "/ui/sources/nope", "/ui/lineage/nope", "/ui/training-sets/nope", f"/ui/training-sets/{TRAINING_SET}/v99",
           "/ui/history/999", "/ui/nothing-here"]


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_objects_are_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    j = client.get(path.replace("/ui", "/ui/api", 1))
    assert j.status_code == 404
    if path != "/ui/nothing-here":
        assert "nope" in r.text or "99" in r.text
        assert j.json()["detail"]


def test_search(client: TestClient) -> None:
    def names(q: str) -> list[tuple[str, str]]:
        return [(r["kind"], r["name"]) for r in client.get("/ui/api/search", params={"q": q}).json()["results"]]

    assert names("driver_stats")[0] == ("feature_view", "driver_stats")  # the exact name first
    assert ("feature_view", "driver_stats") in names("CONV_RATE")
    assert ("feature_view", "driver_stats") in names("ml-platform")  # the owner
    assert ("feature_view", "driver_stats") in names("team=pricing")  # a tag
    assert ("entity", "driver") in names("rated by riders")  # a description
    assert names("zzz-nothing") == []
    assert names("   ") == []
    assert client.get("/ui/search", params={"q": "<script>"}).text.count("<script>") == 0


def test_lineage_graph(client: TestClient, example_store: FeatureStore) -> None:
    want = example_store.lineage("driver_activity")
    got = client.get("/ui/api/lineage/driver_activity").json()
    assert got["root"]["id"] == want.root
    assert [n["id"] for n in got["upstream"]] == list(want.upstream)
    assert [n["id"] for n in got["downstream"]] == list(want.downstream)
    html = client.get("/ui/lineage/driver_activity").text
    for node in (want.root, *want.upstream, *want.downstream):
        assert f'data-node="{node}"' in html


def test_training_set_manifest(client: TestClient, example_store: FeatureStore) -> None:
    ts = example_store.get_training_set(TRAINING_SET, 1)
    got = client.get(f"/ui/api/training-sets/{TRAINING_SET}/v1").json()
    assert got["manifest"]["content_hash"] == ts.manifest.content_hash == got["content_hash"]
    assert got["rows"] == ts.rows and got["service"] == "driver_activity"
    assert [s["path"] for s in got["sources"]] == [s.path for s in ts.manifest.sources]
    html = client.get(f"/ui/training-sets/{TRAINING_SET}/v1").text
    assert "manifest.json" in html and ts.manifest.content_hash in html


def test_training_set_recreation(client: TestClient) -> None:
    r = client.get(f"/ui/api/training-sets/{TRAINING_SET}/v1/recreate").json()
    assert r["recreation"]["identical"] is True
    after = client.get(f"/ui/training-sets/{TRAINING_SET}/v1").text
    assert "Re-created identically" in after


def test_the_ui_is_read_only(client: TestClient, example_store: FeatureStore) -> None:
    before = (example_store.state().version, example_store.watermarks())
    for path in ("/ui", "/ui/views/driver_stats", "/ui/api/views/driver_stats", "/ui/history"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.request(method, path).status_code == 405, (method, path)
    assert (example_store.state().version, example_store.watermarks()) == before


def crawl(client: TestClient, start: str, prefix: str = "", limit: int = 400) -> dict[str, int]:
    """Every page reached from ``start`` by its links (and every asset): path -> status. Every link must stay
    under ``prefix + "/ui"``; ``prefix``: the path a proxy strips before the request reaches the app, so the
    client requests each link without it."""
    seen: dict[str, int] = {}
    todo = deque([start])
    while todo and len(seen) < limit:
        path = todo.popleft()
        if path in seen:
            continue
        r = client.get(path)
        seen[path] = r.status_code
        if not r.headers.get("content-type", "").startswith("text/html"):
            continue
        for tag, attr, value in parse(r.text).urls:
            if value.startswith(("#", "data:")):
                continue  # a fragment, the empty favicon: no request
            target = internal(f"http://testserver{prefix}{path}", value)
            assert target is not None, f"{path}: {tag} {attr}={value} leaves the server"
            assert target.startswith(prefix + "/ui"), f"{path}: {tag} {attr}={value} leaves {prefix}/ui"
            if tag == "form" or "/recreate" in target or "/statistics" in target:
                continue  # forms and on-demand computations: checked on their own
            stripped = target[len(prefix):].split("#")[0]
            if stripped not in seen:
                todo.append(stripped)
    return seen


def test_every_link_resolves(client: TestClient) -> None:
    seen = crawl(client, "/ui")
    assert len(seen) > 30
    bad = {p: s for p, s in seen.items() if s != 200}
    assert not bad


def test_ui_only_server(example_repo: Path) -> None:
    from server.app import create_app

    with TestClient(create_app(example_repo, ui_only=True)) as c:
        assert c.get("/ui").status_code == 200
        assert c.get("/health").status_code == 200
        for path in ("/get-online-features", "/push", "/materialize", "/v1/online"):
            assert c.post(path, json={}).status_code in (404, 405), path
        for path in ("/docs", "/openapi.json", "/features", "/metrics"):
            assert c.get(path).status_code == 404, path
        snippet: dict[str, Any] = c.get("/ui/api/views/driver_stats").json()["snippets"]
        assert "http://127.0.0.1:6566/get-online-features" in snippet["curl"]
        assert "featurestore serve" in c.get("/ui/views/driver_stats").text


def test_drift_alerts_on_the_overview(client: TestClient, example_store: FeatureStore) -> None:
    import pyarrow as pa

    shifted = pa.table({"conv_rate": pa.array([0.99] * 2000, pa.float32()),
                        "acc_rate": pa.array([0.5] * 2000, pa.float32()),
                        "avg_daily_trips": pa.array([500] * 2000, pa.int64())})
    report = example_store.drift("driver_stats", reference=("2000-01-01", "2100-01-01"), current=shifted,
                                 min_rows=100, record=True)
    alerts = {(f, r.status) for f, r in report.features.items() if r.status in ("warn", "alert")}
    assert alerts
    shown = client.get("/ui/api").json()["drift_alerts"]
    assert {(d["feature"], d["status"]) for d in shown if d["target"] == "driver_stats"} == alerts
    html = client.get("/ui").text
    assert "No drift warning" not in html and "conv_rate" in html


def test_no_sign_in_without_keys(client: TestClient) -> None:
    r = client.get("/ui/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui"
    assert "Sign out" not in client.get("/ui").text


def test_sample_values_of_aggregate_and_on_demand_views(client: TestClient, example_store: FeatureStore) -> None:
    view = client.get("/ui/api/views/card_txn").json()
    key = view["join_keys"][0]["name"]
    refs = [f"card_txn:{f['name']}" for f in view["features"]]
    got = client.get(f"/ui/api/views/card_txn?{key}=3001").json()["sample"]
    want = example_store.get_online_features(refs, [{key: 3001}])
    assert got["looked_up"] and [r["value"] for r in got["rows"]] == [want.features[r.split(":")[1]][0]
                                                                        for r in refs]
    fare = client.get("/ui/api/views/fare?driver_id=1001&distance_km=12.5").json()
    assert fare["request_fields"] == [{"name": "distance_km", "type": "Float64"}]
    want = example_store.get_online_features(["fare:fare"], [{"driver_id": 1001, "distance_km": 12.5}])
    assert [r["value"] for r in fare["sample"]["rows"]] == [want.features["fare"][0]]
    assert '"distance_km": [12.5]' in fare["snippets"]["curl"] and "request_context" in fare["snippets"]["curl"]


def test_ui_requests_are_counted_under_one_label(client: TestClient) -> None:
    client.get("/ui/views/driver_stats")
    metrics = client.get("/metrics").text
    assert 'endpoint="/ui"' in metrics and 'endpoint="/ui/views/driver_stats"' not in metrics


def test_a_source_page_lists_its_files(client: TestClient, example_store: FeatureStore) -> None:
    """The UI names a source as the lineage graph does (its name, else its description), so its files are found."""
    from urllib.parse import quote

    listed = {s["name"]: s for s in client.get("/ui/api/sources").json()["sources"]}
    name = "parquet:data/driver_stats.parquet"
    assert name in listed and listed[name]["used_by"] == [{"kind": "push_source", "label": "push source",
                                                           "name": "driver_stats_push"}]
    page = client.get(f"/ui/api/sources/{quote(name, safe='')}").json()
    want = [n.name for n in example_store.lineage(name, kind="source").nodes.values() if n.kind == "file"]
    assert page["files"] == sorted(want) == ["data/driver_stats.parquet"]
    assert client.get(f"/ui/sources/{quote(name, safe='')}").status_code == 200

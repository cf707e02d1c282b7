"""The web UI over a registry of 500 views (``tests/ui/big_repo.py``): every page type, as HTML and as JSON, shows
what the registry holds, for a sample of its objects; unknown names are 404.

No timing here (``bench/ui.py`` measures the same pages against the issue's 100 ms); every answer must carry the
``Server-Timing`` header the bench reads.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from featurestore import FeatureStore, FeatureView, OnDemandFeatureView
from server.app import create_app
from tests.ui import big_repo
from tests.ui.big_repo import load_spec, make_big_repo, unique_word

VIEWS = 500
SAMPLE = 6
"""Objects of each kind whose pages are checked."""
TIMING = re.compile(r"^app;dur=\d+(\.\d+)?$")
VIEW_KINDS = ("feature_view", "aggregate_view", "on_demand_feature_view")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_big_repo(tmp_path_factory.mktemp("ui-big") / "repo", views=VIEWS)


@pytest.fixture(scope="module")
def spec(repo: Path) -> dict[str, Any]:
    return load_spec(repo)


@pytest.fixture(scope="module")
def store(repo: Path) -> Iterator[FeatureStore]:
    s = FeatureStore(repo_path=repo)
    yield s
    s.close()


@pytest.fixture(scope="module")
def client(repo: Path) -> Iterator[TestClient]:
    with TestClient(create_app(repo)) as c:
        yield c


def text(page: str) -> str:
    """The page's text: tags replaced by spaces, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def get(client: TestClient, path: str, status: int = 200) -> tuple[str, Any]:
    """``/ui{path}`` (HTML) and ``/ui/api{path}`` (JSON), both answering ``status`` with a Server-Timing header."""
    page = client.get("/ui" + path)
    data = client.get("/ui/api" + path)
    for answer, media in ((page, "text/html"), (data, "application/json")):
        assert answer.status_code == status, (answer.request.url, answer.text[:2000])
        assert answer.headers["content-type"].startswith(media), answer.request.url
        assert TIMING.match(answer.headers.get("server-timing", "")), (answer.request.url, answer.headers)
    return page.text, data.json()


def sample(items: list[Any], k: int = SAMPLE, seed: int = 15) -> list[Any]:
    return random.Random(seed).sample(items, min(k, len(items)))


def views_of(spec: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v for v in spec["views"] if v["kind"] == kind]


def registered_features(store: FeatureStore, name: str) -> list[tuple[str, str]]:
    """A view's features and their types, as the registry has them."""
    state = store.state()
    views: list[FeatureView | OnDemandFeatureView] = [*state.feature_views(), *state.on_demand_feature_views()]
    for v in views:
        if v.name == name:
            return [(f.name, f.dtype.name) for f in v.features]
    agg = store.get_aggregate_view(name)
    return [(o.name, o.dtype.name) for o in agg.outputs]


def test_the_generator_is_deterministic_and_as_described(tmp_path: Path) -> None:
    final = big_repo.spec(60, seed=3)
    assert final == big_repo.spec(60, seed=3) and final != big_repo.spec(60, seed=4)
    kinds = [v["kind"] for v in final["views"]]
    assert (kinds.count("feature_view"), kinds.count("aggregate_view"), kinds.count("on_demand_feature_view")) == \
        (48, 6, 6)
    for v in final["views"]:
        if v["kind"] != "aggregate_view":
            assert 3 <= len(v["features"]) <= 8 and len({t for _, t in v["features"]}) >= 2, v
        else:
            assert 3 <= sum(len(a.get("windows") or [None]) for a in v["aggregations"]) <= 8, v
    texts = [o["description"] for o in [*final["views"], *final["services"], *final["sources"], *final["entities"]]]
    for i in range(len(final["views"])):  # each view's word is in its own description only
        assert [t for t in texts if unique_word(i) in t] == [final["views"][i]["description"]]
    for folder in ("a", "b"):
        big_repo.write_data(tmp_path / folder, final)
    for s in final["sources"]:
        assert (tmp_path / "a" / s["path"]).read_bytes() == (tmp_path / "b" / s["path"]).read_bytes()
        assert 2000 <= pq.read_metadata(tmp_path / "a" / s["path"]).num_rows <= 3600
    assert [len(v["views"]) for v in big_repo.versions(final)] == [57, 60, 60, 60]


def test_overview_counts_match_the_registry(client: TestClient, store: FeatureStore, spec: dict[str, Any]) -> None:
    page, data = get(client, "")
    state = store.state()
    sources = len(spec["sources"]) + sum(1 for s in spec["sources"] if s["push"]) + len(spec["request_sources"])
    expected = {"feature_views": len(state.feature_views()), "aggregate_views": len(state.aggregate_views()),
                "on_demand_feature_views": len(state.on_demand_feature_views()), "entities": len(state.entities()),
                "feature_services": len(state.feature_services()), "sources": sources, "training_sets": 2,
                "training_set_versions": 2}
    assert data["counts"] == expected
    assert expected["feature_views"] + expected["aggregate_views"] + expected["on_demand_feature_views"] == VIEWS
    assert (expected["feature_views"], expected["entities"], expected["feature_services"]) == (400, 6, 53)
    assert data["registry_version"] == state.version == len(store.history()) == 4
    assert data["project"] == "big_registry"
    shown = text(page)
    for label, key in (("feature views", "feature_views"), ("aggregate views", "aggregate_views"),
                       ("on-demand views", "on_demand_feature_views"), ("entities", "entities"),
                       ("feature services", "feature_services"), ("sources", "sources"),
                       ("training sets", "training_sets")):
        assert f"{expected[key]} {label}" in shown, label
    assert "Registry version 4" in shown
    # the materialized views, latest first
    assert {m["view"] for m in data["materializations"]} == set(store.watermarks()) and len(store.watermarks()) == 6


def test_views_lists_every_view(client: TestClient, store: FeatureStore, spec: dict[str, Any]) -> None:
    page, data = get(client, "/views")
    names = {v["name"] for v in spec["views"]}
    assert len(data["views"]) == VIEWS and {r["name"] for r in data["views"]} == names
    state = store.state()
    registered = {v.name for v in state.feature_views()} | {v.name for v in state.aggregate_views()} | \
        {v.name for v in state.on_demand_feature_views()}
    assert registered == names
    by_name = {r["name"]: r for r in data["views"]}
    for v in spec["views"]:
        row = by_name[v["name"]]
        assert row["kind"] == v["kind"] and row["owner"] == v["owner"] and row["description"] == v["description"]
        assert row["features"] == len(registered_features(store, v["name"]))
        assert row["entities"] == v.get("entities", [])
    for name in names:  # each one linked from the HTML list
        assert f'href="/ui/views/{name}"' in page, name
    for kind in VIEW_KINDS:
        _, only = get(client, f"/views?kind={kind}")
        assert {r["name"] for r in only["views"]} == {v["name"] for v in views_of(spec, kind)}
    owner = spec["views"][0]["owner"]
    _, owned = get(client, f"/views?owner={owner}")
    assert {r["name"] for r in owned["views"]} == {v["name"] for v in spec["views"] if v["owner"] == owner}


def test_search_by_a_description_word_finds_exactly_that_view(client: TestClient, spec: dict[str, Any]) -> None:
    indexed = list(enumerate(spec["views"]))
    for kind in VIEW_KINDS:
        for i, v in sample([(i, v) for i, v in indexed if v["kind"] == kind]):
            word = unique_word(i)
            assert word in v["description"]
            page, data = get(client, f"/search?q={word}")
            assert [(r["kind"], r["name"]) for r in data["results"]] == [(kind, v["name"])], word
            assert f'href="/ui/views/{v["name"]}"' in page
    _, data = get(client, "/search?q=route")  # the entity, and every view of a route (its description says so)
    names = {r["name"] for r in data["results"]}
    assert "route" in names and {v["name"] for v in spec["views"] if v.get("entities") == ["route"]} <= names
    _, data = get(client, "/search?q=zqzzz")
    assert data["results"] == []


def test_a_view_page_shows_its_features_and_types(client: TestClient, store: FeatureStore,
                                                  spec: dict[str, Any]) -> None:
    for kind in VIEW_KINDS:
        for v in sample(views_of(spec, kind)):
            page, data = get(client, f"/views/{v['name']}")
            features = [(f["name"], f["type"]) for f in data["features"]]
            assert features == registered_features(store, v["name"]), v["name"]
            if kind != "aggregate_view":  # as generated
                assert features == [tuple(f) for f in v["features"]]
            assert (data["kind"], data["description"], data["owner"], data["tags"]) == \
                (kind, v["description"], v["owner"], v["tags"])
            shown = text(page)
            assert v["description"] in shown and v["owner"] in shown
            for name, dtype in features:
                assert f"{name} {dtype}" in shown, (v["name"], name)
            if kind == "on_demand_feature_view":
                assert data["sources"] == [{"view": v["view"], "features": v["inputs"]}]
                assert [r["name"] for r in data["request_fields"]] == \
                    next([f for f, _ in r["schema"]] for r in spec["request_sources"] if r["name"] == v["request"])
            else:
                source = next(s for s in spec["sources"] if s["name"] == v["source"])
                assert data["source"]["name"] == source["name"] and data["source"]["push_source"] == source["push"]
                assert [k["name"] for k in data["join_keys"]] == source["keys"]


def test_composite_keys_on_view_and_entity_pages(client: TestClient, spec: dict[str, Any]) -> None:
    route = next(v for v in views_of(spec, "feature_view") if v["entities"] == ["route"])
    _, data = get(client, f"/views/{route['name']}")
    assert data["join_keys"] == [{"name": "origin_zone", "type": "String"}, {"name": "dest_zone", "type": "String"}]
    pair = next(v for v in views_of(spec, "feature_view") if v["entities"] == ["customer", "driver"])
    _, data = get(client, f"/views/{pair['name']}")
    assert [k["name"] for k in data["join_keys"]] == ["customer_id", "driver_id"]
    assert [e["name"] for e in data["entities"]] == ["customer", "driver"]


def test_a_materialized_view_shows_its_online_values(client: TestClient, repo: Path, store: FeatureStore,
                                                     spec: dict[str, Any]) -> None:
    marks = store.watermarks()
    for v in [v for v in views_of(spec, "feature_view") if v["name"] in marks]:
        _, data = get(client, f"/views/{v['name']}")
        assert data["materialization"]["total_rows"] == marks[v["name"]]["total_rows"] > 0
        source = next(s for s in spec["sources"] if s["name"] == v["source"])
        if len(source["keys"]) != 1:
            continue
        key = source["keys"][0]
        rows = pq.read_table(repo / source["path"])
        value = rows[key][0].as_py()
        mine = rows.filter(pc.equal(rows[key], value)).sort_by([("event_timestamp", "descending"),
                                                                ("created", "descending")])
        _, data = get(client, f"/views/{v['name']}?{key}={value}")
        sample_ = data["sample"]
        assert sample_["looked_up"] and sample_["error"] is None, sample_
        assert [r["feature"] for r in sample_["rows"]] == [f for f, _ in v["features"]]
        for r in sample_["rows"]:  # values older than the ttl are not served (the data ends at big_repo.END)
            if v["ttl_hours"] is None:
                assert (r["status"], r["value"]) == ("PRESENT", mine[r["feature"]][0].as_py()), (v["name"], r)
            else:
                assert r["status"] == "OUTSIDE_MAX_AGE", (v["name"], r)


def test_statistics_are_computed_on_the_first_request_then_cached(client: TestClient, repo: Path,
                                                                  spec: dict[str, Any]) -> None:
    for v in (views_of(spec, "feature_view")[-4], views_of(spec, "feature_view")[-5]):
        name = v["name"]
        _, before = get(client, f"/views/{name}")
        assert before["statistics"] is None  # a page view computes nothing
        first = client.get(f"/ui/api/views/{name}/statistics")
        assert first.status_code == 200, first.text[:2000]
        stats = first.json()
        source = next(s for s in spec["sources"] if s["name"] == v["source"])
        assert stats["computed_now"] is True and stats["rows"] == pq.read_metadata(repo / source["path"]).num_rows
        assert set(stats["features"]) == {f for f, _ in v["features"]}
        page, again = get(client, f"/views/{name}/statistics")
        assert again["computed_now"] is False and again["computed_at"] == stats["computed_at"]
        assert again["features"] == stats["features"] and "<svg" in page
        _, after = get(client, f"/views/{name}")
        assert after["statistics"]["rows"] == stats["rows"]
    odfv = views_of(spec, "on_demand_feature_view")[0]["name"]
    _, refused = get(client, f"/views/{odfv}/statistics", status=400)
    assert refused["error"] == "InputError"


def test_an_aggregate_view_page_offers_only_statistics_it_can_compute(client: TestClient,
                                                                     spec: dict[str, Any]) -> None:
    name = views_of(spec, "aggregate_view")[-1]["name"]
    page, data = get(client, f"/views/{name}")
    assert f'href="/ui/views/{name}/statistics"' not in page and data["statistics"] is None
    assert "exist only after aggregation" in text(page)
    _, refused = get(client, f"/views/{name}/statistics", status=400)
    assert refused["error"] == "InputError" and name in refused["detail"]


def test_entity_pages(client: TestClient, spec: dict[str, Any]) -> None:
    page, data = get(client, "/entities")
    assert [e["name"] for e in data["entities"]] == sorted(e["name"] for e in spec["entities"])
    for e in data["entities"]:
        users = {v["name"] for v in spec["views"] if e["name"] in v.get("entities", [])}
        assert e["used_by"] == len(users) > 0, e["name"]
        assert e["name"] in text(page)
    for entity in spec["entities"]:
        page, data = get(client, f"/entities/{entity['name']}")
        assert data["join_keys"] == entity["join_keys"] and data["tags"] == entity["tags"]
        assert {u["name"] for u in data["used_by"]} == {v["name"] for v in spec["views"]
                                                        if entity["name"] in v.get("entities", [])}
        assert all(k in text(page) for k in entity["join_keys"])


def test_service_pages(client: TestClient, store: FeatureStore, spec: dict[str, Any]) -> None:
    page, data = get(client, "/services")
    assert {s["name"] for s in data["services"]} == {s["name"] for s in spec["services"]} == \
        {s.name for s in store.list_feature_services()}
    assert len(data["services"]) == 53 and "retired_model" not in page
    for s in [*sample(spec["services"]), next(s for s in spec["services"] if s["name"] == "driver_training")]:
        page, data = get(client, f"/services/{s['name']}")
        assert [p["view"] for p in data["views"]] == [p["view"] for p in s["parts"]]
        for part, shown in zip(s["parts"], data["views"], strict=True):
            whole = [f for f, _ in registered_features(store, part["view"])]
            assert shown["features"] == (part["features"] or whole)
            assert part["view"] in text(page)
        assert data["description"] == s["description"] and data["owner"] == s["owner"]
    _, data = get(client, "/services/driver_training")
    assert data["training_sets"] == ["driver_training@1"]


def test_source_pages(client: TestClient, spec: dict[str, Any]) -> None:
    _, data = get(client, "/sources")
    expected = {s["name"] for s in spec["sources"]} | {s["push"] for s in spec["sources"] if s["push"]} | \
        {r["name"] for r in spec["request_sources"]}
    assert {s["name"] for s in data["sources"]} == expected
    sourced = [v for v in spec["views"] if v["kind"] != "on_demand_feature_view"]
    for s in spec["sources"][:4]:
        page, data = get(client, f"/sources/{s['name']}")
        users = {u["name"] for u in data["used_by"]}
        readers = {v["name"] for v in sourced if v["source"] == s["name"]}
        assert users == ({s["push"]} if s["push"] else readers), s["name"]
        assert data["description"] == s["description"] and s["description"] in text(page)
        assert [Path(f).name for f in data["files"]] == [Path(s["path"]).name]
        if s["push"]:
            _, pushed = get(client, f"/sources/{s['push']}")
            assert pushed["kind"] == "push_source" and {u["name"] for u in pushed["used_by"]} == readers
    for r in spec["request_sources"]:
        _, data = get(client, f"/sources/{r['name']}")
        assert data["kind"] == "request_source"
        assert {u["name"] for u in data["used_by"]} == {v["name"] for v in views_of(spec, "on_demand_feature_view")
                                                        if v["request"] == r["name"]}


def test_lineage_of_a_service_reaches_its_views_and_their_sources(client: TestClient, spec: dict[str, Any]) -> None:
    kinds = {v["name"]: v for v in spec["views"]}
    with_odfv = [s for s in spec["services"] if any(kinds[p["view"]]["kind"] == "on_demand_feature_view"
                                                    for p in s["parts"])]
    for s in [*sample(spec["services"], 4), *with_odfv[:2]]:
        page, data = get(client, f"/lineage/{s['name']}?kind=feature_service")
        assert data["root"]["id"] == f"feature_service:{s['name']}"
        upstream = {n["id"] for n in data["upstream"]}
        for p in s["parts"]:
            v = kinds[p["view"]]
            assert f"{v['kind']}:{v['name']}" in upstream, (s["name"], v["name"])
            if v["kind"] == "on_demand_feature_view":
                assert f"feature_view:{v['view']}" in upstream and f"request_source:{v['request']}" in upstream
            else:
                assert f"source:{v['source']}" in upstream
            assert f'href="/ui/views/{v["name"]}"' in page
        assert "<svg" in page
    v = next(v for v in views_of(spec, "feature_view") if v["name"] == "retention_weekly_000")
    _, data = get(client, f"/lineage/{v['name']}?kind=feature_view")
    users = {s["name"] for s in spec["services"] if any(p["view"] == v["name"] for p in s["parts"])}
    assert {f"feature_service:{u}" for u in users} <= {n["id"] for n in data["downstream"]}
    assert any(n["id"].startswith("training_set:driver_training") for n in data["downstream"])


def test_training_set_pages(client: TestClient, store: FeatureStore) -> None:
    page, data = get(client, "/training-sets")
    assert [(t["name"], t["versions"], t["rows"]) for t in data["training_sets"]] == \
        [("customer_training", 1, 300), ("driver_training", 1, 300)]
    for name in ("customer_training", "driver_training"):
        _, data = get(client, f"/training-sets/{name}")
        assert [v["version"] for v in data["versions"]] == [1]
        page, data = get(client, f"/training-sets/{name}/v1")
        service = store.get_feature_service(name)
        assert data["service"] == name and data["rows"] == 300 and data["full_feature_names"] is True
        assert data["features"] == service.refs() and data["registry_version"] == 4
        assert sorted(data["views"]) == sorted(p.view for p in service.features)
        assert data["entity_frame"]["rows"] == 300 and name in text(page)


def test_history_lists_every_version(client: TestClient, store: FeatureStore, spec: dict[str, Any]) -> None:
    page, data = get(client, "/history")
    assert [v["version"] for v in data["versions"]] == [4, 3, 2, 1]
    late = [v["name"] for v in views_of(spec, "feature_view")[-3:]]
    changes = {v["version"]: v["changes"] for v in data["versions"]}
    assert set(changes[2]["added"]) == {f"feature_view {n}" for n in late} | {"feature_service late_additions"}
    assert "feature_service retired_model" in changes[4]["removed"]
    assert "entity merchant" in changes[3]["changed"]
    for version in (1, 2, 3, 4):
        assert f'href="/ui/history/{version}"' in page
        _, one = get(client, f"/history/{version}")
        assert one["version"] == version
        if version == 1:
            assert len([a for a in one["added"] if a.startswith(("feature_views:", "aggregate_views:",
                                                                 "on_demand_feature_views:"))]) == VIEWS - 3
        else:
            assert one["before"] == version - 1
            listed = [c for cs in changes[version].values() for c in cs]
            assert {f"{c['kind']} {c['name']}" for c in one["diff"]["changes"]} == set(listed)
    _, one = get(client, "/history/4")
    added = next(s["name"] for s in spec["services"] if f"feature_service {s['name']}" in changes[4]["added"])
    assert {(c["change"], c["name"]) for c in one["diff"]["changes"]} == {("added", added),
                                                                           ("removed", "retired_model")}


@pytest.mark.parametrize("path", [
    "/views/no_such_view", "/views/no_such_view/statistics", "/entities/no_such_entity",
    "/services/no_such_service", "/sources/no_such_source", "/lineage/no_such_object",
    "/lineage/retention_weekly_000?kind=feature_service", "/training-sets/no_such_set",
    "/training-sets/driver_training/v9", "/history/99",
])
def test_unknown_names_are_404(client: TestClient, path: str) -> None:
    page, data = get(client, path, status=404)
    assert data["error"] == "NotFoundError" and data["detail"]
    assert "Not found" in text(page)

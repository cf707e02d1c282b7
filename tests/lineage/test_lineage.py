"""Lineage of every kind of object: what it depends on and what depends on it (SDK, CLI, HTTP with keys)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from featurestore import Entity, FeatureStore, InputError, NotFoundError
from featurestore.cli import main
from featurestore.training.manifest import MANIFEST, Manifest
from server import create_app
from tests.cli_helpers import failed, ok
from tests.lineage.repo import stats, versions


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    store = versions(tmp_path / "repo")
    view = store.get_feature_view("stats")
    manifest = Manifest(name="churn", version=2, created_at="2026-03-01T00:00:00+00:00", registry_version=3,
                        features=["stats:conv"], service="ranking", rows=10,
                        definitions={"feature_views": {"stats": view.to_dict()},
                                     "feature_services": {"ranking": store.get_feature_service("ranking").to_dict()}},
                        feature_tables=["stats"])
    folder = store.training_sets_dir / "churn" / "v2"
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text(json.dumps(manifest.to_json()))
    (store.feature_tables_dir / "stats").mkdir(parents=True)
    return store


def test_view_upstream_and_downstream(store: FeatureStore) -> None:
    found = store.lineage("stats")
    assert found.root == "feature_view:stats"
    assert set(found.upstream) == {"entity:driver", "source:stats_file", "file:data/stats.parquet"}
    assert set(found.downstream) == {"feature_service:ranking", "feature_service:quotes",
                                     "on_demand_feature_view:per_km", "feature_table:stats",
                                     "training_set:churn@2"}
    assert ("feature_view:stats", "on_demand_feature_view:per_km") in found.edges
    assert ("on_demand_feature_view:per_km", "feature_service:quotes") in found.edges
    assert found.nodes["feature_view:stats"].details["registry_version"] == 3  # the ttl change
    text = str(found)
    assert "depends on:" in text and "entity driver (registry_version 1)" in text
    assert "training_set churn@2" in text


def test_service_training_set_entity_source_and_others(store: FeatureStore) -> None:
    quotes = store.lineage("quotes")
    assert {"on_demand_feature_view:per_km", "feature_view:stats", "request_source:trip", "entity:driver",
            "source:stats_file"} <= set(quotes.upstream)
    assert quotes.downstream == ()
    churn = store.lineage("churn")  # the latest version by name
    assert churn.root == "training_set:churn@2"
    assert {"feature_service:ranking", "feature_view:stats", "feature_table:stats"} <= set(churn.upstream)
    assert store.lineage("churn@2", kind="training_set").root == churn.root
    entity = store.lineage("driver")
    assert entity.upstream == () and "feature_service:ranking" in entity.downstream
    source = store.lineage("stats_file")
    assert "feature_view:stats" in source.downstream and any(n.startswith("file:") for n in source.upstream)
    assert "feature_service:quotes" in store.lineage("trip").downstream
    table = store.lineage("stats", kind="feature_table")
    assert table.upstream[0] == "feature_view:stats" and table.downstream == ("training_set:churn@2",)


def test_push_source_and_removed_objects(tmp_path: Path) -> None:
    store = versions(tmp_path / "repo")
    store.apply([stats(ttl_hours=6, push=True)])
    assert "push_source:stats_push" in store.lineage("stats").upstream
    assert store.lineage("stats_push").downstream[0] == "feature_view:stats"


def test_unknown_and_ambiguous(store: FeatureStore) -> None:
    with pytest.raises(NotFoundError, match="'nope' is not in the lineage graph"):
        store.lineage("nope")
    with pytest.raises(InputError, match="unknown lineage kind 'view'"):
        store.lineage("stats", kind="view")
    assert store.lineage("stats").root == "feature_view:stats"  # the definition over its feature table
    store.apply([Entity(name="stats", join_keys=["driver_id"])])
    with pytest.raises(InputError, match=r"'stats' names several objects \(entity, feature_view\): give the kind"):
        store.lineage("stats")
    assert store.lineage("stats", kind="entity").root == "entity:stats"


def test_cli_tree_and_json(store: FeatureStore) -> None:
    runner = CliRunner()
    repo = ["--repo", str(store.repo_path)]
    out = ok(runner.invoke(main, ["lineage", *repo, "ranking"]))
    assert out.startswith("feature_service ranking") and "feature_view stats" in out and "training_set churn@2" in out
    data = json.loads(ok(runner.invoke(main, ["lineage", *repo, "ranking", "--json"])))
    assert data["root"] == "feature_service:ranking"
    assert {"from": "feature_view:stats", "to": "feature_service:ranking"} in data["edges"]
    assert "not in the lineage graph" in failed(runner.invoke(main, ["lineage", *repo, "nope"]))


def test_http_lineage_and_history(store: FeatureStore) -> None:
    with TestClient(create_app(store.repo_path)) as c:
        r = c.get("/lineage/ranking")
        assert r.status_code == 200 and r.json()["root"] == "feature_service:ranking"
        assert c.get("/lineage/stats", params={"kind": "feature_view"}).json()["root"] == "feature_view:stats"
        assert c.get("/lineage/nope").status_code == 404
        source = c.get("/lineage/parquet:data/stats.parquet")  # no name: the source's text, slashes and all
        assert source.status_code == 404  # this source has a name: it is known by it
        found = c.get("/lineage/data/stats.parquet", params={"kind": "file"})
        assert found.status_code == 200 and found.json()["downstream"][:2] == ["source:stats_file",
                                                                               "feature_view:stats"]
        assert c.get("/lineage/stats", params={"kind": "view"}).status_code == 400
        assert [e["version"] for e in c.get("/history").json()] == [1, 2, 3, 4]
        diff = c.get("/history/diff", params={"from": 2, "to": 3}).json()
        assert diff["changes"][0]["fields"][0]["path"] == "ttl_seconds"
        assert c.get("/history/diff", params={"from": 2, "to": 9}).status_code == 404


def test_http_needs_a_read_key(store: FeatureStore) -> None:
    config = yaml.safe_load((store.repo_path / "featurestore.yaml").read_text())
    config["server"] = {"api_keys": {"read": ["rk"], "write": ["wk"]}}
    (store.repo_path / "featurestore.yaml").write_text(yaml.safe_dump(config))
    with TestClient(create_app(store.repo_path)) as c:
        for path in ("/lineage/ranking", "/history", "/history/diff?from=1&to=2"):
            assert c.get(path).status_code == 401, path
            for key in ("rk", "wk"):
                assert c.get(path, headers={"Authorization": f"Bearer {key}"}).status_code == 200, (path, key)


@pytest.mark.parametrize("seed", range(8))
def test_random_repos_against_a_brute_force_closure(tmp_path: Path, seed: int) -> None:
    """Random views over random sources, services over random views: each view's upstream and downstream equal the
    transitive closure of the "is made from" relation computed by brute force from the definitions."""
    import random

    from featurestore import FeatureService, FeatureView, Field, ParquetSource
    from featurestore.types import Float64
    from tests.lineage.repo import driver, make_repo

    rng = random.Random(seed)
    store = FeatureStore(make_repo(tmp_path / "repo"))
    sources = [ParquetSource(name=f"src{i}", path="data/stats.parquet", timestamp_field="ts") for i in range(3)]
    views = [FeatureView(name=f"v{i}", entities=[driver], source=rng.choice(sources),
                         schema=[Field(name="conv", dtype=Float64)]) for i in range(5)]
    services = [FeatureService(name=f"s{i}", features=rng.sample(views, rng.randint(1, 3))) for i in range(3)]
    store.apply([driver, *views, *services])
    made_from: dict[str, set[str]] = {}  # node -> what it is made from, straight from the definitions
    for v in views:
        made_from[f"feature_view:{v.name}"] = {"entity:driver", f"source:{v.source.name}"}
        made_from.setdefault(f"source:{v.source.name}", set()).add("file:data/stats.parquet")
    for s in services:
        made_from[f"feature_service:{s.name}"] = {f"feature_view:{p.view}" for p in s.features}

    def closure(node: str, edges: dict[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        todo = [node]
        while todo:
            for n in edges.get(todo.pop(), set()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    feeds: dict[str, set[str]] = {}
    for node, parents in made_from.items():
        for parent in parents:
            feeds.setdefault(parent, set()).add(node)
    for node in [f"feature_view:{v.name}" for v in views] + [f"feature_service:{s.name}" for s in services] + \
            [f"source:{s.name}" for s in sources if f"source:{s.name}" in feeds]:
        kind, name = node.split(":", 1)
        found = store.lineage(name, kind=kind)
        assert set(found.upstream) == closure(node, made_from), node
        assert set(found.downstream) == closure(node, feeds), node

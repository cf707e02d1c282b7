"""Versions, concurrency, bad input, the CLI and HTTP of training sets; the example repo's on-demand service."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from featurestore import FeatureStore, InputError, NotFoundError
from featurestore.cli import main
from server import create_app
from tests.cli_helpers import failed, ok
from tests.training.repo import CUTOFF, NOW, entities, make_store

ROOT = Path(__file__).resolve().parents[2]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_versions_count_up_and_earlier_ones_never_change(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    first = store.create_training_set("churn", entities(), ["stats:conv"], as_of=CUTOFF)
    kept = _digest(first.folder)
    for n in (2, 3):
        assert store.create_training_set("churn", entities(n * 5), ["stats:conv"]).version == n
    assert _digest(first.folder) == kept
    assert store.get_training_set("churn").version == 3
    assert store.get_training_set("churn", 1).to_arrow().equals(first.to_arrow())
    assert [(t.name, t.version) for t in store.list_training_sets()] == [("churn", 1), ("churn", 2), ("churn", 3)]
    assert store.get_training_set("churn", 2).entities().num_rows == 10
    frame = store.get_training_set("churn", 1).to_pandas()
    assert list(frame.columns) == ["driver_id", "event_timestamp", "conv"] and len(frame) == 30
    assert store.get_training_set("churn", 1).to_polars().shape == (30, 3)
    assert [p.name for p in (tmp_path / "data" / "training_sets" / "churn").iterdir() if p.name != ".lock"] \
        and not any(p.name.startswith(".tmp") for p in (tmp_path / "data" / "training_sets" / "churn").iterdir())


def test_concurrent_creates_get_distinct_versions(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(lambda _: FeatureStore(tmp_path, clock=lambda: NOW).create_training_set(
            "churn", entities(), ["stats:conv"]), range(6)))
    assert sorted(t.version for t in made) == [1, 2, 3, 4, 5, 6]
    assert len({t.fingerprint for t in store.list_training_sets()}) == 1


def test_bad_input_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    root = tmp_path / "data" / "training_sets"
    with pytest.raises(InputError, match="training set name '1churn' is not valid"):
        store.create_training_set("1churn", entities(), ["stats:conv"])
    with pytest.raises(InputError, match=r"training set name '\.\./x' is not valid"):
        store.get_training_set("../x")
    with pytest.raises(NotFoundError, match="feature 'nope'"):
        store.create_training_set("churn", entities(), ["stats:nope"])
    with pytest.raises(InputError, match="is in the future"):
        store.create_training_set("churn", entities(), ["stats:conv"], as_of=NOW.replace(year=2027))
    with pytest.raises(InputError, match="features must be a list"):
        store.create_training_set("churn", entities(), "stats:conv")
    assert not (root / "churn").exists() and not (root / "1churn").exists()
    with pytest.raises(NotFoundError, match="training set 'churn' does not exist"):
        store.get_training_set("churn")
    store.create_training_set("churn", entities(), ["stats:conv"])
    with pytest.raises(NotFoundError, match=r"training set 'churn' has no version 4 \(versions: 1\)") as err:
        store.recreate_training_set("churn", 4)
    assert err.value.kind == "training_set"


def test_cli(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    frame = tmp_path / "entities.parquet"
    pq.write_table(entities(), frame)
    runner = CliRunner()
    repo = ["--repo", str(tmp_path)]
    out = ok(runner.invoke(main, ["training-sets", "create", *repo, "churn", "--entities", str(frame), "--features",
                                  "ranking", "--as-of", CUTOFF.isoformat()]))
    assert "created training set churn version 1: 30 rows" in out
    ok(runner.invoke(main, ["training-sets", "create", *repo, "churn", "--entities", str(frame), "--features",
                            "stats:conv,stats:trips"]))
    listing = ok(runner.invoke(main, ["training-sets", "list", *repo]))
    assert "churn" in listing and "CONTENT HASH" in listing
    described = ok(runner.invoke(main, ["training-sets", "describe", *repo, "churn", "--version", "1"]))
    assert "as_of: 2026-03-02T00:00:00+00:00" in described and "service ranking" in described
    assert "data/stats/part-base.parquet" in described
    assert json.loads(ok(runner.invoke(main, ["training-sets", "describe", *repo, "churn", "--json"])))["version"] == 2
    assert "re-created identically" in ok(runner.invoke(main, ["training-sets", "recreate", *repo, "churn",
                                                               "--version", "1"]))
    assert "- feature_service ranking" in ok(runner.invoke(main, ["training-sets", "diff", *repo, "churn", "1", "2"]))
    (tmp_path / "data" / "stats" / "part-base.parquet").unlink()
    err = failed(runner.invoke(main, ["training-sets", "recreate", *repo, "churn"]))
    assert "part-base.parquet of view stats is gone" in err
    assert "has no version 9" in failed(runner.invoke(main, ["training-sets", "describe", *repo, "churn",
                                                             "--version", "9"]))
    assert store.get_training_set("churn").version == 2


def test_http_list_and_describe_with_keys(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.create_training_set("churn", entities(), ["stats:conv"])
    config = yaml.safe_load((tmp_path / "featurestore.yaml").read_text())
    config["server"] = {"api_keys": {"read": ["rk"], "write": ["wk"]}}
    (tmp_path / "featurestore.yaml").write_text(yaml.safe_dump(config))
    with TestClient(create_app(tmp_path)) as c:
        assert c.get("/training-sets").status_code == 401
        assert c.get("/training-sets/churn").status_code == 401
        for key in ("rk", "wk"):
            auth = {"Authorization": f"Bearer {key}"}
            listed = c.get("/training-sets", headers=auth)
            assert listed.status_code == 200 and [t["version"] for t in listed.json()] == [1]
            one = c.get("/training-sets/churn", headers=auth).json()
            assert one["rows"] == 30 and one["sources"][0]["path"] == "data/stats/part-base.parquet"
            assert "statistics" in one and one["statistics"]["features"]
            assert c.get("/training-sets/churn", params={"version": 2}, headers=auth).status_code == 404
            assert c.get("/training-sets/nope", headers=auth).status_code == 404
            assert c.get("/training-sets/no-pe", headers=auth).status_code == 400


def test_example_repo_service_with_on_demand_views_recreates(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "definitions", repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, "-m", "featurestore.cli", "--repo", str(repo), "generate-data"], check=True,
                   capture_output=True)
    store = FeatureStore(repo)
    store.apply()
    frame = pq.read_table(repo / "data" / "driver_stats.parquet").select(["driver_id", "event_timestamp"])
    frame = frame.append_column("distance_km", pa.array([float(i % 17) for i in range(frame.num_rows)]))
    ts = store.create_training_set("quotes", frame, store.get_feature_service("trip_quote"))
    assert "polars" in ts.manifest.engine and ts.manifest.definitions["on_demand_feature_views"]
    assert store.recreate_training_set("quotes").content_hash == ts.fingerprint

"""Offline feature tables: training sets read from them equal training sets read from the sources (randomized data
with ties, created times, ttl, pushed rows, a Polars transform, ``as_of_created``); incremental runs, backfills,
the ``as_of`` cutoff on the table's own created time, definitions that change; errors, CLI and HTTP."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from featurestore import (
    AggregateView,
    Aggregation,
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    InputError,
    NotFoundError,
    ParquetSource,
    PushSource,
)
from featurestore.cli import main
from featurestore.config import parse_config
from featurestore.types import Float64, Int64
from server import create_app
from tests.cli_helpers import ok

BASE = datetime(2026, 3, 1, tzinfo=UTC)
NOW = BASE + timedelta(days=2)
US = timedelta(microseconds=1)
driver = Entity(name="driver", join_keys=["driver_id"])
SCHEMA = pa.schema([("driver_id", pa.int64()), ("ts", pa.timestamp("us", "UTC")),
                    ("created", pa.timestamp("us", "UTC")), ("x", pa.float64()), ("n", pa.int64())])


def _doubled(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.filter(pl.col("n") % 3 != 0).with_columns((pl.col("x") * 2).alias("x2"))


def _views(ttl: timedelta | None) -> list[Any]:
    push = PushSource(name="stats_push", batch_source=ParquetSource(path="data/stats", timestamp_field="ts",
                                                                    created_timestamp_field="created"))
    plain = FeatureView(name="plain", entities=[driver], ttl=ttl, source=push,
                        schema=[Field(name="x", dtype=Float64), Field(name="n", dtype=Int64)])
    tx = FeatureView(name="tx", entities=[driver], ttl=ttl, transform=_doubled,
                     source=ParquetSource(path="data/stats", timestamp_field="ts", created_timestamp_field="created"),
                     schema=[Field(name="x2", dtype=Float64), Field(name="n", dtype=Int64)])
    return [driver, plain, tx]


def _t(rng: random.Random) -> datetime:
    return BASE + timedelta(minutes=rng.randint(0, 30)) + rng.choice([0, 0, 1]) * US


def _rows(rng: random.Random, k: int) -> pa.Table:
    rows = [{"driver_id": rng.randint(1, 4), "ts": _t(rng), "x": rng.random(), "n": rng.randint(0, 9),
             "created": None if rng.random() < 0.2 else BASE + timedelta(minutes=rng.choice([0, 5, 10]))}
            for _ in range(k)]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _repo(folder: Path, rng: random.Random, files: int = 3) -> Path:
    (folder / "data" / "stats").mkdir(parents=True)
    (folder / "featurestore.yaml").write_text("project: tables\n")
    for i in range(files):
        pq.write_table(_rows(rng, rng.randint(1, 25)), folder / "data" / "stats" / f"part-{i}.parquet")
    return folder


def _store(folder: Path, use: bool = True, clock: Any = None) -> FeatureStore:
    cfg = parse_config({"project": "tables", "feature_tables": {"use_for_training": use}}, "test", env={})
    return FeatureStore(folder, config=cfg, clock=clock or (lambda: NOW))


def _entities(rng: random.Random) -> pa.Table:
    return pa.Table.from_pylist([{"driver_id": rng.randint(1, 5), "event_timestamp": _t(rng) + timedelta(minutes=5)}
                                 for _ in range(40)])


FEATURES = ["plain:x", "plain:n", "tx:x2", "tx:n"]


@pytest.mark.parametrize("seed", range(10))
def test_training_from_tables_equals_training_from_sources(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    folder = _repo(tmp_path, rng)
    source, tables = _store(folder, use=False), _store(folder)
    views = _views(rng.choice([None, timedelta(minutes=10)]))
    source.apply(views)
    tables.apply(views)  # the transform is this process's code: each store learns it by applying
    source.push("stats_push", _rows(rng, 6), to="offline")
    # two overlapping runs and an incremental one: the table holds versions of rows, and every row
    tables.materialize_offline(BASE, BASE + timedelta(minutes=20))
    tables.materialize_offline(BASE + timedelta(minutes=10), BASE + timedelta(minutes=25))
    tables.materialize_offline_incremental(NOW)
    assert all(p.startswith(str(tables.feature_tables_dir)) for p in tables.offline.view_files(
        tables.get_feature_view("tx")))
    entities = _entities(rng)
    for as_of_created in (False, True):
        want = source.get_historical_features(entities, FEATURES, True, as_of_created=as_of_created).to_arrow()
        got = tables.get_historical_features(entities, FEATURES, True, as_of_created=as_of_created).to_arrow()
        assert got.equals(want), (seed, as_of_created)


def test_incremental_runs_and_backfills_append(tmp_path: Path) -> None:
    rng = random.Random(1)
    folder = _repo(tmp_path, rng, files=1)
    pq.write_table(_rows(rng, 60), folder / "data" / "stats" / "part-0.parquet")  # rows on both sides of 00:15
    store = _store(folder)
    store.apply(_views(None))
    first = store.materialize_offline_incremental(BASE + timedelta(minutes=15), ["plain"])
    assert first[0].start is None and store.feature_table_watermarks()["plain"]["watermark"] == \
        (BASE + timedelta(minutes=15)).isoformat()
    second = store.materialize_offline_incremental(NOW, ["plain"])
    all_rows = pq.read_table(folder / "data" / "stats" / "part-0.parquet").num_rows
    assert first[0].rows + second[0].rows == all_rows  # each row once: the second run starts after the watermark
    assert "nothing to do" in (store.materialize_offline_incremental(NOW, ["plain"])[0].notice or "")
    files = store.offline.view_files(store.get_feature_view("plain"))
    assert len(files) == 2
    # the source is rewritten with a corrected value; a backfill appends the new version, which wins
    table = pq.read_table(folder / "data" / "stats" / "part-0.parquet")
    fixed = table.set_column(3, "x", pa.array([v + 100 for v in table.column("x").to_pylist()]))
    pq.write_table(fixed, folder / "data" / "stats" / "part-0.parquet")
    entities = _entities(rng)
    stale = store.get_historical_features(entities, ["plain:x"]).to_arrow()
    store.materialize_offline(BASE, NOW, ["plain"])
    assert len(store.offline.view_files(store.get_feature_view("plain"))) == 3
    assert all(Path(f).exists() for f in files)  # appended, never rewritten
    fresh = store.get_historical_features(entities, ["plain:x"]).to_arrow()
    want = _store(folder, use=False).get_historical_features(entities, ["plain:x"]).to_arrow()
    assert fresh.equals(want) and not stale.equals(want)


def test_as_of_reads_only_runs_before_it(tmp_path: Path) -> None:
    rng = random.Random(2)
    folder = _repo(tmp_path, rng, files=1)
    clock = {"now": BASE + timedelta(hours=1)}
    store = _store(folder, clock=lambda: clock["now"])
    store.apply(_views(None))
    store.materialize_offline(BASE, NOW, ["plain"])
    clock["now"] = BASE + timedelta(hours=2, minutes=30)
    entities = _entities(rng)
    before = store.get_historical_features(entities, ["plain:x"], as_of=BASE + timedelta(hours=2)).to_arrow()
    table = pq.read_table(folder / "data" / "stats" / "part-0.parquet")  # rewritten: every value changes
    pq.write_table(table.set_column(3, "x", pa.array([-1.0] * table.num_rows)), folder / "data" / "stats" /
                   "part-0.parquet")
    clock["now"] = BASE + timedelta(hours=3)
    store.materialize_offline(BASE, NOW, ["plain"])
    clock["now"] = BASE + timedelta(hours=4)
    assert store.get_historical_features(entities, ["plain:x"], as_of=BASE + timedelta(hours=2)).to_arrow() \
        .equals(before)  # the run of 03:00 is after the cutoff: a rewritten source does not change the set
    later = store.get_historical_features(entities, ["plain:x"], as_of=BASE + timedelta(hours=3)).to_arrow()
    assert set(later.column("x").to_pylist()) <= {-1.0, None}


def test_a_changed_definition_does_not_read_the_old_table(tmp_path: Path) -> None:
    rng = random.Random(3)
    folder = _repo(tmp_path, rng, files=1)
    store = _store(folder)
    store.apply(_views(None))
    store.materialize_offline(BASE, NOW, ["plain"])
    old = store.get_feature_view("plain")
    assert store.offline.view_files(old)[0].startswith(str(store.feature_tables_dir))
    store.apply([FeatureView(name="plain", entities=[driver], source=old.source,
                             schema=[Field(name="x", dtype=Float64)])])  # a feature removed
    assert store.offline.view_files(store.get_feature_view("plain")) == [str(folder / "data/stats/part-0.parquet")]
    store.materialize_offline(BASE, NOW, ["plain"])
    assert len(list((store.feature_tables_dir / "plain").iterdir())) == 2  # one folder per definition


def test_errors(tmp_path: Path) -> None:
    folder = _repo(tmp_path, random.Random(4), files=1)
    store = _store(folder)
    source = ParquetSource(path="data/stats", timestamp_field="ts", created_timestamp_field="created")
    agg = AggregateView(name="agg", entities=[driver], aggregations=[Aggregation(column="x", function="sum")],
                        source=source)
    store.apply([*_views(None), agg])
    with pytest.raises(InputError, match="aggregate view 'agg' has no offline feature table"):
        store.materialize_offline(BASE, NOW, ["agg"])
    with pytest.raises(NotFoundError, match="feature view 'nope'"):
        store.materialize_offline(BASE, NOW, ["nope"])
    with pytest.raises(InputError, match="is after end_date"):
        store.materialize_offline(NOW, BASE, ["plain"])
    assert not store.feature_tables_dir.exists()


def test_training_set_manifest_names_the_table(tmp_path: Path) -> None:
    folder = _repo(tmp_path, random.Random(5), files=1)
    store = _store(folder)
    store.apply(_views(None))
    store.materialize_offline(BASE, NOW, ["plain"])
    ts = store.create_training_set("t", _entities(random.Random(5)), ["plain:x", "tx:x2"], as_of=NOW)
    assert ts.manifest.feature_tables == ["plain"]
    assert any(f.path.startswith("data/feature_tables/plain/") for f in ts.manifest.sources)
    store.materialize_offline(BASE, NOW, ["plain"])  # a later run (after the cutoff): the set still re-creates
    assert store.recreate_training_set("t").identical
    lineage = store.lineage("plain")
    table = lineage.nodes["feature_table:plain"].details
    assert table["files"] == 2 and table["read_for_training"] and table["path"] == "data/feature_tables/plain"
    assert "file:data/stats/part-0.parquet" in lineage.upstream  # the source's own files, not the table's
    assert "training_set:t@1" in store.lineage("plain", kind="feature_table").downstream


def test_cli_and_http_with_keys(tmp_path: Path) -> None:
    folder = _repo(tmp_path, random.Random(6), files=1)
    store = _store(folder)
    store.apply(_views(None)[:2])  # the CLI and the server run the repo's code: no test-defined transform
    out = ok(CliRunner().invoke(main, ["materialize-offline", "--repo", str(folder), BASE.isoformat(),
                                       NOW.isoformat(), "--views", "plain"]))
    assert "plain" in out and "WATERMARK" in out
    out = ok(CliRunner().invoke(main, ["materialize-offline-incremental", "--repo", str(folder), NOW.isoformat()]))
    assert "nothing to do" in out
    config = yaml.safe_load((folder / "featurestore.yaml").read_text())
    config["server"] = {"api_keys": {"read": ["rk"], "write": ["wk"]}}
    (folder / "featurestore.yaml").write_text(yaml.safe_dump(config))
    body = {"start_ts": BASE.isoformat(), "end_ts": NOW.isoformat(), "feature_views": ["plain"]}
    with TestClient(create_app(folder)) as c:
        assert c.post("/materialize-offline", json=body).status_code == 401
        assert c.post("/materialize-offline", json=body, headers={"Authorization": "Bearer rk"}).status_code == 403
        r = c.post("/materialize-offline", json=body, headers={"Authorization": "Bearer wk"})
        assert r.status_code == 200 and r.json()["views"][0]["rows"] > 0
        r = c.post("/materialize-offline", json={"end_ts": NOW.isoformat()}, headers={"Authorization": "Bearer wk"})
        assert r.status_code == 200 and all("notice" in v for v in r.json()["views"])
        r = c.post("/materialize-offline", json={"end_ts": "soon"}, headers={"Authorization": "Bearer wk"})
        assert r.status_code == 400

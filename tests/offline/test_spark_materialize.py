"""The Spark engine's errors (featurestore errors naming the object at fault, never a Java stack) and materialize
writing from the executors, against the DuckDB engine (helpers and fixtures: test_spark_engine.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import FeatureStore
from featurestore.config import parse_config
from featurestore.errors import ConfigError, DataSourceError
from featurestore.materialize.executors import executor_writes
from featurestore.offline.factory import open_offline_store
from tests.offline.spark_session import spark_repo_config, spark_session  # noqa: F401 - a fixture
from tests.offline.test_spark_engine import MIN, STATS, T0, _rule_entities, _rule_repo, pair, same  # noqa: F401


def test_missing_source_file_is_a_data_source_error(pair, tmp_path: Path) -> None:  # noqa: F811
    objects, _ = _rule_repo(tmp_path)
    duck, sparks = pair()
    duck.apply(objects)
    (tmp_path / "plain.parquet").unlink()
    with pytest.raises(DataSourceError, match="words") as err:
        sparks[0].get_historical_features(_rule_entities(), ["words:w"]).to_arrow()
    assert err.value.view == "words"
    assert "Py4J" not in str(err.value) and "\tat " not in str(err.value)


def test_file_vanishing_while_spark_reads_is_a_data_source_error(pair, tmp_path: Path) -> None:  # noqa: F811
    """A file removed after the plan was built: Spark's own failure, named after the view, no Java stack."""
    objects, _ = _rule_repo(tmp_path)
    duck, sparks = pair()
    duck.apply(objects)
    job = sparks[0].get_historical_features(_rule_entities(), ["words:w"])
    (tmp_path / "plain.parquet").unlink()
    with pytest.raises(DataSourceError, match="feature view 'words'") as err:
        job.to_arrow()
    assert "\tat " not in str(err.value) and "Traceback" not in str(err.value)


def test_bad_master_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="master"):
        parse_config({"project": "t", "offline_store": {"type": "spark", "master": "mesos://x:5050"}}, "test", env={})
    cfg = parse_config({"project": "t", "offline_store": {"type": "spark"}}, "test", env={})
    assert cfg.offline_store.type == "spark" and cfg.offline_store.master == "local[2]"
    assert parse_config({"project": "t", "offline_store": {"path": "x.db"}}, "test", env={}).offline_store.type == \
        "duckdb"


def test_missing_java_is_a_config_error(tmp_path: Path) -> None:
    """Spark without Java (a fresh process: the test run's session is already up): ConfigError, no stack."""
    script = ("from featurestore.config import SparkOfflineConfig\n"
              "from featurestore.errors import ConfigError\n"
              "from featurestore.offline.spark.session import open_session\n"
              "try:\n    open_session(SparkOfflineConfig(type='spark'))\n"
              "except ConfigError as err:\n    print('CONFIG', err)\n")
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java"), "PATH": "/usr/bin:/bin"}
    env.pop("SPARK_HOME", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert "CONFIG offline_store: Spark did not start" in done.stdout, done.stdout + done.stderr
    assert "Java" in done.stdout


def _online_values(store: FeatureStore, entities: list[dict[str, Any]], feats: list[str]) -> dict[str, list[Any]]:
    return store.get_online_features(feats, entities).to_dict()


def _materialized(tmp_path: Path, online: dict[str, Any] | None) -> dict[str, Any]:
    """Per engine, what materialize reports and leaves online (``online``: the online_store section; None: SQLite
    in each repo; each engine its own project, so one Redis holds both)."""
    (tmp_path / "repo").mkdir()
    objects, _ = _rule_repo(tmp_path / "repo")
    results = {}
    for name, offline in (("duckdb", {"type": "duckdb"}), ("spark", spark_repo_config(3))):
        repo = tmp_path / name
        shutil.copytree(tmp_path / "repo", repo)
        cfg = parse_config({"project": f"t_{name}", "offline_store": offline,
                            **({"online_store": online} if online else {})}, "test", env={})
        engine = open_offline_store(cfg.offline_store, repo)
        store = FeatureStore(repo, config=cfg, offline=engine)
        store.apply(objects)
        store.push("stats_push", pa.Table.from_pylist([{"driver_id": 1, "event_timestamp": T0 + 5 * MIN,
                                                        "created": T0, "v": 300.0}], schema=STATS), to="offline")
        assert (executor_writes(engine, store._online_target()) is not None) == (name == "spark")
        runs = store.materialize(T0 - 60 * MIN, T0 + 60 * MIN)
        again = store.materialize_incremental(T0 + 61 * MIN)
        entities = [{"driver_id": d, "a": a, "b": b} for d in (1, 2, 3, 4) for a, b in ((1, 23), (12, 3))]
        results[name] = ([(r.view, r.rows, r.written, r.skipped) for r in runs],
                         [(r.view, r.rows, r.written) for r in again],
                         _online_values(store, entities, ["stats:v", "words:w", "pairs:p", "everyone:g"]))
        store.close()
        engine.close()
    return results


def _check_materialized(results: dict[str, Any]) -> None:
    duck, spark = results["duckdb"], results["spark"]
    assert spark[0] == duck[0] and spark[1] == duck[1]
    assert str(spark[2]) == str(duck[2])  # NaN == NaN as text
    assert duck[2]["w"][:2] == ["late", "late"] and duck[2]["p"][:2] == [None, 2.5]  # values written, not just nulls
    assert duck[0] and all(r[1] for r in duck[0])  # every view read rows


def test_materialize_from_executors_equals_duckdb(tmp_path: Path, spark_session: Any) -> None:  # noqa: F811
    """materialize on Spark (the executors write to the online store, SQLite here) leaves exactly the online values,
    row counts and watermarks materialize on DuckDB leaves; a second, incremental run writes nothing new."""
    _check_materialized(_materialized(tmp_path, None))


def test_materialize_from_executors_into_redis(tmp_path: Path, spark_session: Any,  # noqa: F811
                                               clean_redis_url: str) -> None:
    """The same into Redis: the executors open their own Redis clients from the config."""
    _check_materialized(_materialized(tmp_path, {"type": "redis", "url": clean_redis_url}))


def test_quarantined_latest_rows_equal_duckdb(pair, tmp_path: Path) -> None:  # noqa: F811
    """latest_rows leaving out rows that fail a row-level check (materialize under quarantine): each entity gets
    its latest good row, on Spark as on DuckDB."""
    from featurestore import FeatureView, expect
    from featurestore.quality.checks import RowFilter

    objects, _ = _rule_repo(tmp_path)
    stats = next(o for o in objects if getattr(o, "name", "") == "stats")
    checked = FeatureView(name="stats", entities=stats.entities, schema=stats.schema, source=stats.source,
                          ttl=stats.ttl, expectations=[expect.between("v", min=0, max=5)], on_invalid="quarantine")
    objects = [checked if o is stats else o for o in objects]
    duck, sparks = pair()
    duck.apply(objects)
    exclude = RowFilter(tuple(checked.expectations), 0)
    want = pa.Table.from_batches(list(duck.offline.latest_rows(checked, None, T0 + 60 * MIN, exclude=exclude)))
    got = pa.Table.from_batches(list(sparks[2].offline.latest_rows(checked, None, T0 + 60 * MIN, exclude=exclude)),
                                schema=want.schema)
    assert got.sort_by("driver_id").equals(want.sort_by("driver_id"))
    assert 10.0 not in want.column("v").to_pylist() and want.num_rows > 0  # the out-of-range row was left out


def _nullable(table: pa.Table) -> pa.Table:
    return table.cast(pa.schema([f.with_nullable(True) for f in table.schema]))


def test_offline_feature_tables_written_by_spark_equal_duckdbs(tmp_path: Path, spark_session: Any) -> None:  # noqa: F811
    """materialize-offline on Spark (rows selected per bucket, sorted by Spark, streamed into the run's one file)
    writes exactly the DuckDB engine's file: same rows in the same tie-break order, same types (DuckDB's writer also
    marks some columns required, which changes no value read); no file for an empty range."""
    from featurestore import FeatureView
    from featurestore.offline.duckdb.feature_tables import table_files

    objects, push = _rule_repo(tmp_path)
    cfg = parse_config({"project": "t"}, "test", env={})
    FeatureStore(tmp_path, config=cfg).apply(objects)
    FeatureStore(tmp_path, config=cfg).push(push.name, pa.Table.from_pylist(
        [{"driver_id": 1, "event_timestamp": T0 + 5 * MIN, "created": T0, "v": 300.0}], schema=STATS), to="offline")
    views = [o for o in objects if isinstance(o, FeatureView)]
    assert len(views) >= 3
    engines = {name: open_offline_store(offline, tmp_path, tmp_path / f"tables_{name}")
               for name, offline in (("duckdb", cfg.offline_store),
                                     ("spark", parse_config({"project": "t", "offline_store": spark_repo_config(3)},
                                                            "test", env={}).offline_store))}
    try:
        for view in views:
            counts = {name: e.write_feature_table(view, None, T0 + 60 * MIN, T0 + 61 * MIN)
                      for name, e in engines.items()}
            assert counts["spark"] == counts["duckdb"] > 0, (view.name, counts)
            files = {name: table_files(tmp_path / f"tables_{name}", view) for name in engines}
            assert len(files["spark"]) == len(files["duckdb"]) == 1
            got, want = (_nullable(pq.read_table(files[name][0])) for name in ("spark", "duckdb"))
            same(want, got)
        view = views[0]
        assert all(e.write_feature_table(view, T0 + 2000 * MIN, T0 + 3000 * MIN, T0 + 62 * MIN) == 0
                   for e in engines.values())  # an empty range: no file
        assert len(table_files(tmp_path / "tables_spark", view)) == 1
    finally:
        for engine in engines.values():
            engine.close()


def test_aggregate_view_materialize_on_spark_equals_duckdb(tmp_path: Path, spark_session: Any) -> None:  # noqa: F811
    """materialize of an aggregate view on Spark (its entities' states computed per bucket by the DuckDB engine's
    queries, in pages of 2 entities here): the same run counts, each entity's encoded state byte for byte, and the
    same online values as on DuckDB."""
    from featurestore import Entity, Field, ParquetSource
    from featurestore.definitions.aggregate_view import AggregateView, Aggregation
    from featurestore.materialize.aggregates import encode_page
    from featurestore.types import Float64
    from featurestore.utc import epoch_us

    rng = __import__("random").Random(11)
    rows = [{"driver_id": rng.choice([1, 2, 3, 4, 5, None]), "event_timestamp": T0 + rng.randint(-200, 90) * MIN,
             "created": rng.choice([None, T0 - 300 * MIN]), "v": rng.choice([None, float("nan"), rng.random()])}
            for _ in range(400)]
    (tmp_path / "repo" / "ev").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows[:200], schema=STATS), tmp_path / "repo" / "ev" / "part-1.parquet")
    pq.write_table(pa.Table.from_pylist(rows[200:], schema=STATS), tmp_path / "repo" / "ev" / "part-0.parquet")
    driver = Entity(name="driver", join_keys=["driver_id"])
    aggs = [Aggregation(function=fn, column=col, windows=("10m", "1h", "1d")) for fn, col in
            (("count", None), ("sum", "v"), ("mean", "v"), ("last", "v"), ("max", "v"))]
    view = AggregateView(name="agg", entities=[driver], aggregations=aggs, schema=[Field(name="v", dtype=Float64)],
                         source=ParquetSource(path="ev", created_timestamp_field="created"))
    results = {}
    for name, offline in (("duckdb", {"type": "duckdb"}), ("spark", spark_repo_config(3))):
        repo = tmp_path / name
        shutil.copytree(tmp_path / "repo", repo)
        cfg = parse_config({"project": "t", "offline_store": offline}, "test", env={})
        engine = open_offline_store(cfg.offline_store, repo)
        store = FeatureStore(repo, config=cfg, offline=engine, clock=lambda: T0 + 95 * MIN)
        store.apply([driver, view])
        runs = store.materialize(T0 - 300 * MIN, T0 + 95 * MIN)
        snapshot_us = epoch_us(T0 + 95 * MIN)
        states = {}  # entity -> its encoded state, whatever the order of pages and entities
        for entities, tail in engine.aggregate_states(view, T0 + 95 * MIN, page_entities=2):
            for key, state in zip(entities.column("driver_id").to_pylist(),
                                  encode_page(view, snapshot_us, entities, tail), strict=True):
                states[key] = state
        values = store.get_online_features(["agg:*"], [{"driver_id": d} for d in range(7)]).to_dict()
        results[name] = ([(r.view, r.rows, r.written) for r in runs], str(values), states)
        store.close()
        engine.close()
    assert results["spark"] == results["duckdb"]
    assert results["duckdb"][0][0][1] == 5 and sorted(results["duckdb"][2]) == [1, 2, 3, 4, 5]
    assert "None" in results["duckdb"][1] and "0." in results["duckdb"][1]  # values for known entities, not others

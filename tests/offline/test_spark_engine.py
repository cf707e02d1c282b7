"""The Spark engine against the DuckDB engine: the same repo, the same request, exactly the same Arrow table
(schema, types, order, null vs NaN), for bucket counts 1, 3 and 8; and the oracle of tests/offline/reference.py.

One SparkSession for the run (spark_session.py); each case is a few small Spark jobs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureStore, FeatureView, Field, ParquetSource, PushSource
from featurestore.config import parse_config
from featurestore.offline.factory import open_offline_store
from featurestore.types import Float64, Int32, String
from tests.offline import test_pit_reference as ref
from tests.offline.reference import point_in_time
from tests.offline.spark_session import spark_repo_config, spark_session  # noqa: F401 - a fixture

BUCKETS = (1, 3, 8)


@pytest.fixture
def pair(tmp_path: Path, spark_session: Any) -> Iterator[Callable[..., tuple[FeatureStore, list[FeatureStore]]]]:  # noqa: F811
    """``make(**config) -> (DuckDB store, [Spark store per bucket count])`` on one repo in ``tmp_path``."""
    engines: list[Any] = []

    def make(**config: object) -> tuple[FeatureStore, list[FeatureStore]]:
        cfg = parse_config({"project": "t", **config}, "test", env={})
        duck = open_offline_store(cfg.offline_store, tmp_path)
        engines.append(duck)
        sparks = []
        for n in BUCKETS:
            scfg = parse_config({"project": "t", **config, "offline_store": spark_repo_config(n)}, "test", env={})
            engine = open_offline_store(scfg.offline_store, tmp_path)
            engines.append(engine)
            sparks.append(FeatureStore(tmp_path, config=scfg, offline=engine))
        return FeatureStore(tmp_path, config=cfg, offline=duck), sparks

    yield make
    for engine in engines:
        engine.close()


def same(duck: pa.Table, spark: pa.Table) -> None:
    """Exact equality: schema, types, order, values, nulls where nulls and NaN where NaN (``Table.equals`` would
    call two NaN different)."""
    assert spark.schema == duck.schema, f"\n{spark.schema}\n!=\n{duck.schema}"
    assert spark.num_rows == duck.num_rows
    for name in duck.column_names:
        want, got = duck.column(name).combine_chunks(), spark.column(name).combine_chunks()
        assert want.is_null().equals(got.is_null()), f"column {name}: nulls differ"
        if pa.types.is_floating(want.type):
            nan_w, nan_g = pc.fill_null(pc.is_nan(want), False), pc.fill_null(pc.is_nan(got), False)
            assert nan_w.equals(nan_g), f"column {name}: NaN differ"
            keep = pc.invert(nan_w)
            want, got = want.filter(keep), got.filter(keep)
        if not want.equals(got):
            diff = [i for i, (w, g) in enumerate(zip(want.to_pylist(), got.to_pylist(), strict=True)) if w != g]
            raise AssertionError(f"column {name}: rows {diff[:10]} differ: duckdb {[want[i] for i in diff[:3]]}, "
                                 f"spark {[got[i] for i in diff[:3]]}")


case = Entity(name="case", join_keys=["case_id"])
TTLS_A = (timedelta(minutes=5), timedelta(minutes=3, microseconds=1), None)
TTLS_B = (timedelta(minutes=7), timedelta(0))
SEEDS = 40


def _seed_ttls(seed: int) -> tuple[timedelta | None, timedelta]:
    rng = random.Random(seed)  # the first draws of tests/offline/test_pit_reference.py's cases
    return rng.choice(TTLS_A), rng.choice(TTLS_B)


def _case_views(ttl_a: timedelta | None, ttl_b: timedelta) -> list[FeatureView]:
    """The reference test's three views, each keyed by the case first (many cases share one Spark job)."""
    out = []
    for view in ref._views(ttl_a, ttl_b):
        out.append(FeatureView(name=view.name, entities=[case, *view.entities], ttl=view.ttl, schema=view.schema,
                               source=view.source))
    return out


def _with_case(table: pa.Table, case_id: int) -> pa.Table:
    return table.append_column("case_id", pa.array([case_id] * table.num_rows, pa.int64()))


GROUPS = [(a, b) for a in TTLS_A for b in TTLS_B]


@pytest.mark.parametrize("as_of_created", [False, True])
@pytest.mark.parametrize("group", range(len(GROUPS)))
def test_random_training_sets_equal_duckdb_and_reference(pair, tmp_path: Path, group: int,
                                                         as_of_created: bool) -> None:
    """The reference test's 40 random cases, those of one (ttl a, ttl b) pair in one repo (a case key added to
    every view): Spark equals DuckDB exactly, and each case equals the brute-force oracle."""
    ttl_a, ttl_b = GROUPS[group]
    seeds = [s for s in range(SEEDS) if _seed_ttls(s) == (ttl_a, ttl_b)]
    if not seeds:
        pytest.skip("no seed draws this pair of ttls")
    a_parts, b_parts, c_parts, entity_parts, oracle = [], [], [], [], []
    for seed in seeds:
        rng = random.Random(seed)
        rng.choice(TTLS_A), rng.choice(TTLS_B)
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        a_rows, b_rows, c_rows = ref._write_sources(folder, rng)
        entities = ref._entities(rng, a_rows, ttl_a)
        a_parts.append(_with_case(pq.read_table(folder / "a.parquet"), seed))
        b_parts.append(_with_case(pq.read_table(folder / "b.parquet"), seed))
        c_parts.append(_with_case(pacsv.read_csv(folder / "c.csv"), seed))
        entity_parts.append(_with_case(pa.Table.from_pylist(entities, schema=ENTITY_SCHEMA), seed))
        oracle.append((a_rows, b_rows, c_rows, entities))
    pq.write_table(pa.concat_tables(a_parts), tmp_path / "a.parquet")
    pq.write_table(pa.concat_tables(b_parts), tmp_path / "b.parquet")
    pacsv.write_csv(pa.concat_tables(c_parts), tmp_path / "c.csv")
    entity_table = pa.concat_tables(entity_parts)
    duck, sparks = pair()
    duck.apply([case, ref.driver, ref.customer, *_case_views(ttl_a, ttl_b)])
    feats = ["a:x", "a:n", "a:s", "a:q", "b:score", "c:tier", "c:x"]
    want = duck.get_historical_features(entity_table, feats, full_feature_names=True,
                                        as_of_created=as_of_created).to_arrow()
    spark = sparks[(2 * group + as_of_created) % len(sparks)]  # every bucket count in 4 of the 12 runs
    same(want, spark.get_historical_features(entity_table, feats, full_feature_names=True,
                                             as_of_created=as_of_created).to_arrow())
    offset = 0
    for a_rows, b_rows, c_rows, entities in oracle:
        got = want.slice(offset, len(entities)).to_pylist()
        offset += len(entities)
        exp_a = point_in_time(a_rows, ["driver_id"], ["x", "n", "s", "q"], entities, ttl=ttl_a,
                              as_of_created=as_of_created, created_col="created")
        exp_b = point_in_time(b_rows, ["driver_id", "customer_id"], ["score"], entities, ttl=ttl_b or None,
                              event_col="ts", as_of_created=as_of_created)
        exp_c = point_in_time(c_rows, ["customer_id"], ["tier", "x"], entities, as_of_created=as_of_created)
        for i, row in enumerate(got):
            expected = {"a__x": exp_a[i]["x"], "a__n": exp_a[i]["n"], "a__s": exp_a[i]["s"], "a__q": exp_a[i]["q"],
                        "b__score": exp_b[i]["score"], "c__tier": exp_c[i]["tier"], "c__x": exp_c[i]["x"]}
            assert {k: row[k] for k in expected} == expected, f"entity row {i}: {entities[i]}"


ENTITY_SCHEMA = pa.schema([("driver_id", pa.int64()), ("customer_id", pa.string()),
                           ("event_timestamp", pa.timestamp("us", tz="America/New_York")), ("label", pa.int64())])


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
STATS = pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                   ("created", pa.timestamp("us", tz="UTC")), ("v", pa.float64())])


def _rule_repo(root: Path) -> tuple[list[Any], PushSource]:
    """Sources and views where every tie rule decides something (see each view's comment)."""
    driver = Entity(name="driver", join_keys=["driver_id"])
    pair_ = Entity(name="pair", join_keys=["a", "b"])
    # ties on (event, created) broken by file order (part-10 before part-2, as text) then row order, pushed rows last
    folder = root / "stats"
    folder.mkdir()
    tie = {"driver_id": 1, "event_timestamp": T0 + 5 * MIN, "created": T0}
    pq.write_table(pa.Table.from_pylist([{**tie, "v": 2.0}, {**tie, "v": 2.5},
                                         {"driver_id": 2, "event_timestamp": T0, "created": T0 + MIN, "v": 2.7},
                                         {"driver_id": 2, "event_timestamp": T0, "created": T0, "v": 2.8}],
                                        schema=STATS), folder / "part-2.parquet")
    pq.write_table(pa.Table.from_pylist([{**tie, "v": 10.0}, {**tie, "driver_id": None, "v": -1.0},
                                         {**tie, "event_timestamp": None, "v": -2.0},
                                         {"driver_id": 3, "event_timestamp": T0 - 10 * MIN, "created": None,
                                          "v": float("nan")}], schema=STATS), folder / "part-10.parquet")
    push = PushSource(name="stats_push", batch_source=ParquetSource(path="stats", created_timestamp_field="created"))
    stats = FeatureView(name="stats", entities=[driver], schema=[Field(name="v", dtype=Float64)], source=push,
                        ttl=timedelta(minutes=30))
    # no created column, equal event times (the later row wins), nanosecond naive times as pandas writes them
    plain = pa.table({"driver_id": pa.array([1, 1, 1, 2, None], pa.int32()),
                      "ts": pa.array([0, 0, 60, 0, 0], pa.int64()).cast(pa.timestamp("s")).cast(pa.timestamp("ns")),
                      "w": pa.array(["first", "second", "late", None, "nokey"])})
    plain = plain.set_column(1, "ts", pa.array([int((T0.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()
                                                    * 10**9) + v * 10**9 + 1 for v in [0, 0, 60, 0, 0]],
                                                pa.timestamp("ns")))
    pq.write_table(plain, root / "plain.parquet")
    words = FeatureView(name="words", entities=[driver], schema=[Field(name="w", dtype=String)],
                        source=ParquetSource(path="plain.parquet", timestamp_field="ts"))
    # two keys whose concatenations collide: (1, 23) and (12, 3)
    pq.write_table(pa.table({"a": [1, 12, 1], "b": [23, 3, 23],
                             "event_timestamp": pa.array([T0, T0, T0 + MIN], pa.timestamp("us", tz="UTC")),
                             "p": [1.5, 2.5, None]}), root / "pairs.parquet")
    pairs = FeatureView(name="pairs", entities=[pair_], schema=[Field(name="p", dtype=Float64)],
                        source=ParquetSource(path="pairs.parquet"))
    # a view without entities: joins every entity row by time alone
    times = pa.array([T0, T0 + 2 * MIN, T0 + 2 * MIN], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"event_timestamp": times,
                             "g": pa.array([1, 2, 3], pa.int32())}), root / "glob.parquet")
    everyone = FeatureView(name="everyone", entities=[], schema=[Field(name="g", dtype=Int32)],
                           source=ParquetSource(path="glob.parquet"))
    return [driver, pair_, stats, words, pairs, everyone], push


def _rule_entities() -> pa.Table:
    rows = []
    for d in (1, 2, 3, 4, None):
        for m in (-20, 0, 1, 2, 5, 6, 40):
            for a, b in ((1, 23), (12, 3), (1, 2)):
                rows.append({"driver_id": d, "a": a, "b": b,
                             "event_timestamp": None if m == 40 and d == 4 else (T0 + m * MIN).replace(tzinfo=None)})
    return pa.Table.from_pylist(rows, schema=pa.schema([("driver_id", pa.int32()), ("a", pa.int64()),
                                                        ("b", pa.int64()), ("event_timestamp", pa.timestamp("ns"))]))


def test_tie_rules_equal_duckdb(pair, tmp_path: Path) -> None:
    """Created time, pushed over batch, the row read last across files and within a file, ttl, equal event times
    without a created column, colliding multi-key concatenations, views without entities, null keys and times,
    NaN vs null, nanosecond times: for every bucket count, with and without as_of_created and an as_of cutoff."""
    objects, _ = _rule_repo(tmp_path)
    duck, sparks = pair()
    duck.apply(objects)
    tie = {"driver_id": 1, "event_timestamp": T0 + 5 * MIN, "created": T0}
    duck.push("stats_push", pa.Table.from_pylist([{**tie, "v": 100.0}], schema=STATS), to="offline")
    duck.push("stats_push", pa.Table.from_pylist([{**tie, "v": 200.0}, {**tie, "v": 201.0}], schema=STATS),
              to="offline")
    entities = _rule_entities()
    feats = ["stats:v", "words:w", "pairs:p", "everyone:g"]
    calls: list[dict[str, Any]] = [{}, {"as_of_created": True}, {"as_of": T0 + 3 * MIN}]
    for spark, call in zip(sparks, calls, strict=True):  # each bucket count with one of the calls
        want = duck.get_historical_features(entities, feats, **call).to_arrow()
        same(want, spark.get_historical_features(entities, feats, **call).to_arrow())
    # the values the rules give (DuckDB and Spark alike): pushed last wins the tie, the later row of equal times
    plain = duck.get_historical_features(entities, feats).to_arrow().to_pylist()
    first = {(r["driver_id"], r["a"], r["b"], r["event_timestamp"]): r for r in plain}
    assert first[(1, 1, 23, (T0 + 5 * MIN).replace(tzinfo=None))]["v"] == 201.0
    assert first[(1, 1, 23, (T0 + 5 * MIN).replace(tzinfo=None))]["w"] == "late"
    assert first[(1, 12, 3, T0.replace(tzinfo=None))]["p"] == 2.5
    assert first[(2, 1, 2, (T0 + MIN).replace(tzinfo=None))]["v"] == 2.7


def test_spine_and_latest_rows_equal_duckdb(pair, tmp_path: Path) -> None:
    objects, _ = _rule_repo(tmp_path)
    duck, sparks = pair()
    duck.apply(objects)
    duck.push("stats_push", pa.Table.from_pylist([{"driver_id": 1, "event_timestamp": T0 + 5 * MIN, "created": T0,
                                                   "v": 7.0}], schema=STATS), to="offline")
    views = {o.name: o for o in objects if isinstance(o, FeatureView)}
    start, end = T0 - 60 * MIN, T0 + 60 * MIN
    for n, spark in enumerate(sparks):
        for name in ("stats", "words", "pairs"):
            want = duck.offline.spine([views[name]], start, end)
            same(want, spark.offline.spine([views[name]], start, end))
        same(duck.get_historical_features(None, ["stats:v"], start_date=start, end_date=end).to_arrow(),
             spark.get_historical_features(None, ["stats:v"], start_date=start, end_date=end).to_arrow())
        for name in ("stats", "words", "pairs", "everyone"):
            lo = None if n == 0 else T0 - MIN
            want = pa.Table.from_batches(list(duck.offline.latest_rows(views[name], lo, end)))
            got = pa.Table.from_batches(list(spark.offline.latest_rows(views[name], lo, end)),
                                        schema=want.schema)
            order = [(c, "ascending") for c in want.column_names if c not in views[name].feature_names]
            same(want.sort_by(order), got.sort_by(order))


def test_to_parquet_and_folder_equal_to_arrow(pair, tmp_path: Path) -> None:
    """``to_parquet`` (through Spark, one file) holds exactly ``to_arrow``'s table; ``write_folder`` the same rows."""
    objects, _ = _rule_repo(tmp_path)
    duck, sparks = pair()
    duck.apply(objects)
    entities = _rule_entities()
    feats = ["stats:v", "words:w", "pairs:p"]
    job = sparks[1].get_historical_features(entities, feats)
    want = duck.get_historical_features(entities, feats).to_arrow()
    path = job.to_parquet(tmp_path / "out" / "train.parquet")
    same(want, pq.read_table(path))
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.parquet"]  # nothing left behind
    folder = job.write_folder(str(tmp_path / "folder"))  # type: ignore[attr-defined]
    assert pq.read_table(folder).num_rows == entities.num_rows
    pq.write_table(entities, tmp_path / "entities.parquet")  # an entity frame given as a Parquet path
    path_entities = str(tmp_path / "entities.parquet")
    same(duck.get_historical_features(path_entities, feats).to_arrow(),
         sparks[2].get_historical_features(path_entities, feats).to_arrow())
    none = entities.slice(0, 0)  # no entity rows at all
    same(duck.get_historical_features(none, feats).to_arrow(),
         sparks[0].get_historical_features(none, feats).to_arrow())


def test_aggregate_view_training_set_equals_duckdb(pair, tmp_path: Path) -> None:
    """An aggregate view in a training set (its windows computed per bucket by the DuckDB engine's own step)."""
    from featurestore.definitions.aggregate_view import AggregateView, Aggregation

    rng = random.Random(5)
    rows = [{"driver_id": rng.choice([1, 2, 3, None]), "event_timestamp": T0 + rng.randint(0, 90) * MIN,
             "created": None, "v": rng.choice([None, float("nan"), rng.random()])} for _ in range(300)]
    (tmp_path / "ev").mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:150], schema=STATS), tmp_path / "ev" / "part-1.parquet")
    pq.write_table(pa.Table.from_pylist(rows[150:], schema=STATS), tmp_path / "ev" / "part-0.parquet")
    driver = Entity(name="driver", join_keys=["driver_id"])
    aggs = [Aggregation(function=fn, column=col, windows=("10m", "1h")) for fn, col in
            (("count", None), ("sum", "v"), ("mean", "v"), ("last", "v"), ("max", "v"))]
    view = AggregateView(name="agg", entities=[driver], aggregations=aggs, schema=[Field(name="v", dtype=Float64)],
                         source=ParquetSource(path="ev", created_timestamp_field="created"))
    duck, sparks = pair()
    duck.apply([driver, view])
    entities = pa.Table.from_pylist(
        [{"driver_id": d, "event_timestamp": T0 + m * 7 * MIN} for d in (1, 2, 3, 4, None) for m in range(15)],
        schema=pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC"))]))
    for spark, as_of_created in zip(sparks, (False, True, False), strict=True):
        want = duck.get_historical_features(entities, ["agg:*"], as_of_created=as_of_created).to_arrow()
        same(want, spark.get_historical_features(entities, ["agg:*"], as_of_created=as_of_created).to_arrow())
    assert want.num_columns > 8 and want.column(2).null_count < want.num_rows


def test_batch_transform_view_equals_duckdb(pair, tmp_path: Path) -> None:
    """A view with a Polars batch transform (run on the driver; Spark reads its output file and splits the
    ordinal it carries): training set, spine and latest rows equal DuckDB's, ties to the row read last."""
    from tests.offline import test_batch_transforms as bt

    rng = random.Random(3)
    rows = [{"driver_id": rng.randint(1, 4), "event_timestamp": T0 + rng.randint(0, 5) * MIN, "created": None,
             "km": float(rng.randint(1, 9)), "hours": rng.choice([1.0, 2.0]), "status": rng.choice(["done", "x"])}
            for _ in range(80)]
    (tmp_path / "trips").mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:40], schema=bt.SCHEMA), tmp_path / "trips" / "part-b.parquet")
    pq.write_table(pa.Table.from_pylist(rows[40:], schema=bt.SCHEMA), tmp_path / "trips" / "part-a.parquet")
    trips = bt.view("trips", ParquetSource(path="trips", created_timestamp_field="created"))
    duck, sparks = pair()
    duck.apply([bt.driver, trips])
    entities = pa.Table.from_pylist([{"driver_id": d, "event_timestamp": T0 + m * MIN} for d in range(6)
                                     for m in range(7)], schema=bt.ENTITY_SCHEMA)
    spark = sparks[1]
    spark.apply([bt.driver, trips])  # the live transform code, in this store too
    same(duck.get_historical_features(entities, ["trips:speed", "trips:km"]).to_arrow(),
         spark.get_historical_features(entities, ["trips:speed", "trips:km"]).to_arrow())
    start, end = T0 - MIN, T0 + 10 * MIN
    same(duck.get_historical_features(None, ["trips:speed"], start_date=start, end_date=end).to_arrow(),
         spark.get_historical_features(None, ["trips:speed"], start_date=start, end_date=end).to_arrow())

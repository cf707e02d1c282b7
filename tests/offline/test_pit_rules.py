"""Point-in-time rules spelled out one by one, input/output types, sources, errors and spilling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import (
    DuckDBSource,
    Entity,
    FeatureService,
    FeatureStoreError,
    FeatureView,
    Field,
    InputError,
    NotFoundError,
    ParquetSource,
)
from featurestore.types import Float64, Int64

SPARK_CONFORMANCE = True
SPARK_EXCEPT = ("test_spills_to_disk_under_a_small_memory_limit", "test_ttl_bounds_are_inclusive_to_the_microsecond")
"""The Spark engine runs this module too (tests/offline/conftest.py), except DuckDB's spilling and a 26-second case
(the ttl bounds are in test_spark_engine.py's rule cases)."""

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
driver = Entity(name="driver", join_keys=["driver_id"])


def _source(tmp_path, rows, name="s.parquet"):  # type: ignore[no-untyped-def]
    schema = pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                        ("created", pa.timestamp("us", tz="UTC")), ("v", pa.float64())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / name)


def _view(ttl=timedelta(hours=1), name="s", path="s.parquet"):  # type: ignore[no-untyped-def]
    return FeatureView(name=name, entities=[driver], ttl=ttl, schema=[Field(name="v", dtype=Float64)],
                       source=ParquetSource(path=path, created_timestamp_field="created"))


@pytest.fixture
def store(make_store, tmp_path):  # type: ignore[no-untyped-def]
    _source(tmp_path, [
        {"driver_id": 1, "event_timestamp": T0, "created": T0, "v": 1.0},
        {"driver_id": 1, "event_timestamp": T0, "created": T0 + US, "v": 2.0},   # later created wins the tie
        {"driver_id": 1, "event_timestamp": T0 - timedelta(hours=2), "created": None, "v": 0.5},
        {"driver_id": 2, "event_timestamp": T0, "created": None, "v": 3.0},
    ])
    s = make_store()
    s.apply([driver, _view()])
    return s


def _values(store, times, ids=None, **kw):  # type: ignore[no-untyped-def]
    ids = ids or [1] * len(times)
    ent = pa.table({"driver_id": pa.array(ids, pa.int64()),
                    "event_timestamp": pa.array(times, pa.timestamp("us", tz="UTC"))})
    return store.get_historical_features(ent, ["s:v"], **kw).to_arrow().column("v").to_pylist()


def test_ttl_bounds_are_inclusive_to_the_microsecond(store) -> None:
    hour = timedelta(hours=1)
    assert _values(store, [T0 - US, T0, T0 + hour, T0 + hour + US]) == [None, 2.0, 2.0, None]


def test_created_time_breaks_event_time_ties_and_no_match_is_null(store) -> None:
    assert _values(store, [T0, T0, T0], ids=[1, 2, 3]) == [2.0, 3.0, None]


def test_as_of_created_hides_rows_written_after_the_entity_time(store) -> None:
    assert _values(store, [T0], as_of_created=True) == [1.0]
    assert _values(store, [T0 + US], as_of_created=True) == [2.0]


def test_no_ttl_means_unbounded_lookback(make_store, tmp_path) -> None:
    _source(tmp_path, [{"driver_id": 1, "event_timestamp": T0, "created": None, "v": 7.0}])
    for ttl in (None, timedelta(0)):
        s = make_store()
        s.apply([driver, _view(ttl=ttl)])
        assert _values(s, [T0 + timedelta(days=3650)]) == [7.0]


def test_naive_timestamps_are_utc_and_aware_ones_are_instants(store) -> None:
    naive = pa.table({"driver_id": [1], "event_timestamp": pa.array([T0.replace(tzinfo=None)], pa.timestamp("us"))})
    assert store.get_historical_features(naive, ["s:v"]).to_arrow().column("v").to_pylist() == [2.0]
    # 07:59:59.999999 in New York (UTC-5) is one microsecond before T0: no row yet for driver 2
    ny = pd.DataFrame({"driver_id": [2, 2], "event_timestamp": pd.to_datetime(
        ["2026-03-01 06:59:59.999999-05:00", "2026-03-01 07:00:00.000000-05:00"])})
    out = store.get_historical_features(ny, ["s:v"]).to_pandas()
    assert out["v"].tolist()[1] == 3.0 and pd.isna(out["v"].tolist()[0])
    # the input's values are kept, with their offset (pandas 2 names it pytz.FixedOffset(-300), Arrow "-05:00")
    kept, given = out["event_timestamp"].tolist(), ny["event_timestamp"].tolist()
    assert kept == given and [t.utcoffset() for t in kept] == [t.utcoffset() for t in given]


def test_mixed_offsets_in_one_pandas_column(store) -> None:
    ent = pd.DataFrame({"driver_id": [2, 2], "event_timestamp": [
        pd.Timestamp("2026-03-01 12:59:00+01:00"), pd.Timestamp("2026-03-01 07:00:00-05:00")]})
    out = store.get_historical_features(ent, ["s:v"]).to_pandas()
    assert pd.isna(out["v"][0]) and out["v"][1] == 3.0


def test_every_row_kept_in_order_with_its_columns(store) -> None:
    ent = pd.DataFrame({"driver_id": [2, 1, 9, 1, 2], "event_timestamp": [T0] * 5,
                        "label": ["a", "b", "c", "b", "e"], "weight": [0.1, 0.2, 0.3, 0.2, 0.5]})
    out = store.get_historical_features(ent, ["s:v"]).to_pandas()
    assert out[["driver_id", "label", "weight"]].equals(ent[["driver_id", "label", "weight"]])
    assert out["v"].tolist()[:2] == [3.0, 2.0] and pd.isna(out["v"][2])


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "parquet"])
def test_input_and_output_types(store, tmp_path, kind: str) -> None:
    table = pa.table({"driver_id": pa.array([1, 2], pa.int64()),
                      "event_timestamp": pa.array([T0, T0], pa.timestamp("us", tz="UTC"))})
    data = {"pandas": table.to_pandas(), "polars": pl.from_arrow(table), "arrow": table}.get(kind)
    if kind == "parquet":
        pq.write_table(table, tmp_path / "entities.parquet")
        data = tmp_path / "entities.parquet"
    job = store.get_historical_features(data, ["s:v"])
    assert job.to_arrow().column("v").to_pylist() == [2.0, 3.0]
    assert job.to_pandas()["v"].tolist() == [2.0, 3.0]
    assert job.to_polars()["v"].to_list() == [2.0, 3.0]
    path = job.to_parquet(tmp_path / "out" / "train.parquet")
    assert pq.read_table(path).column("v").to_pylist() == [2.0, 3.0]


def test_feature_service_and_full_names(store) -> None:
    svc = FeatureService(name="svc", features=[_view()])
    ent = pa.table({"driver_id": [1], "event_timestamp": pa.array([T0], pa.timestamp("us", tz="UTC"))})
    out = store.get_historical_features(ent, svc, full_feature_names=True).to_arrow()
    assert out.column_names == ["driver_id", "event_timestamp", "s__v"]


def test_spine_from_sources(store) -> None:
    out = store.get_historical_features(features=["s:v"], start_date=T0 - timedelta(hours=3),
                                        end_date=T0).to_arrow().to_pylist()
    assert [(r["driver_id"], r["event_timestamp"], r["v"]) for r in out] == [
        (1, T0 - timedelta(hours=2), 0.5), (1, T0, 2.0), (2, T0, 3.0)]


def test_duckdb_table_and_query_sources(make_store, tmp_path) -> None:
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE stats (driver_id BIGINT, event_timestamp TIMESTAMP, trips BIGINT)")
    con.execute("INSERT INTO stats VALUES (1, '2026-03-01 11:00:00', 5), (1, '2026-03-01 11:30:00', 6)")
    con.close()
    table_view = FeatureView(name="t", entities=[driver], schema=[Field(name="trips", dtype=Int64)],
                             source=DuckDBSource(table="stats", database="warehouse.duckdb"))
    query_view = FeatureView(name="q", entities=[driver], schema=[Field(name="trips2", dtype=Int64)],
                             source=DuckDBSource(query="SELECT 1::BIGINT AS driver_id, "
                                                 "TIMESTAMP '2026-03-01 11:10:00' AS event_timestamp, "
                                                 "7::BIGINT AS trips2"))
    s = make_store()
    s.apply([driver, table_view, query_view])
    ent = pa.table({"driver_id": [1, 1], "event_timestamp": pa.array(
        [datetime(2026, 3, 1, 11, 15), datetime(2026, 3, 1, 11, 45)], pa.timestamp("us"))})
    out = s.get_historical_features(ent, ["t:trips", "q:trips2"]).to_arrow()
    assert out.column("trips").to_pylist() == [5, 6] and out.column("trips2").to_pylist() == [7, 7]


@pytest.mark.parametrize(("entity", "features", "match", "error"), [
    ({"driver_id": [1]}, ["s:v"], "timestamp", InputError),
    ({"driver_id": [1], "a": [T0], "b": [T0]}, ["s:v"], "timestamp", InputError),
    ({"x": [1], "event_timestamp": [T0]}, ["s:v"], "'driver_id'", InputError),
    ({"driver_id": ["1"], "event_timestamp": [T0]}, ["s:v"], "'driver_id'", InputError),
    ({"driver_id": [1], "event_timestamp": [T0]}, ["nope:v"], "'nope'", NotFoundError),
    ({"driver_id": [1], "event_timestamp": [T0]}, ["s:nope"], "'nope'", NotFoundError),
    ({"driver_id": [1], "event_timestamp": [T0]}, ["s"], "'s'", InputError),
    ({"driver_id": [1], "event_timestamp": [T0], "v": [0.0]}, ["s:v"], "'v'", InputError),
])
def test_errors_name_the_culprit(store, entity, features, match, error) -> None:
    with pytest.raises(error, match=match):
        store.get_historical_features(pa.table(entity), features).to_arrow()


def test_same_bare_name_from_two_views_is_an_error(make_store, tmp_path) -> None:
    _source(tmp_path, [{"driver_id": 1, "event_timestamp": T0, "created": None, "v": 1.0}])
    s = make_store()
    s.apply([driver, _view(), _view(name="s2")])
    ent = pa.table({"driver_id": [1], "event_timestamp": pa.array([T0], pa.timestamp("us", tz="UTC"))})
    with pytest.raises(InputError, match="'v'"):
        s.get_historical_features(ent, ["s:v", "s2:v"])
    out = s.get_historical_features(ent, ["s:v", "s2:v"], full_feature_names=True).to_arrow()
    assert out.column_names[-2:] == ["s__v", "s2__v"]


def test_unreadable_source_is_a_clear_error(store, tmp_path) -> None:
    (tmp_path / "s.parquet").write_bytes(b"not parquet")
    with pytest.raises(FeatureStoreError, match=r"s\.parquet"):
        _values(store, [T0])


def test_spills_to_disk_under_a_small_memory_limit(make_store, tmp_path) -> None:
    n = 400_000
    ids = pa.array([i % 5000 for i in range(n)], pa.int64())
    times = pa.array([T0 + timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"driver_id": ids, "event_timestamp": times, "created": times,
                             "v": pa.array([float(i) for i in range(n)])}), tmp_path / "s.parquet")
    pq.write_table(pa.table({"driver_id": ids, "event_timestamp": times}), tmp_path / "ent.parquet")
    s = make_store(offline_store={"memory_limit": "40MB", "threads": 1, "temp_directory": "spill"})
    s.apply([driver, _view(ttl=None)])
    out = pq.read_table(s.get_historical_features(tmp_path / "ent.parquet", ["s:v"]).to_parquet(tmp_path / "o.pq"))
    assert out.num_rows == n
    assert out.column("v").to_pylist() == [float(i) for i in range(n)]


@pytest.mark.parametrize(("start", "end"), [
    (T0.replace(tzinfo=None) - timedelta(hours=3), T0),   # naive start, aware end
    (T0 - timedelta(hours=3), T0.replace(tzinfo=None)),   # aware start, naive end
    (datetime(2026, 3, 1, 4, 0), T0.astimezone(timezone(timedelta(hours=-5)))),  # naive (UTC) vs UTC-5
])
def test_spine_mixes_naive_and_aware_bounds_naive_being_utc(store, start, end) -> None:
    out = store.get_historical_features(features=["s:v"], start_date=start, end_date=end).to_arrow().to_pylist()
    assert [(r["driver_id"], r["event_timestamp"], r["v"]) for r in out] == [
        (1, T0 - timedelta(hours=2), 0.5), (1, T0, 2.0), (2, T0, 3.0)]


def test_spine_start_after_end_is_an_error_across_time_zones(store) -> None:
    # 11:00 naive (UTC) is after 05:00 at UTC-5 (= 10:00 UTC)
    with pytest.raises(InputError, match="after"):
        store.get_historical_features(features=["s:v"], start_date=datetime(2026, 3, 1, 11, 0),
                                      end_date=datetime(2026, 3, 1, 5, 0, tzinfo=timezone(timedelta(hours=-5))))

"""Sources whose data changed after ``apply``: every read checks the types again, never casts silently.

A new file that turns an Int64 feature into doubles (2.4, 2.6), a Float64 column into text, or a
Float32 feature into doubles beyond float32's range must fail with a DataSourceError naming the view,
the column and both types, in training sets (in-memory and Parquet entity frames, and the spine) and
in materialize, instead of coming back rounded, parsed or as ``inf``. CSV time columns are read as
instants: an offset on a row beyond DuckDB's sniffing sample is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import CsvSource, Entity, FeatureView, Field, ParquetSource
from featurestore.errors import DataSourceError
from featurestore.offline.duckdb.drift import KNOWN, arrow_type, duckdb_arrow_type
from featurestore.types import Float32, Float64, Int64

T0 = datetime(2026, 3, 1, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])


def _view(dtype: object, name: str = "v") -> FeatureView:
    return FeatureView(name=name, entities=[driver], ttl=timedelta(days=30),
                       schema=[Field(name="x", dtype=dtype)],  # type: ignore[arg-type]
                       source=ParquetSource(path="src"))


def _write(folder: Path, name: str, ids: list[int], xs: pa.Array) -> None:
    folder.mkdir(exist_ok=True)
    times = pa.array([T0 + timedelta(hours=i) for i in range(len(ids))], pa.timestamp("us", tz="UTC"))
    pq.write_table(pa.table({"driver_id": pa.array(ids, pa.int64()), "x": xs, "event_timestamp": times}),
                   folder / name)


DRIFTS = [  # declared type, the type at apply, what a later file holds
    (Int64, pa.array([1, 2], pa.int64()), pa.array([2.4, 2.6], pa.float64()), "double"),
    (Float64, pa.array([1.5, 2.5], pa.float64()), pa.array(["3.5", "4.5"], pa.string()), "string"),
    (Float32, pa.array([1.5, 2.5], pa.float32()), pa.array([1e39, -1e39], pa.float64()), "double"),
]


def _check(err: pytest.ExceptionInfo[DataSourceError], declared: str, found: str) -> None:
    assert err.value.view == "v"
    msg = str(err.value)
    assert "'v'" in msg and "'x'" in msg and declared in msg and found.lower() in msg.lower()


@pytest.mark.parametrize(("dtype", "before", "after", "found"), DRIFTS, ids=["int-to-double", "float-to-text",
                                                                             "float32-overflow"])
def test_drift_after_apply_is_refused_everywhere(make_store, tmp_path: Path, dtype, before, after,  # type: ignore[no-untyped-def]
                                                 found: str) -> None:
    src = tmp_path / "src"
    _write(src, "a.parquet", [1, 2], before)
    store = make_store()
    store.apply([driver, _view(dtype)])
    entity = pa.table({"driver_id": [1, 2, 3, 4],
                       "event_timestamp": pa.array([T0 + timedelta(days=1)] * 4, pa.timestamp("us", tz="UTC"))})
    assert store.get_historical_features(entity, ["v:x"]).to_arrow().num_rows == 4  # fine before the drift
    _write(src, "b.parquet", [3, 4], after)
    with pytest.raises(DataSourceError) as err:
        store.get_historical_features(entity, ["v:x"]).to_arrow()
    _check(err, dtype.name, found)
    pq.write_table(entity, tmp_path / "entity.parquet")
    with pytest.raises(DataSourceError) as err:
        store.get_historical_features(str(tmp_path / "entity.parquet"), ["v:x"]).to_arrow()
    _check(err, dtype.name, found)
    with pytest.raises(DataSourceError) as err:
        store.get_historical_features(None, ["v:x"], start_date=T0, end_date=T0 + timedelta(days=1)).to_arrow()
    _check(err, dtype.name, found)
    with pytest.raises(DataSourceError) as err:
        store.materialize(T0 - timedelta(days=1), T0 + timedelta(days=1))
    _check(err, dtype.name, found)


def test_compatible_narrower_types_still_read(make_store, tmp_path: Path) -> None:
    """A later file with a narrower type the declared one accepts (int32 in Int64) is read as before."""
    src = tmp_path / "src"
    _write(src, "a.parquet", [1], pa.array([7], pa.int64()))
    store = make_store()
    store.apply([driver, _view(Int64)])
    _write(src, "b.parquet", [2], pa.array([2**31 - 1], pa.int32()))
    entity = pa.table({"driver_id": [1, 2],
                       "event_timestamp": pa.array([T0 + timedelta(days=1)] * 2, pa.timestamp("us", tz="UTC"))})
    got = store.get_historical_features(entity, ["v:x"]).to_arrow()
    assert got.column("x").to_pylist() == [7, 2**31 - 1]


@pytest.mark.parametrize("offset_row", [3500, 5000])
def test_csv_offset_after_the_sniffing_sample_is_kept(make_store, tmp_path: Path, offset_row: int) -> None:
    """Rows 0.. are naive (UTC); one late row says +05:00: it is 5 hours earlier than the same text naive."""
    lines = ["driver_id,x,event_timestamp"]
    for i in range(offset_row):
        lines.append(f"{i},{i}.5,2026-03-01 10:00:00")
    lines.append(f"{offset_row},1.25,2026-03-01 23:00:00+05:00")
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    view = FeatureView(name="c", entities=[driver], ttl=timedelta(days=36500), schema=[Field(name="x", dtype=Float64)],
                       source=CsvSource(path="s.csv"))
    store = make_store()
    store.apply([driver, view])
    # 23:00+05:00 is 18:00 UTC: seen at 18:30 UTC, not seen at 17:30 UTC
    entity = pa.table({"driver_id": [offset_row, offset_row, 0],
                       "event_timestamp": pa.array([datetime(2026, 3, 1, 18, 30, tzinfo=UTC),
                                                    datetime(2026, 3, 1, 17, 30, tzinfo=UTC),
                                                    datetime(2026, 3, 1, 10, 0, tzinfo=UTC)],
                                                   pa.timestamp("us", tz="UTC"))})
    got = store.get_historical_features(entity, ["c:x"]).to_arrow()
    assert got.column("x").to_pylist() == [1.25, None, 0.5]
    # materialize up to 20:00 UTC includes the row (its instant is 18:00 UTC), up to 17:59 does not
    store.materialize(T0, datetime(2026, 3, 1, 17, 59, tzinfo=UTC))
    assert store.get_online_features(["c:x"], [{"driver_id": offset_row}]).to_dict()["x"] == [None]
    store.materialize(T0, datetime(2026, 3, 1, 18, 0, tzinfo=UTC))
    assert store.get_online_features(["c:x"], [{"driver_id": offset_row}]).to_dict()["x"] == [1.25]


def test_dropped_or_retyped_columns_are_named(make_store, tmp_path: Path) -> None:
    """A feature column gone from every file, or a time column that became text, is named (not a binder error)."""
    src = tmp_path / "src"
    _write(src, "a.parquet", [1], pa.array([7], pa.int64()))
    store = make_store()
    store.apply([driver, _view(Int64)])
    entity = pa.table({"driver_id": [1], "event_timestamp": pa.array([T0 + timedelta(days=1)],
                                                                     pa.timestamp("us", tz="UTC"))})
    pq.write_table(pa.table({"driver_id": [1], "y": [7], "event_timestamp": pa.array([T0], pa.timestamp("us"))}),
                   src / "a.parquet")
    with pytest.raises(DataSourceError, match="no column 'x'") as err:
        store.get_historical_features(entity, ["v:x"]).to_arrow()
    assert (err.value.view, err.value.column) == ("v", "x")
    pq.write_table(pa.table({"driver_id": [1], "x": [7], "event_timestamp": ["2026-03-01 00:00:00"]}),
                   src / "a.parquet")
    with pytest.raises(DataSourceError, match="'event_timestamp' is declared Timestamp") as err:
        store.get_historical_features(entity, ["v:x"]).to_arrow()
    assert (err.value.view, err.value.column) == ("v", "event_timestamp")


SOURCE_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64(),
                pa.float32(), pa.float64(), pa.string(), pa.large_string(), pa.binary(), pa.bool_(),
                pa.decimal128(10, 2), pa.date32(), pa.timestamp("s"), pa.timestamp("ms", tz="UTC"),
                pa.timestamp("us"), pa.timestamp("ns", tz="Europe/Paris"), pa.list_(pa.float32()),
                pa.list_(pa.float64()), pa.list_(pa.int64()), pa.list_(pa.string()), pa.large_list(pa.int32()),
                pa.list_(pa.float32(), 4), pa.list_(pa.float64(), 3), pa.list_(pa.int64(), 2)]


def test_read_time_verdict_is_applys_verdict(make_store, tmp_path: Path) -> None:
    """For every source column type, the read-time check (DESCRIBE type -> Arrow) accepts exactly what apply
    (the source's Arrow schema) accepts, for every declared value type."""
    from featurestore.offline.duckdb.drift import arrow_type
    from featurestore.offline.duckdb.relations import raw_relation
    from featurestore.types import SCALARS, Array

    declared = [*SCALARS.values(), *(Array(t) for t in SCALARS.values())]
    folder = tmp_path / "types"
    folder.mkdir()
    cols = {f"c{i}": pa.array([None], t) for i, t in enumerate(SOURCE_TYPES)}
    pq.write_table(pa.table(cols), folder / "t.parquet")
    store = make_store()
    source = ParquetSource(path="types/t.parquet")
    schema = store.offline.source_schema(source)
    con = store.offline.connect([source])
    described = {row[0]: row[1] for row in con.sql(f"DESCRIBE {raw_relation(source, store.offline.ctx)}").fetchall()}
    con.close()
    for name in cols:
        at_apply = schema.field(name).type
        at_read = arrow_type(described[name])
        assert at_read is not None, described[name]
        for vt in declared:
            assert vt.accepts(at_read) == vt.accepts(at_apply), (name, described[name], at_apply, at_read, vt)


@pytest.mark.parametrize("name", [*KNOWN, *(f"{n}[]" for n in KNOWN)])
def test_known_type_names_map_as_duckdb_maps_them(name: str) -> None:
    assert arrow_type(name) == duckdb_arrow_type(name)


def _csv_view(name: str, dtype: object, path: str = "s.csv") -> FeatureView:
    return FeatureView(name=name, entities=[driver], ttl=timedelta(days=36500),
                       schema=[Field(name="x", dtype=dtype)],  # type: ignore[arg-type]
                       source=CsvSource(path=path))


def _csv(path: Path, values: list[str]) -> None:
    rows = [f"{i},{v},2026-02-28 10:00:00" for i, v in enumerate(values)]
    path.write_text("driver_id,x,event_timestamp\n" + "\n".join(rows) + "\n")


def test_whole_number_csv_column_feeds_a_float64_feature(make_store, tmp_path: Path) -> None:
    """DuckDB sniffs 1, 2, 3 as BIGINT: the column is read as the view declares it (Float64), exactly."""
    _csv(tmp_path / "s.csv", ["1", "2", "9007199254740993"])
    store = make_store()
    store.apply([driver, _csv_view("c", Float64)])
    entity = pa.table({"driver_id": [0, 1, 2], "event_timestamp": pa.array([T0] * 3, pa.timestamp("us", tz="UTC"))})
    got = store.get_historical_features(entity, ["c:x"]).to_arrow()
    assert got.column("x").type == pa.float64() and got.column("x").to_pylist() == [1.0, 2.0, 9007199254740992.0]
    store.materialize(T0 - timedelta(days=1), T0)
    assert store.get_online_features(["c:x"], [{"driver_id": 1}]).to_dict()["x"] == [2.0]


@pytest.mark.parametrize(("dtype", "bad"), [(Int64, "abc"), (Int64, "2.4"), (Int64, "9223372036854775808"),
                                            (Float64, "abc")])
def test_bad_csv_value_deep_in_a_file_names_view_file_column_and_value(make_store, tmp_path: Path, dtype,
                                                                        bad: str) -> None:
    """Row 50,000 of 60,000 (far past DuckDB's sniffing sample) holds a value that is not of the declared type:
    never rounded or read as null, a DataSourceError names the view, the file, the column and the value."""
    values = [str(i) for i in range(60_000)]
    _csv(tmp_path / "s.csv", values)
    store = make_store()
    store.apply([driver, _csv_view("c", dtype)])
    values[50_000] = bad
    _csv(tmp_path / "s.csv", values)
    entity = pa.table({"driver_id": [50_000], "event_timestamp": pa.array([T0], pa.timestamp("us", tz="UTC"))})
    for read in (lambda: store.get_historical_features(entity, ["c:x"]).to_arrow(),
                 lambda: store.materialize(T0 - timedelta(days=1), T0)):
        with pytest.raises(DataSourceError) as err:
            read()
        msg = str(err.value)
        assert err.value.view == "c" and err.value.column == "x", msg
        assert "'c'" in msg and "s.csv" in msg and "'x'" in msg and bad in msg, msg
    if dtype is Float64:
        assert "line 50002" in msg  # DuckDB gives the line: header + 50,000 rows before it


def test_csv_column_dropped_after_apply_is_named(make_store, tmp_path: Path) -> None:
    _csv(tmp_path / "s.csv", ["1", "2"])
    store = make_store()
    store.apply([driver, _csv_view("c", Float64)])
    (tmp_path / "s.csv").write_text("driver_id,y,event_timestamp\n1,2,2026-02-28 10:00:00\n")
    entity = pa.table({"driver_id": [1], "event_timestamp": pa.array([T0], pa.timestamp("us", tz="UTC"))})
    for read in (lambda: store.get_historical_features(entity, ["c:x"]).to_arrow(),
                 lambda: store.materialize(T0 - timedelta(days=1), T0)):
        with pytest.raises(DataSourceError, match="no column 'x'") as err:
            read()
        assert (err.value.view, err.value.column) == ("c", "x")


def test_fixed_size_arrays_feed_array_features(make_store, tmp_path: Path) -> None:
    """DuckDB's FLOAT[4] (what its vector index needs; a table, or a query) and Arrow's fixed_size_list in Parquet
    feed Array(Float32) and Array(Float64) features: applied, read and materialized with the exact values."""
    import duckdb

    from featurestore import DuckDBSource
    from featurestore.types import Array

    vectors = [[0.1, 0.2, 0.3, 0.4], [1e-8, -2.5, 3.25, 16777217.0]]
    f32 = [[float(x) for x in pa.array(v, pa.float32()).to_pylist()] for v in vectors]
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("CREATE TABLE emb (driver_id BIGINT, event_timestamp TIMESTAMPTZ, x FLOAT[4])")
        con.execute("INSERT INTO emb VALUES (1, '2026-02-28 10:00:00+00', ?::FLOAT[4]), "
                    "(2, '2026-02-28 10:00:00+00', ?::FLOAT[4])", vectors)
    folder = tmp_path / "src"
    _write(folder, "a.parquet", [1, 2], pa.array(f32, pa.list_(pa.float32(), 4)))
    views = [
        FeatureView(name=name, entities=[driver], schema=[Field(name="x", dtype=Array(dtype))], source=source)
        for name, dtype, source in [
            ("t", Float32, DuckDBSource(table="emb", database="w.duckdb")),
            ("q", Float32, DuckDBSource(query="SELECT * FROM emb", database="w.duckdb")),
            ("p", Float32, ParquetSource(path="src")),
            ("w", Float64, ParquetSource(path="src")),
        ]
    ]
    store = make_store()
    store.apply([driver, *views])
    entity = pa.table({"driver_id": [1, 2, 3],
                       "event_timestamp": pa.array([T0 + timedelta(days=1)] * 3, pa.timestamp("us", tz="UTC"))})
    out = store.get_historical_features(entity, [f"{v.name}:x" for v in views], full_feature_names=True).to_arrow()
    for v in views:
        assert out.column(f"{v.name}__x").to_pylist() == [*f32, None], v.name
    store.materialize(T0 - timedelta(days=1), T0 + timedelta(days=1))
    online = store.get_online_features([f"{v.name}:x" for v in views], [{"driver_id": 1}, {"driver_id": 2}],
                                       full_feature_names=True).to_dict()
    for v in views:
        assert online[f"{v.name}__x"] == f32, v.name

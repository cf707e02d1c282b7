"""Polars batch transforms (``FeatureView(transform=...)``) against a brute-force reference in plain Python.

The reference applies the same filter and derived column to the source rows in read order (files by
path, rows by position, pushed rows last) and then runs the point-in-time rules of reference.py: the
transform may reorder rows, ties must still go to the row read last.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import (
    CodeMismatchError,
    DataSourceError,
    DefinitionError,
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    ParquetSource,
    PushSource,
)
from featurestore.config import parse_config
from featurestore.offline.duckdb import transformed
from featurestore.types import Float64, Int64
from tests.offline.reference import point_in_time

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UTC_US = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([("driver_id", pa.int64()), ("event_timestamp", UTC_US), ("created", UTC_US),
                    ("km", pa.float64()), ("hours", pa.float64()), ("status", pa.string())])
ENTITY_SCHEMA = pa.schema([("driver_id", pa.int64()), ("event_timestamp", UTC_US)])
driver = Entity(name="driver", join_keys=["driver_id"])
FEATURES = [Field(name="speed", dtype=Float64), Field(name="km", dtype=Float64)]


def trips(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Finished trips with their speed, reordered (the engine must not rely on the row order)."""
    return (lf.filter(pl.col("status") == "done").with_columns(speed=pl.col("km") / pl.col("hours"))
            .sort("km", descending=True))


def reference_transform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``trips`` in plain Python, rows kept in read order."""
    return [{**r, "speed": r["km"] / r["hours"]} for r in rows if r["status"] == "done"]


def view(name: str, source: Any, ttl: timedelta | None = None, transform: Any = trips,
         schema: list[Field] = FEATURES) -> FeatureView:
    return FeatureView(name=name, entities=[driver], schema=schema, source=source, ttl=ttl, transform=transform)


def _rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        ev = T0 + timedelta(minutes=rng.randint(0, 20))  # few distinct times: many ties
        out.append({"driver_id": rng.randint(1, 4), "event_timestamp": ev, "created": rng.choice([None, ev, T0]),
                    "km": float(rng.randint(1, 40)), "hours": rng.choice([0.5, 1.0, 2.0, 3.0]),
                    "status": rng.choice(["done", "done", "cancelled"])})
    return out


def _write_files(folder: Path, rng: random.Random, files: int) -> list[dict[str, Any]]:
    folder.mkdir()
    rows: list[dict[str, Any]] = []
    for i in range(files):  # part-0 .. part-N: path order is read order
        part = _rows(rng, rng.randint(0, 25))
        pq.write_table(pa.Table.from_pylist(part, schema=SCHEMA), folder / f"part-{i}.parquet")
        rows += part
    return rows


def _entities(rng: random.Random, n: int) -> list[dict[str, Any]]:
    return [{"driver_id": rng.randint(1, 5), "event_timestamp": T0 + timedelta(minutes=rng.randint(-2, 25),
                                                                               seconds=rng.choice([0, 30]))}
            for _ in range(n)]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_training_sets_spines_and_materialize_match_the_reference(make_store, tmp_path, seed) -> None:
    rng = random.Random(seed)
    raw = _write_files(tmp_path / "trips", rng, 4)
    source = ParquetSource(path="trips", created_timestamp_field="created")
    ttl_view, all_view = view("trips_ttl", source, ttl=timedelta(minutes=10)), view("trips_all", source)
    store = make_store()
    store.apply([driver, ttl_view, all_view])
    rows = reference_transform(raw)

    entities = _entities(rng, 60)
    got = store.get_historical_features(pa.Table.from_pylist(entities, schema=ENTITY_SCHEMA),
                                        ["trips_ttl:speed", "trips_ttl:km", "trips_all:speed"],
                                        full_feature_names=True).to_arrow().to_pylist()
    with_ttl = point_in_time(rows, ["driver_id"], ["speed", "km"], entities, ttl=timedelta(minutes=10),
                             created_col="created")
    without = point_in_time(rows, ["driver_id"], ["speed"], entities, created_col="created")
    assert [(g["trips_ttl__speed"], g["trips_ttl__km"], g["trips_all__speed"]) for g in got] == \
        [(a["speed"], a["km"], b["speed"]) for a, b in zip(with_ttl, without, strict=True)]

    start, end = T0 + timedelta(minutes=3), T0 + timedelta(minutes=15)
    spine = store.get_historical_features(None, ["trips_all:speed"], start_date=start, end_date=end).to_arrow()
    keys = sorted({(r["event_timestamp"], r["driver_id"]) for r in rows if start <= r["event_timestamp"] <= end})
    want = [{"driver_id": d, "event_timestamp": t} for t, d in keys]
    assert [(r["driver_id"], r["event_timestamp"]) for r in spine.to_pylist()] == [(d, t) for t, d in keys]
    assert spine.column("speed").to_pylist() == [
        w["speed"] for w in point_in_time(rows, ["driver_id"], ["speed"], want, created_col="created")]

    store.materialize(T0 - timedelta(days=1), end)
    online = store.get_online_features(["trips_all:speed"], [{"driver_id": d} for d in range(1, 6)]).to_dict()
    latest = point_in_time(rows, ["driver_id"], ["speed"],
                           [{"driver_id": d, "event_timestamp": end} for d in range(1, 6)], created_col="created")
    assert online["speed"] == [w["speed"] for w in latest]


def test_pushed_rows_go_through_the_transform_online_and_offline(make_store, tmp_path) -> None:
    rng = random.Random(7)
    batch = _write_files(tmp_path / "trips", rng, 2)
    push = PushSource(name="trips_push", batch_source=ParquetSource(path="trips", created_timestamp_field="created"))
    store = make_store(max_future_event_seconds=None)
    store.apply([driver, view("trips", push)])
    late = T0 + timedelta(hours=1)
    pushed = [{"driver_id": 1, "event_timestamp": late, "created": None, "km": 30.0, "hours": 2.0, "status": "done"},
              {"driver_id": 2, "event_timestamp": late, "created": None, "km": 5.0, "hours": 1.0, "status": "done"},
              # the latest row of driver 2, but cancelled: the transform drops it online as offline
              {"driver_id": 2, "event_timestamp": late + timedelta(minutes=1), "created": None, "km": 99.0,
               "hours": 1.0, "status": "cancelled"}]
    result = store.push("trips_push", pa.Table.from_pylist(pushed, schema=SCHEMA), to="online_and_offline")
    assert result.rows == 3 and result.written == 2

    online = store.get_online_features(["trips:speed", "trips:km"], [{"driver_id": 1}, {"driver_id": 2}]).to_dict()
    assert online["speed"] == [15.0, 5.0] and online["km"] == [30.0, 5.0]
    entities = [{"driver_id": d, "event_timestamp": late + timedelta(minutes=5)} for d in (1, 2, 3)]
    got = store.get_historical_features(pa.Table.from_pylist(entities, schema=ENTITY_SCHEMA), ["trips:speed"])
    want = point_in_time(reference_transform(batch + pushed), ["driver_id"], ["speed"], entities,
                         created_col="created")
    assert got.to_arrow().column("speed").to_pylist() == [w["speed"] for w in want]
    assert got.to_arrow().column("speed").to_pylist()[:2] == online["speed"]
    stored = pq.read_table(next((tmp_path / "_push" / "trips_push").glob("*.parquet")))
    assert "speed" not in stored.column_names and stored.num_rows == 3  # the raw rows, transformed when read


def _apply_error(make_store, tmp_path, transform: Any, schema: list[Field] = FEATURES) -> DefinitionError:
    pq.write_table(pa.Table.from_pylist(_rows(random.Random(1), 3), schema=SCHEMA), tmp_path / "t.parquet")
    source = ParquetSource(path="t.parquet", created_timestamp_field="created")
    with pytest.raises(DefinitionError) as info:
        make_store().apply([driver, view("bad", source, transform=transform, schema=schema)])
    assert info.value.name == "bad" and "feature view 'bad'" in info.value.message
    return info.value


@pytest.mark.parametrize(("transform", "match"), [
    (lambda lf: lf.drop("driver_id").with_columns(speed=pl.col("km")), "join key 'driver_id' column 'driver_id' is "
                                                                       "missing from the transform's output"),
    (lambda lf: lf.drop("event_timestamp").with_columns(speed=pl.col("km")), "timestamp column 'event_timestamp'"),
    (lambda lf: lf.drop("created").with_columns(speed=pl.col("km")), "created timestamp column 'created'"),
    (lambda lf: lf, "feature 'speed' column 'speed' is missing"),
    (lambda lf: lf.select("driver_id", "event_timestamp", "created", "km", speed=pl.col("km")), "drops column "
                                                                                              "'__fs_ordinal'"),
    (lambda lf: lf.with_columns(speed=pl.col("status")), "feature 'speed' is declared Float64 but source column "
                                                         "'speed' holds large_string"),
    (lambda lf: lf.with_columns(speed=pl.col("nope")), "its transform failed: ColumnNotFoundError"),
    (lambda lf: lf.collect(), "returned a DataFrame, not a polars LazyFrame"),
    (lambda lf: lf.with_columns(speed=1 / 0), "its transform failed: ZeroDivisionError: division by zero"),
])
def test_apply_checks_the_transforms_output_schema(make_store, tmp_path, transform, match) -> None:
    err = _apply_error(make_store, tmp_path, transform)
    assert match in err.message


def test_apply_checks_declared_types_against_the_output(make_store, tmp_path) -> None:
    err = _apply_error(make_store, tmp_path, lambda lf: lf.with_columns(speed=pl.col("km") / 2),
                       [Field(name="speed", dtype=Int64)])
    assert "feature 'speed' is declared Int64" in err.message and "double" in err.message


@pytest.mark.parametrize("code", [
    "lambda lf: lf.with_columns(t=pl.lit(datetime.now()))",
    "lambda lf: lf.with_columns(t=pl.lit(datetime.datetime.utcnow()))",
    "lambda lf: lf.with_columns(t=pl.lit(time.time()))",
    "lambda lf: lf.with_columns(t=pl.lit(random.random()))",
    "lambda lf: lf.with_columns(t=pl.lit(np.random.rand()))",
    "lambda lf: lf.with_columns(t=pl.lit(str(uuid.uuid4())))",
    "lambda lf: lf.with_columns(t=pl.lit(secrets.token_hex()))",
    "lambda lf: lf.with_columns(t=pl.lit(date.today()))",
])
def test_a_transform_reading_the_clock_or_random_numbers_is_refused(tmp_path, code) -> None:
    module = tmp_path / "defs_clock.py"
    module.write_text(f"f = {code}\n")
    namespace: dict[str, Any] = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    with pytest.raises(DefinitionError, match=r"feature view 'v': its transform calls .*\(\): transformations must "
                                              "not read the wall clock or random numbers") as info:
        view("v", ParquetSource(path="x.parquet"), transform=namespace["f"])
    assert info.value.name == "v"


def test_the_registry_keeps_the_code_and_its_fingerprint(make_store, tmp_path) -> None:
    pq.write_table(pa.Table.from_pylist(_rows(random.Random(1), 5), schema=SCHEMA), tmp_path / "t.parquet")
    live = view("v", ParquetSource(path="t.parquet"))
    store = make_store()
    store.apply([driver, live])
    registered = store.get_feature_view("v")
    assert registered.transform is None and registered.has_transform
    assert registered.transform_code == live.transform_code and registered.transform_code.startswith("def trips(")
    assert registered.transform_fingerprint == live.transform_fingerprint
    assert FeatureView.from_dict(registered.to_dict()) == registered
    lam = view("v", ParquetSource(path="t.parquet"), transform=lambda lf: trips(lf).filter(pl.col("km") > 2))
    assert lam.transform_code == 'lambda lf: trips(lf).filter(pl.col("km") > 2)'
    plan = store.plan([driver, lam])
    assert [(c.name, [f.split(":")[0] for f in c.fields]) for c in plan.changed] == [
        ("v", ["transform.code", "transform.fingerprint"])]
    assert plan.changed[0].fields[0] == "transform.code: changed"
    # read without FeatureStore, a registered view has no function to run: a clear error, not a wrong answer
    entity = pa.Table.from_pylist([{"driver_id": 1, "event_timestamp": T0}], schema=ENTITY_SCHEMA)
    with pytest.raises(CodeMismatchError, match="feature view 'v' has a Polars transform, but its code was not "
                                                "loaded") as info:
        store.offline.spine([registered], T0, T0)
    assert info.value.view == "v"
    assert store.get_historical_features(entity, ["v:speed"]).to_arrow().num_rows == 1


DEFS = '''
from datetime import timedelta
import polars as pl
from featurestore import Entity, FeatureView, Field, ParquetSource
from featurestore.types import Float64
driver = Entity(name="driver", join_keys=["driver_id"])
trips = FeatureView(name="trips", entities=[driver], source=ParquetSource(path="data/t.parquet"),
                    schema=[Field(name="speed", dtype=Float64)],
                    transform=lambda lf: lf.with_columns(speed=pl.col("km") / pl.col("hours") * {factor}))
'''


def test_changed_or_missing_code_is_a_mismatch_naming_the_view(tmp_path) -> None:
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(_rows(random.Random(3), 8), schema=SCHEMA), tmp_path / "data" / "t.parquet")
    (tmp_path / "featurestore.yaml").write_text("project: t\n")
    (tmp_path / "defs.py").write_text(DEFS.format(factor=1))
    config = parse_config({"project": "t"}, "test", env={})
    with FeatureStore(tmp_path, config=config) as store:
        store.apply()
    entity = pa.Table.from_pylist([{"driver_id": d, "event_timestamp": T0 + timedelta(hours=1)} for d in (1, 2)],
                                  schema=ENTITY_SCHEMA)
    with FeatureStore(tmp_path, config=config) as store:  # a new process: the code comes from the repo
        before = store.get_historical_features(entity, ["trips:speed"]).to_arrow().column("speed").to_pylist()
        assert any(v is not None for v in before)
        applied = store.get_feature_view("trips").transform_fingerprint
        (tmp_path / "defs.py").write_text(DEFS.format(factor=2))
        with pytest.raises(CodeMismatchError, match="feature view 'trips': its Polars transform cannot run: the "
                                                    "repo's code differs from the applied code") as info:
            store.get_historical_features(entity, ["trips:speed"])
        assert info.value.view == "trips" and info.value.applied == applied
        assert info.value.found not in (None, applied)
        with pytest.raises(CodeMismatchError) as info:
            store.materialize(T0, T0 + timedelta(days=1))
        assert info.value.view == "trips" and info.value.found not in (None, applied)
        without = DEFS.format(factor=1).split("transform=")[0].rstrip().rstrip(",") + ")\n"
        (tmp_path / "defs.py").write_text(without)  # the view is still defined, without its transform
        with pytest.raises(CodeMismatchError, match="the repo's definition has no transform") as info:
            store.get_historical_features(entity, ["trips:speed"])
        assert info.value.found is None


def test_an_error_inside_the_transform_names_the_view(make_store, tmp_path) -> None:
    pq.write_table(pa.Table.from_pylist(_rows(random.Random(1), 5), schema=SCHEMA), tmp_path / "t.parquet")
    # fine on no rows (apply), fails on the data: "done" is not a number
    bad = view("trips", ParquetSource(path="t.parquet"), transform=lambda lf: lf.with_columns(
        speed=pl.col("status").cast(pl.Float64)))
    store = make_store()
    store.apply([driver, bad])
    entity = pa.Table.from_pylist([{"driver_id": 1, "event_timestamp": T0}], schema=ENTITY_SCHEMA)
    with pytest.raises(DataSourceError, match="feature view 'trips': its transform failed: InvalidOperationError") \
            as info:
        store.get_historical_features(entity, ["trips:speed"])
    assert info.value.view == "trips" and "Traceback" not in info.value.message


@pytest.mark.parametrize("route", ["polars", "duckdb"])
def test_rows_stream_through_the_transform_into_a_reused_parquet_file(make_store, tmp_path, monkeypatch,
                                                                     route) -> None:
    """Polars reads a Parquet source itself, in morsels; DuckDB's route (any other source, or when Polars'
    read would differ) streams record batches: either way never the whole frame at once."""
    rng = random.Random(5)
    rows = _write_files(tmp_path / "trips", rng, 3)
    frames: list[type] = []
    sizes: list[int] = []

    def counting(lf: pl.LazyFrame) -> pl.LazyFrame:
        frames.append(type(lf))
        return trips(lf).with_columns(
            pl.col("km").map_batches(lambda s: (sizes.append(len(s)), s)[1], is_elementwise=True,
                                     return_dtype=pl.Float64))

    def no_collect(self: pl.LazyFrame, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the engine collected a LazyFrame in Python")

    store = make_store()
    store.apply([driver, view("trips", ParquetSource(path="trips", created_timestamp_field="created"),
                              transform=counting)])
    frames.clear()  # apply ran it once, on no rows
    if route == "duckdb":
        monkeypatch.setattr(transformed, "parquet_scan", lambda *args: None)
        monkeypatch.setattr(transformed, "BATCH_ROWS", 4)  # DuckDB hands Polars record batches of 4 rows
    else:
        def no_duckdb(*args: Any) -> Any:
            raise AssertionError("DuckDB read a Parquet source Polars reads alike")

        monkeypatch.setattr(transformed, "duckdb_scan", no_duckdb)
        pl.Config.set_streaming_chunk_size(4)  # Polars' morsels: about 4 rows
    monkeypatch.setattr(pl.LazyFrame, "collect", no_collect)
    entity = pa.Table.from_pylist(_entities(rng, 20), schema=ENTITY_SCHEMA)
    try:
        first = store.get_historical_features(entity, ["trips:speed"]).to_arrow()
    finally:
        pl.Config.set_streaming_chunk_size(None)
    assert frames == [pl.LazyFrame]
    assert sum(sizes) == len(reference_transform(rows)) and max(sizes) <= 8  # never the whole frame at once

    folder = store.offline._transforms._dir
    built = list(folder.glob("*.parquet"))
    assert len(built) == 1 and pq.read_table(built[0]).num_rows == len(reference_transform(rows))
    # the training set is read from that file: doubled speeds written there come back
    doubled = pq.read_table(built[0])
    doubled = doubled.set_column(doubled.schema.get_field_index("speed"), "speed",
                                 pa.compute.multiply(doubled.column("speed"), 2))
    pq.write_table(doubled, built[0])
    again = store.get_historical_features(entity, ["trips:speed"]).to_arrow()
    assert len(frames) == 1  # unchanged sources: not run again
    assert again.column("speed").to_pylist() == [None if v is None else v * 2
                                                 for v in first.column("speed").to_pylist()]
    # a new source file: the transform runs again, into a new file
    pq.write_table(pa.Table.from_pylist(_rows(rng, 3), schema=SCHEMA), tmp_path / "trips" / "part-9.parquet")
    store.get_historical_features(entity, ["trips:speed"]).to_arrow()
    assert len(frames) == 2 and len(list(folder.glob("*.parquet"))) == 2
    store.offline.close()
    assert not folder.exists()


def _read_both(store: FeatureStore, v: FeatureView) -> tuple[pl.DataFrame, pl.LazyFrame | None]:
    """A view's source rows as DuckDB reads them (with their ordinals), and Polars' own scan of them (or None)."""
    off = store.offline
    con = off.connect([v.source], [v])
    try:
        table = con.sql(f"SELECT * FROM ({transformed.source_sql(v, off.ctx)})").to_arrow_table()
    finally:
        con.close()
    by_duckdb = pl.from_arrow(table)
    assert isinstance(by_duckdb, pl.DataFrame)
    return by_duckdb, transformed.parquet_scan(v, off.ctx, by_duckdb.schema)


def test_polars_reads_a_parquet_source_in_duckdbs_order(make_store, tmp_path) -> None:
    """The Polars scan of a Parquet source gives DuckDB's rows, types and tie-break order (part-10 before part-2):
    equal ordinals for one file, the same order for several."""
    rng = random.Random(11)
    _write_files(tmp_path / "trips", rng, 12)
    pq.write_table(pa.Table.from_pylist(_rows(rng, 30), schema=SCHEMA), tmp_path / "one.parquet")
    store = make_store()
    several = view("trips", ParquetSource(path="trips", created_timestamp_field="created"))
    one = view("one", ParquetSource(path="one.parquet", created_timestamp_field="created"))
    store.apply([driver, several, one])
    ordinal = "__fs_ordinal"
    for v in (several, one):
        by_duckdb, scan = _read_both(store, v)
        assert scan is not None, v.name
        by_polars = scan.collect()
        assert by_polars.schema == by_duckdb.schema and by_polars[ordinal].n_unique() == by_polars.height
        assert by_polars.sort(ordinal).drop(ordinal).equals(by_duckdb.sort(ordinal).drop(ordinal)), v.name
        if v is one:
            assert by_polars.sort(ordinal)[ordinal].to_list() == by_duckdb.sort(ordinal)[ordinal].to_list()


def test_sources_polars_would_read_otherwise_are_read_by_duckdb(make_store, tmp_path) -> None:
    """A column only a later file has, or pushed rows: DuckDB's route. Types that differ between files (Polars
    fails on them at run time): DuckDB's route too, and the training set matches the reference."""
    rng = random.Random(12)
    (tmp_path / "extra").mkdir()
    first, later = _rows(rng, 10), _rows(rng, 10)
    pq.write_table(pa.Table.from_pylist(first, schema=SCHEMA), tmp_path / "extra" / "a.parquet")
    pq.write_table(pa.Table.from_pylist(later, schema=SCHEMA.append(pa.field("tip", pa.float64()))),
                   tmp_path / "extra" / "b.parquet")
    (tmp_path / "mixed").mkdir()
    pq.write_table(pa.Table.from_pylist(first, schema=SCHEMA), tmp_path / "mixed" / "a.parquet")
    narrow = SCHEMA.set(SCHEMA.get_field_index("km"), pa.field("km", pa.float32()))
    pq.write_table(pa.Table.from_pylist(later, schema=narrow), tmp_path / "mixed" / "b.parquet")
    _write_files(tmp_path / "trips", rng, 2)
    extra = view("extra", ParquetSource(path="extra", created_timestamp_field="created"))
    mixed = view("mixed", ParquetSource(path="mixed", created_timestamp_field="created"))
    push = PushSource(name="trips_push", batch_source=ParquetSource(path="trips", created_timestamp_field="created"))
    pushed = view("pushed", push)
    store = make_store(max_future_event_seconds=None)
    store.apply([driver, extra, mixed, pushed])
    assert _read_both(store, extra)[1] is None
    scan = _read_both(store, mixed)[1]  # the same schema as DuckDB's, but Polars fails on b.parquet's km
    assert scan is not None
    with pytest.raises(pl.exceptions.PolarsError):
        scan.collect()
    assert _read_both(store, pushed)[1] is not None  # nothing pushed yet
    store.push("trips_push", pa.Table.from_pylist(_rows(rng, 3), schema=SCHEMA), to="offline")
    assert _read_both(store, pushed)[1] is None

    entities = _entities(rng, 30)
    got = store.get_historical_features(pa.Table.from_pylist(entities, schema=ENTITY_SCHEMA),
                                        ["mixed:speed", "extra:speed"], full_feature_names=True).to_arrow()
    want = point_in_time(reference_transform(first + later), ["driver_id"], ["speed"], entities,
                         created_col="created")
    assert got.column("mixed__speed").to_pylist() == [w["speed"] for w in want]
    assert got.column("extra__speed").to_pylist() == [w["speed"] for w in want]


def test_one_registry_snapshot_with_live_transforms_per_snapshot(tmp_path) -> None:
    """Reads of one registry snapshot share one copy with the live transforms, so its resolutions stay cached
    (push and training sets do not resolve their features again per call)."""
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(_rows(random.Random(3), 8), schema=SCHEMA), tmp_path / "data" / "t.parquet")
    (tmp_path / "featurestore.yaml").write_text("project: t\n")
    (tmp_path / "defs.py").write_text(DEFS.format(factor=1))
    config = parse_config({"project": "t"}, "test", env={})
    with FeatureStore(tmp_path, config=config) as store:
        store.apply()
    with FeatureStore(tmp_path, config=config) as store:  # a new process: the code comes from the repo
        state = store.state()
        first, live = store._code.with_transforms(state)
        assert first is not state and "trips" in live
        assert store._code.with_transforms(state)[0] is first
        (tmp_path / "defs.py").write_text(DEFS.format(factor=2))  # changed code: looked at again
        assert isinstance(store._code.with_transforms(state)[1]["trips"], CodeMismatchError)

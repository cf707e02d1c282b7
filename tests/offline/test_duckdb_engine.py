"""DuckDB engine mechanics: the shared instance's cursors, the positional reorder of results."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import DuckDBSource, Entity, FeatureView, Field, ParquetSource
from featurestore.errors import OfflineStoreError
from featurestore.offline.duckdb import job as job_module
from featurestore.offline.duckdb.job import best_of_ties, fetch_best_of_ties, in_row_order
from featurestore.offline.duckdb.store import DuckDBOfflineStore
from featurestore.types import Float64, Int64
from tests.offline.reference import point_in_time

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])
SCHEMA = pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                    ("created", pa.timestamp("us", tz="UTC")), ("v", pa.float64())])


def test_in_row_order_puts_every_row_at_its_position() -> None:
    n = 5000
    perm = np.random.default_rng(3).permutation(n)
    shuffled = pa.table({"__fs_row": pa.array(perm), "x": pa.array(perm * 10), "s": pa.array([str(p) for p in perm])})
    out = in_row_order(shuffled, n)
    assert out.column("__fs_row").to_pylist() == list(range(n))
    assert out.column("x").to_pylist() == [i * 10 for i in range(n)]
    assert out.column("s").to_pylist() == [str(i) for i in range(n)]


def test_in_row_order_every_type_with_nulls_chunks_and_offsets() -> None:
    """Fixed-width columns are scattered buffer by buffer, others gathered: both keep values and nulls."""
    from decimal import Decimal

    n = 3000
    rng = random.Random(4)
    perm = list(range(n))
    rng.shuffle(perm)

    def maybe(v: object, i: int) -> object:
        return None if i % 5 == 0 else v

    columns = {
        "i8": pa.array([maybe(p % 100, p) for p in perm], pa.int8()),
        "u16": pa.array([maybe(p, p) for p in perm], pa.uint16()),
        "f32": pa.array([maybe(p / 3, p) for p in perm], pa.float32()),
        "f64": pa.array([p * 1.5 for p in perm], pa.float64()),  # no nulls
        "ts": pa.array([maybe(T0 + timedelta(seconds=p), p) for p in perm], pa.timestamp("ns", tz="UTC")),
        "d": pa.array([maybe(p, p) for p in perm], pa.date32()),
        "b": pa.array([maybe(p % 2 == 0, p) for p in perm], pa.bool_()),
        "s": pa.array([maybe(str(p), p) for p in perm], pa.string()),
        "dec": pa.array([maybe(Decimal(p) / 4, p) for p in perm], pa.decimal128(10, 2)),
        "mdn": pa.array([maybe(pa.scalar((1, 2, p), pa.month_day_nano_interval()).as_py(), p) for p in perm],
                        pa.month_day_nano_interval()),
    }
    whole = pa.table({"__fs_row": pa.array(perm, pa.int64()), **columns})
    padded = pa.concat_tables([whole.slice(0, 7), whole]).combine_chunks().slice(7)  # one chunk, offset 7
    chunked = pa.concat_tables([whole.slice(0, 1000), whole.slice(1000, 1), whole.slice(1001)])
    want = whole.sort_by("__fs_row")
    for table in (whole, padded, chunked):
        got = in_row_order(table, n)
        assert got.schema == whole.schema
        assert got.to_pylist() == want.to_pylist()


def test_in_row_order_of_nothing() -> None:
    table = pa.table({"__fs_row": pa.array([], pa.int64()), "v": pa.array([], pa.float32())})
    assert in_row_order(table, 0).num_rows == 0


def test_in_row_order_refuses_a_result_of_the_wrong_length() -> None:
    with pytest.raises(OfflineStoreError, match="3 rows for 4 entity rows"):
        in_row_order(pa.table({"__fs_row": pa.array([2, 0, 1], pa.int64())}), 4)


def _expected(rows: list[dict[str, object]], entities: list[dict[str, object]]) -> list[object]:
    """The reference, per driver (its rows keep their read order, so positions compare the same)."""
    by_driver: dict[object, list[dict[str, object]]] = {}
    for row in rows:
        by_driver.setdefault(row["driver_id"], []).append(row)
    return [point_in_time(by_driver.get(e["driver_id"], []), ["driver_id"], ["v"], [e], ttl=timedelta(minutes=90),
                          created_col="created")[0]["v"] for e in entities]


def _store_with_rows(make_store, tmp_path, n_rows: int, seed: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    rows = [{"driver_id": rng.randint(0, 40), "event_timestamp": T0 + timedelta(minutes=rng.randint(0, 500)),
             "created": rng.choice([None, T0]), "v": float(i)} for i in range(n_rows)]
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp_path / "s.parquet")
    view = FeatureView(name="s", entities=[driver], ttl=timedelta(minutes=90), schema=[Field(name="v", dtype=Float64)],
                       source=ParquetSource(path="s.parquet", created_timestamp_field="created"))
    store = make_store()
    store.apply([driver, view])
    return store, rows


def _entities(seed: int, n: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [{"driver_id": rng.randint(0, 45), "event_timestamp": T0 + timedelta(minutes=rng.randint(-20, 600))}
            for _ in range(n)]


def _frame(entities: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(entities, schema=pa.schema([("driver_id", pa.int64()),
                                                            ("event_timestamp", pa.timestamp("us", tz="UTC"))]))


def test_large_frame_in_input_order_by_arrow_and_by_batches(make_store, tmp_path) -> None:
    """Enough rows for DuckDB to return them out of order: to_arrow reorders, to_batches streams sorted."""
    store, rows = _store_with_rows(make_store, tmp_path, 4000, seed=5)
    entities = _entities(6, 30_000)
    job = store.get_historical_features(_frame(entities), ["s:v"])
    want = _expected(rows, entities)
    assert job.to_arrow().column("v").to_pylist() == want
    assert pa.Table.from_batches(list(job.to_batches(batch_rows=7000))).column("v").to_pylist() == want


def test_two_jobs_at_once_share_the_instance_but_not_their_temp_tables(make_store, tmp_path) -> None:
    store, rows = _store_with_rows(make_store, tmp_path, 3000, seed=8)
    first, second = _entities(1, 5000), _entities(2, 4000)
    want = [_expected(rows, e) for e in (first, second)]
    streaming = store.get_historical_features(_frame(first), ["s:v"]).to_batches(batch_rows=1000)
    head = next(streaming)  # the first job's connection (and its temp table) is open from here on
    got_second = store.get_historical_features(_frame(second), ["s:v"]).to_arrow().column("v").to_pylist()
    got_first = pa.Table.from_batches([head, *streaming]).column("v").to_pylist()
    assert (got_first, got_second) == (want[0], want[1])


def test_store_reopens_its_instance_after_close(tmp_path) -> None:
    store = DuckDBOfflineStore(tmp_path)
    for _ in range(2):
        con = store.connect()
        assert con.sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
        con.close()
        store.close()


def test_duckdb_database_rewritten_between_calls_is_read_afresh(make_store, tmp_path) -> None:
    db = tmp_path / "w.duckdb"

    def write(trips: int) -> None:
        db.unlink(missing_ok=True)
        with duckdb.connect(str(db)) as con:
            con.execute("CREATE TABLE stats (driver_id BIGINT, event_timestamp TIMESTAMP, trips BIGINT)")
            con.execute(f"INSERT INTO stats VALUES (1, '2026-03-01 11:00:00', {trips})")

    write(5)
    view = FeatureView(name="t", entities=[driver], schema=[Field(name="trips", dtype=Int64)],
                       source=DuckDBSource(table="stats", database="w.duckdb"))
    store = make_store()
    store.apply([driver, view])
    ent = pa.table({"driver_id": [1], "event_timestamp": pa.array([datetime(2026, 3, 1, 11, 15)], pa.timestamp("us"))})
    assert store.get_historical_features(ent, ["t:trips"]).to_arrow().column("trips").to_pylist() == [5]
    write(6)
    assert store.get_historical_features(ent, ["t:trips"]).to_arrow().column("trips").to_pylist() == [6]


def test_best_of_ties_keeps_the_greatest_created_then_rank_and_ordinal() -> None:
    rng = random.Random(17)
    n, low = 300, -(2**63)
    rows: list[tuple[int, int | None, int | None]] = []
    for r in range(n):
        if r % 7 == 0:
            rows.append((r, None, None))  # no match: alone, both null
        else:  # 1-4 tied rows: created unknown (lowest) or not, (rank, ordinal) distinct
            rows += [(r, rng.choice([low, 1, 2]), o) for o in rng.sample(range(10), rng.randint(1, 4))]
    rng.shuffle(rows)
    table = pa.table({"__fs_row": pa.array([r for r, _, _ in rows], pa.int64()),
                      "__fs_cr": pa.array([c for _, c, _ in rows], pa.int64()),
                      "__fs_ro": pa.array([o for _, _, o in rows], pa.int64()),
                      "v": pa.array([f"{r}/{c}/{o}" for r, c, o in rows])})
    got = in_row_order(best_of_ties(table, n), n)
    want = [max((x for x in rows if x[0] == r), key=lambda x: (x[1] or 0, x[2] or 0)) for r in range(n)]
    assert got.column_names == ["__fs_row", "v"]
    assert got.column("v").to_pylist() == [f"{r}/{c}/{o}" for r, c, o in want]


def test_fetch_best_of_ties_holds_a_bounded_number_of_rows(monkeypatch) -> None:
    """Ten tied rows per entity row, read in small batches: the held rows are resolved as they pile up."""
    n = 200
    rng = random.Random(9)
    rows = [(r, rng.randint(0, 3), rng.randint(0, 10**6)) for r in range(n) for _ in range(10)]
    rng.shuffle(rows)
    table = pa.table({"__fs_row": pa.array([r for r, _, _ in rows], pa.int64()),
                      "__fs_cr": pa.array([c for _, c, _ in rows], pa.int64()),
                      "__fs_ro": pa.array([o for _, _, o in rows], pa.int64()),
                      "v": pa.array([c * 10**7 + o for _, c, o in rows], pa.int64())})
    held: list[int] = []  # rows held each time ties are resolved
    real = job_module.best_of_ties
    monkeypatch.setattr(job_module, "best_of_ties", lambda t, *a, **k: (held.append(t.num_rows), real(t, *a, **k))[1])

    class Reader:  # a RecordBatchReader's iteration and schema
        schema = table.schema

        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from table.to_batches(max_chunksize=50)

    got = in_row_order(fetch_best_of_ties(Reader(), n), n)  # type: ignore[arg-type]
    want = [max(c * 10**7 + o for r2, c, o in rows if r2 == r) for r in range(n)]
    assert got.column("v").to_pylist() == want
    assert got.column_names == ["__fs_row", "v"]
    assert len(held) > 2 and max(held) <= 2 * n + 50  # resolved as it went, never the 2,000 rows at once


def test_many_ties_same_answer_by_arrow_batches_and_parquet(make_store, tmp_path) -> None:
    """Rows tied on event time (and often on created time) for every path: Arrow, streamed batches, Parquet in."""
    rng = random.Random(23)
    rows = [{"driver_id": rng.randint(0, 4), "event_timestamp": T0 + timedelta(minutes=rng.randint(0, 6)),
             "created": rng.choice([None, T0, T0 + timedelta(seconds=1)]), "v": float(i)} for i in range(400)]
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp_path / "s.parquet")
    view = FeatureView(name="s", entities=[driver], ttl=timedelta(minutes=90), schema=[Field(name="v", dtype=Float64)],
                       source=ParquetSource(path="s.parquet", created_timestamp_field="created"))
    store = make_store()
    store.apply([driver, view])
    entities = [{"driver_id": rng.randint(0, 5), "event_timestamp": T0 + timedelta(minutes=rng.randint(-1, 8))}
                for _ in range(3000)]
    want = _expected(rows, entities)
    job = store.get_historical_features(_frame(entities), ["s:v"])
    assert job.to_arrow().column("v").to_pylist() == want
    assert pa.Table.from_batches(list(job.to_batches(batch_rows=500))).column("v").to_pylist() == want
    pq.write_table(_frame(entities), tmp_path / "entity.parquet")
    out = store.get_historical_features(str(tmp_path / "entity.parquet"), ["s:v"]).to_parquet(tmp_path / "out.parquet")
    assert pq.read_table(out).column("v").to_pylist() == want

"""``DuckDBSource(query=...)``: the tables of its database unqualified, paths relative to the repo, no lock on a
database it does not read, a trailing ``;`` or comment, and errors that name the view and the query."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import DuckDBSource, Entity, FeatureView, Field, ParquetSource
from featurestore.errors import FeatureStoreError
from featurestore.types import Int64

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])


def _db(path: Path, trips: int, table: str = "stats") -> None:
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE TABLE {table} (driver_id BIGINT, event_timestamp TIMESTAMPTZ, trips BIGINT)")
        con.execute(f"INSERT INTO {table} VALUES (1, '2026-03-01 11:00:00+00', {trips})")


def _parquet(path: Path, trips: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"driver_id": [1], "event_timestamp": pa.array([T0 - timedelta(hours=1)],
                                                                           pa.timestamp("us", tz="UTC")),
                             "trips": [trips]}), path)


def _view(name: str, source: DuckDBSource | ParquetSource) -> FeatureView:
    return FeatureView(name=name, entities=[driver], schema=[Field(name="trips", dtype=Int64)], source=source)


def _entity() -> pa.Table:
    return pa.table({"driver_id": [1], "event_timestamp": pa.array([T0], pa.timestamp("us", tz="UTC"))})


def _trips(store, view: str) -> list[object]:  # type: ignore[no-untyped-def]
    return store.get_historical_features(_entity(), [f"{view}:trips"]).to_arrow().column("trips").to_pylist()


def test_query_reads_its_databases_tables_unqualified(make_store, tmp_path: Path) -> None:
    """database= and offline_store.path: the query names tables bare; other views read in the same request
    (a table source, a query of another database with a table of the same name, a Parquet file) stay right."""
    _db(tmp_path / "a.duckdb", 5)
    _db(tmp_path / "b.duckdb", 7)
    _db(tmp_path / "main.duckdb", 9)
    _parquet(tmp_path / "data" / "p.parquet", 11)
    views = [
        _view("qa", DuckDBSource(query="SELECT * FROM stats", database="a.duckdb")),
        _view("qb", DuckDBSource(query="SELECT driver_id, event_timestamp, trips FROM stats s WHERE s.trips > 0",
                                 database="b.duckdb")),
        _view("qm", DuckDBSource(query="WITH s AS (SELECT * FROM stats) SELECT * FROM s")),  # offline_store.path
        _view("ta", DuckDBSource(table="stats", database="a.duckdb")),
        _view("p", ParquetSource(path="data/p.parquet")),
    ]
    store = make_store(offline_store={"path": "main.duckdb"})
    store.apply([driver, *views])
    out = store.get_historical_features(_entity(), [f"{v.name}:trips" for v in views],
                                        full_feature_names=True).to_arrow()
    assert [out.column(f"{v.name}__trips").to_pylist() for v in views] == [[5], [7], [9], [5], [11]]
    store.materialize(T0 - timedelta(days=1), T0)
    got = store.get_online_features([f"{v.name}:trips" for v in views], [{"driver_id": 1}],
                                    full_feature_names=True).to_dict()
    assert [got[f"{v.name}__trips"] for v in views] == [[5], [7], [9], [5], [11]]


def test_query_paths_are_the_repos_whatever_the_current_folder(make_store, tmp_path: Path, monkeypatch) -> None:
    """read_parquet('data/x.parquet') and FROM 'data/x.parquet' read the repo's file, even when the current folder
    has a file of that name too."""
    repo = tmp_path
    _parquet(repo / "data" / "x.parquet", 3)
    elsewhere = tmp_path / "elsewhere"
    _parquet(elsewhere / "data" / "x.parquet", 99)  # a decoy at the same relative path
    monkeypatch.chdir(elsewhere)
    views = [_view("f", DuckDBSource(query="SELECT * FROM read_parquet('data/x.parquet')")),
             _view("g", DuckDBSource(query="SELECT * FROM read_parquet(['data/x.parquet'], union_by_name=true)")),
             _view("h", DuckDBSource(query="SELECT * FROM 'data/x.parquet'"))]
    store = make_store()
    store.apply([driver, *views])
    out = store.get_historical_features(_entity(), ["f:trips", "g:trips", "h:trips"],
                                        full_feature_names=True).to_arrow()
    assert [out.column(c).to_pylist() for c in ("f__trips", "g__trips", "h__trips")] == [[3], [3], [3]]


HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS held (a INTEGER)")
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_query_of_files_does_not_lock_the_database(make_store, tmp_path: Path) -> None:
    """Another process writes to offline_store.path: a query view of Parquet files is read all the same (it
    attaches nothing); a query of the database's tables fails with an error naming the view."""
    _db(tmp_path / "main.duckdb", 9)
    _parquet(tmp_path / "data" / "x.parquet", 3)
    files = _view("files", DuckDBSource(query="SELECT * FROM read_parquet('data/x.parquet')"))
    tables = _view("tables", DuckDBSource(query="SELECT * FROM stats"))
    store = make_store(offline_store={"path": "main.duckdb"})
    store.apply([driver, files, tables])
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "main.duckdb")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        assert _trips(store, "files") == [3]
        with pytest.raises(FeatureStoreError, match="'tables'") as err:
            _trips(store, "tables")
        assert err.value.view == "tables"
    finally:
        holder.communicate("")


@pytest.mark.parametrize("tail", [";", " ;\n", "; -- the daily stats", "\n-- the daily stats\n", " /* c */ ;;",
                                  " -- ends with a comment ; and a semicolon"])
def test_trailing_semicolon_and_comment(make_store, tmp_path: Path, tail: str) -> None:
    _db(tmp_path / "w.duckdb", 5)
    view = _view("q", DuckDBSource(query="SELECT * FROM stats -- all rows\nWHERE trips > 0" + tail,
                                   database="w.duckdb"))
    store = make_store()
    store.apply([driver, view])
    assert _trips(store, "q") == [5]


def test_two_statements_are_refused_naming_the_view(make_store, tmp_path: Path) -> None:
    _db(tmp_path / "w.duckdb", 5)
    view = _view("q", DuckDBSource(query="SELECT * FROM stats; SELECT * FROM stats", database="w.duckdb"))
    with pytest.raises(FeatureStoreError, match=r"'q'.*2 statements") as err:
        make_store().apply([driver, view])
    assert "DuckDBSource(" not in str(err.value)


@pytest.mark.parametrize(("source", "names"), [
    (DuckDBSource(query="SELEC driver_id FROM stats"), "duckdb-query:SELEC driver_id"),
    (DuckDBSource(query="SELECT * FROM no_such_table"), "no_such_table"),
    (DuckDBSource(table="no_such_table", database="w.duckdb"), "no_such_table"),
    (ParquetSource(path="data/missing.parquet"), "data/missing.parquet"),
    (DuckDBSource(table="stats", database="missing.duckdb"), "missing.duckdb"),
    (DuckDBSource(query="SELECT * FROM stats", database="missing.duckdb"), "missing.duckdb"),
])
def test_a_bad_source_names_the_view_and_the_source_briefly(make_store, tmp_path: Path, source, names: str) -> None:
    _db(tmp_path / "w.duckdb", 5)
    store = make_store(offline_store={"path": "w.duckdb"})
    with pytest.raises(FeatureStoreError) as err:
        store.apply([driver, _view("bad_view", source)])
    text = str(err.value)
    assert "'bad_view'" in text and names in text and "DuckDBSource(" not in text and "ParquetSource(" not in text
    assert err.value.view == "bad_view"


def test_a_column_dropped_from_a_query_source_is_named(make_store, tmp_path: Path) -> None:
    """The table the query reads loses the feature column after apply: training sets and materialize name the
    view and the column."""
    _db(tmp_path / "w.duckdb", 5)
    store = make_store()
    store.apply([driver, _view("q", DuckDBSource(query="SELECT * FROM stats", database="w.duckdb"))])
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("ALTER TABLE stats DROP COLUMN trips")
    with pytest.raises(FeatureStoreError, match="no column 'trips'") as err:
        _trips(store, "q")
    assert (err.value.view, getattr(err.value, "column", None)) == ("q", "trips")
    with pytest.raises(FeatureStoreError, match="no column 'trips'") as err:
        store.materialize(T0 - timedelta(days=1), T0)
    assert err.value.view == "q"

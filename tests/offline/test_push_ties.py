"""Pushed rows win ties against batch rows, whatever the number of batch files (an explicit rank).

Ties on event and created time are broken by position: later files of a folder, later rows of a
file, and pushed rows after every batch row. A folder of more than 1,024 tiny files checks the last
rule where a file-index offset once ran past the "pushed" offset.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import Entity, FeatureView, Field, ParquetSource, PushSource
from featurestore.types import Float64
from tests.offline.reference import point_in_time

SPARK_CONFORMANCE = True
SPARK_EXCEPT = ("test_pushed_rows_win_ties_beyond_1024_batch_files",)
"""The Spark engine runs this module too (tests/offline/conftest.py), except 1024 files (30 s on Spark)."""

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCHEMA = pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                    ("created", pa.timestamp("us", tz="UTC")), ("v", pa.float64())])
driver = Entity(name="driver", join_keys=["driver_id"])


def _row(rng: random.Random, v: float) -> dict[str, object]:
    ev = T0 + timedelta(minutes=rng.randint(0, 2))
    return {"driver_id": rng.randint(1, 3), "event_timestamp": ev, "created": rng.choice([None, ev, T0]), "v": v}


def test_pushed_rows_win_ties_beyond_1024_batch_files(make_store, tmp_path) -> None:
    rng = random.Random(11)
    folder = tmp_path / "stats"
    folder.mkdir()
    batch_rows: list[dict[str, object]] = []
    for i in range(1030):  # sorted file names = read order
        rows = [_row(rng, float(i * 10 + j)) for j in range(rng.randint(0, 2))]
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / f"part-{i:05d}.parquet")
        batch_rows += rows
    # the last batch file holds a row that every pushed row below ties with on event and created time
    tie = {"driver_id": 1, "event_timestamp": T0 + timedelta(minutes=5), "created": T0, "v": -1.0}
    pq.write_table(pa.Table.from_pylist([tie], schema=SCHEMA), folder / "part-99999.parquet")
    batch_rows.append(tie)

    push = PushSource(name="stats_push", batch_source=ParquetSource(path="stats", created_timestamp_field="created"))
    view = FeatureView(name="stats", entities=[driver], schema=[Field(name="v", dtype=Float64)], source=push)
    store = make_store()
    store.apply([driver, view])
    pushed = [[{**tie, "v": 100.0}, _row(rng, 101.0)], [_row(rng, 200.0), {**tie, "v": 201.0}, _row(rng, 202.0)]]
    for rows in pushed:
        store.push("stats_push", pa.Table.from_pylist(rows, schema=SCHEMA), to="offline")

    entities = [{"driver_id": d, "event_timestamp": T0 + timedelta(minutes=m)} for d in (1, 2, 3, 4) for m in range(7)]
    table = pa.Table.from_pylist(entities, schema=pa.schema([("driver_id", pa.int64()),
                                                             ("event_timestamp", pa.timestamp("us", tz="UTC"))]))
    got = store.get_historical_features(table, ["stats:v"]).to_arrow().column("v").to_pylist()
    want = point_in_time(batch_rows + pushed[0] + pushed[1], ["driver_id"], ["v"], entities, created_col="created")
    assert got == [w["v"] for w in want]
    assert got[5] == 201.0  # driver 1 at T0 + 5 min: the last pushed row of the tie, not the batch row
    # materialize picks the same winners (the latest row per entity over everything)
    store.materialize(T0 - timedelta(days=1), T0 + timedelta(days=1))
    online = store.get_online_features(["stats:v"], {"driver_id": [1, 2, 3]}).to_dict()["v"]
    assert online == [got[6], got[13], got[20]]
    assert online[0] == 201.0


def test_later_file_means_later_path_as_text(make_store, tmp_path) -> None:
    """As the README says: files are ordered by path as text, so part-10 is read before part-2 and part-2 wins
    a tie on event and created time."""
    folder = tmp_path / "parts"
    folder.mkdir()
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    for n in (1, 2, 10):
        pq.write_table(pa.table({"driver_id": [1], "event_timestamp": pa.array([t0], pa.timestamp("us", tz="UTC")),
                                 "v": [float(n)]}), folder / f"part-{n}.parquet")
    view = FeatureView(name="s", entities=[driver], schema=[Field(name="v", dtype=Float64)],
                       source=ParquetSource(path="parts"))
    store = make_store()
    store.apply([driver, view])
    entity = pa.table({"driver_id": [1], "event_timestamp": pa.array([t0], pa.timestamp("us", tz="UTC"))})
    assert store.get_historical_features(entity, ["s:v"]).to_arrow().column("v").to_pylist() == [2.0]
    store.materialize(t0 - timedelta(days=1), t0)
    assert store.get_online_features(["s:v"], [{"driver_id": 1}]).to_dict()["v"] == [2.0]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "`part-10.parquet` comes before `part-2.parquet`" in readme

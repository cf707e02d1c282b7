"""Freshness moves when data lands, whoever writes it: materialize, push, write_to_online_store, from another store
object on the same repo (another process), on SQLite and Redis; compared with the newest event time computed from
the written rows in plain Python."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import FeatureStore
from featurestore.utc import epoch_us
from server.metrics import Metrics
from tests.freshness.conftest import END, Repo
from tests.server.test_ops_http import sample


def _newest(path: str, lo: datetime | None, hi: datetime) -> int:
    """The newest event time of a Parquet source in ``(lo, hi)`` (brute force over every row)."""
    rows = pq.read_table(path).column("event_timestamp").to_pylist()
    return max(epoch_us(t) for t in rows if (lo is None or t > lo) and t < hi)


def _stats_row(driver: int, at: datetime, conv: float = 0.5) -> pa.Table:
    ts = pa.timestamp("us", tz="UTC")
    return pa.table({"driver_id": [driver], "event_timestamp": pa.array([at], ts), "created": pa.array([at], ts),
                     "conv_rate": pa.array([conv], pa.float32()),
                     "acc_rate": pa.array([0.9], pa.float32()), "avg_daily_trips": [10]})


def _data_us(store: FeatureStore, view: str) -> int | None:
    return store.freshness()[view].data_timestamp_us


def _scrape(store: FeatureStore) -> str:
    metrics = Metrics(lambda: None, status=lambda: store.monitoring_status())
    return metrics.render().decode()


def test_every_writer_moves_it_and_every_reader_sees_it(repo: Repo) -> None:
    writer, reader = repo.open(), repo.open()
    try:
        assert _data_us(reader, "driver_stats") is None and reader.freshness()["driver_stats"].stale is True
        cut = END - timedelta(days=1, minutes=30)  # between two hourly rows
        writer.materialize(END - timedelta(days=30), cut, ["driver_stats"])
        expected = _newest(str(repo.path / "data" / "driver_stats.parquet"), None, cut)
        assert _data_us(reader, "driver_stats") == expected
        # an empty window moves nothing: freshness is the data's time, not the materialize window's
        writer.materialize(cut, cut + timedelta(minutes=20), ["driver_stats"])
        assert _data_us(reader, "driver_stats") == expected
        # a push of a newer row (the other store object), then an older one
        reader.push("driver_stats_push", _stats_row(1001, END - timedelta(hours=1)))
        assert _data_us(writer, "driver_stats") == epoch_us(END - timedelta(hours=1))
        reader.push("driver_stats_push", _stats_row(1002, END - timedelta(days=5)))
        assert _data_us(writer, "driver_stats") == epoch_us(END - timedelta(hours=1))
        writer.write_to_online_store("driver_stats", _stats_row(1003, END - timedelta(minutes=20)))
        fresh = reader.freshness()["driver_stats"]
        assert fresh.data_timestamp_us == epoch_us(END - timedelta(minutes=20))
        assert fresh.max_staleness == timedelta(hours=2) and fresh.age == timedelta(minutes=20) and not fresh.stale
        text = _scrape(reader)
        assert sample(text, "featurestore_feature_view_data_timestamp_seconds", view="driver_stats") == \
            epoch_us(END - timedelta(minutes=20)) / 1e6
        assert sample(text, "featurestore_feature_view_max_staleness_seconds", view="driver_stats") == 7200.0
        repo.clock[0] = END + timedelta(hours=2)  # past the 2 h SLA
        assert reader.freshness()["driver_stats"].stale is True
        assert reader.freshness()["customer_profile"].stale is None  # no SLA
        reader.reset_online("driver_stats")
        assert _data_us(writer, "driver_stats") is None
    finally:
        writer.close()
        reader.close()


def test_aggregate_views_materialize_and_push(repo: Repo) -> None:
    writer, reader = repo.open(), repo.open()
    try:
        snapshot = END - timedelta(days=2, minutes=7)
        writer.materialize(END - timedelta(days=40), snapshot, ["card_txn"])
        expected = _newest(str(repo.path / "data" / "txns.parquet"), None, snapshot)
        assert _data_us(reader, "card_txn") == expected
        row = pq.read_table(repo.path / "data" / "txns.parquet").slice(0, 1)
        at = END - timedelta(hours=3)
        row = row.set_column(row.schema.get_field_index("event_timestamp"), "event_timestamp",
                             pa.array([at], row.schema.field("event_timestamp").type))
        reader.push("txn_push", row)
        assert _data_us(writer, "card_txn") == epoch_us(at)
    finally:
        writer.close()
        reader.close()

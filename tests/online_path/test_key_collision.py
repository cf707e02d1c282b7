"""Defect 1: a feature named like a requested join key is refused online, as offline (never overwrites the key)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureStore, FeatureView, Field, InputError, ParquetSource
from featurestore.types import Float64, Int64

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
customer = Entity(name="customer", join_keys=["customer_id"])
driver = Entity(name="driver", join_keys=["driver_id"])
REFS = ["cust:driver_id", "drv:rate"]
ROWS = [{"customer_id": 7, "driver_id": 1}]


def colliding_store(make_fs: Any, tmp_path: Path) -> FeatureStore:
    """View ``cust`` (key customer_id) has a feature ``driver_id``; view ``drv`` is keyed by driver_id."""
    (tmp_path / "cust").mkdir()
    (tmp_path / "drv").mkdir()
    utc = pa.timestamp("us", tz="UTC")
    pq.write_table(pa.table({"customer_id": pa.array([7], pa.int64()), "event_timestamp": pa.array([T], utc),
                             "driver_id": pa.array([999], pa.int64())}), tmp_path / "cust" / "p.parquet")
    pq.write_table(pa.table({"driver_id": pa.array([1], pa.int64()), "event_timestamp": pa.array([T], utc),
                             "rate": pa.array([0.5])}), tmp_path / "drv" / "p.parquet")
    fs: FeatureStore = make_fs()
    fs.apply([customer, driver,
              FeatureView(name="cust", entities=[customer], schema=[Field(name="driver_id", dtype=Int64)],
                          source=ParquetSource(path="cust")),
              FeatureView(name="drv", entities=[driver], schema=[Field(name="rate", dtype=Float64)],
                          source=ParquetSource(path="drv"))])
    fs.materialize(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    return fs


def test_online_refuses_a_feature_named_like_a_requested_join_key(make_fs: Any, tmp_path: Path) -> None:
    fs = colliding_store(make_fs, tmp_path)
    entity_df = pa.table({"customer_id": [7], "driver_id": [1], "event_timestamp": pa.array([T], pa.timestamp("us"))})
    with pytest.raises(InputError) as offline:
        fs.get_historical_features(entity_df, REFS).to_arrow()
    with pytest.raises(InputError) as online:
        fs.get_online_features(REFS, ROWS)
    for err in (offline.value, online.value):
        assert "'driver_id'" in err.message and "'cust'" in err.message and "full_feature_names=True" in err.message
    # whatever the order of the references, and with a dict of lists too
    with pytest.raises(InputError, match="'driver_id' of view 'cust'"):
        fs.get_online_features(["drv:rate", "cust:driver_id"], {"customer_id": [7], "driver_id": [1]})
    with pytest.raises(InputError, match="'driver_id' of view 'cust'"):
        fs.get_online_features(["drv:rate", "cust:*"], ROWS)


def test_full_feature_names_answer_both_online_and_offline_alike(make_fs: Any, tmp_path: Path) -> None:
    fs = colliding_store(make_fs, tmp_path)
    online = fs.get_online_features(REFS, ROWS, full_feature_names=True).to_dict()
    assert online == {"customer_id": [7], "driver_id": [1], "cust__driver_id": [999], "drv__rate": [0.5]}
    entity_df = pa.table({"customer_id": [7], "driver_id": [1], "event_timestamp": pa.array([T], pa.timestamp("us"))})
    offline = fs.get_historical_features(entity_df, REFS, full_feature_names=True).to_arrow().to_pylist()[0]
    assert {k: offline[k] for k in online} == {k: v[0] for k, v in online.items()}


def test_a_feature_named_like_a_join_key_of_no_requested_view_is_served(make_fs: Any, tmp_path: Path) -> None:
    fs = colliding_store(make_fs, tmp_path)
    assert fs.get_online_features(["cust:driver_id"], [{"customer_id": 7}]).to_dict() == {
        "customer_id": [7], "driver_id": [999]}

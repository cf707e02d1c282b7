"""Entity frames of ``get_historical_features`` as callers hold them: polars LazyFrames, categorical
(dictionary) key columns of pandas, polars and Arrow, in memory and in Parquet; other types refused
naming the type; every missing join key named at once. Answers compared with plain frames'.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureStore, FeatureView, Field, InputError, ParquetSource
from featurestore.types import Float64, Int64, String

T = datetime(2026, 3, 1, 12, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")
driver = Entity(name="driver", join_keys=["driver_id"])
zone = Entity(name="zone", join_keys=["zone"])
FEATURES = ["drivers:v", "zones:w"]


@pytest.fixture
def store(make_store: Any, tmp_path: Path) -> FeatureStore:
    pq.write_table(pa.table({"driver_id": pa.array([1, 2, 3], pa.int64()), "event_timestamp": pa.array([T] * 3, TS),
                             "v": [1.0, 2.0, 3.0]}), tmp_path / "drivers.parquet")
    pq.write_table(pa.table({"zone": ["a", "b"], "event_timestamp": pa.array([T] * 2, TS), "w": [10, 20]}),
                   tmp_path / "zones.parquet")
    s: FeatureStore = make_store()
    s.apply([driver, zone,
             FeatureView(name="drivers", entities=[driver], schema=[Field(name="driver_id", dtype=Int64),
                                                                    Field(name="v", dtype=Float64)],
                         source=ParquetSource(path="drivers.parquet")),
             FeatureView(name="zones", entities=[zone], schema=[Field(name="zone", dtype=String),
                                                                Field(name="w", dtype=Int64)],
                         source=ParquetSource(path="zones.parquet"))])
    return s


PLAIN = {"driver_id": [3, 1, 2, 9], "zone": ["b", "a", "b", "c"], "event_timestamp": [T + timedelta(hours=1)] * 4}


def _values(store: FeatureStore, entity: Any) -> dict[str, list[Any]]:
    table = store.get_historical_features(entity, FEATURES).to_arrow().sort_by([("driver_id", "ascending")])
    return {n: table.column(n).to_pylist() for n in ("driver_id", "zone", "v", "w")}


def _categorical_arrow() -> pa.Table:
    return pa.table({"driver_id": pa.array(PLAIN["driver_id"]).dictionary_encode(),
                     "zone": pa.array(PLAIN["zone"]).dictionary_encode(),
                     "event_timestamp": pa.array(PLAIN["event_timestamp"], TS)})


@pytest.mark.parametrize("frame", [
    lambda: pl.DataFrame(PLAIN).lazy(),
    lambda: pl.DataFrame(PLAIN).lazy().with_columns(pl.col("zone").cast(pl.Categorical)),
    lambda: pl.DataFrame(PLAIN).with_columns(pl.col("zone").cast(pl.Enum(["a", "b", "c"]))),
    lambda: pd.DataFrame(PLAIN).astype({"driver_id": "category", "zone": "category"}),
    _categorical_arrow,
    lambda: _categorical_arrow().to_batches()[0],
    lambda: {**PLAIN, "zone": pd.Categorical(PLAIN["zone"])},
])
def test_lazy_and_categorical_entity_frames_answer_like_plain_ones(store: FeatureStore, frame: Any) -> None:
    expected = _values(store, pa.table({**PLAIN, "event_timestamp": pa.array(PLAIN["event_timestamp"], TS)}))
    assert expected == {"driver_id": [1, 2, 3, 9], "zone": ["a", "b", "b", "c"], "v": [1.0, 2.0, 3.0, None],
                        "w": [10, 20, 20, None]}
    assert _values(store, frame()) == expected


def test_a_parquet_entity_frame_with_categorical_keys(store: FeatureStore, tmp_path: Path) -> None:
    pq.write_table(_categorical_arrow(), tmp_path / "entities.parquet")
    assert pa.types.is_dictionary(pq.read_schema(tmp_path / "entities.parquet").field("zone").type)
    assert _values(store, tmp_path / "entities.parquet")["w"] == [10, 20, 20, None]


@pytest.mark.parametrize("frame", [[1, 2], pd.Series([1]), pl.Series([1]), 42, (1, 2)])
def test_other_entity_frame_types_are_refused_naming_the_type(store: FeatureStore, frame: Any) -> None:
    with pytest.raises(InputError, match=rf"entity_df must be .*polars LazyFrame.*got {type(frame).__name__}"):
        store.get_historical_features(frame, FEATURES)


def test_a_lazy_frame_that_fails_to_collect_is_an_input_error(store: FeatureStore) -> None:
    lazy = pl.DataFrame(PLAIN).lazy().with_columns(pl.col("zone").cast(pl.Int64))  # "a" is no integer
    with pytest.raises(InputError, match=r"entity_df.*LazyFrame.*collected"):
        store.get_historical_features(lazy, FEATURES)


def test_every_missing_join_key_is_named_at_once(store: FeatureStore) -> None:
    with pytest.raises(InputError) as err:
        store.get_historical_features(pd.DataFrame({"event_timestamp": [T]}), FEATURES)
    assert "'driver_id'" in err.value.message and "'zone'" in err.value.message, err.value.message
    assert err.value.columns == ["driver_id", "zone"]  # type: ignore[attr-defined]

"""Integer join keys outside their type's range: a clear InputError naming the key and the range.

A key like ``2**63`` cannot be stored under an Int64 join key, so it is bad input (HTTP 400), never
a silent ``NOT_FOUND``; likewise an Int32 key outside the int32 range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureStore, FeatureView, Field, InputError, ParquetSource
from featurestore.config import parse_config
from featurestore.types import Float64, Int32, Int64

LIMITS = {"Int64": (-2**63, 2**63 - 1), "Int32": (-2**31, 2**31 - 1)}


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    s = FeatureStore(tmp_path, config=parse_config({"project": "t"}, "test", env={}))
    objects: list[Any] = []
    for t in (Int32, Int64):
        name = t.name.lower()
        pq.write_table(pa.table({f"k_{name}": pa.array([1], t.to_arrow()), "x": [1.0],
                                 "event_timestamp": pa.array([0], pa.timestamp("us", tz="UTC"))}),
                       tmp_path / f"{name}.parquet")
        entity = Entity(name=f"e_{name}", join_keys=[f"k_{name}"])
        objects += [entity, FeatureView(name=f"v_{name}", entities=[entity],
                                        schema=[Field(name=f"k_{name}", dtype=t), Field(name="x", dtype=Float64)],
                                        source=ParquetSource(path=f"{name}.parquet"))]
    s.apply(objects)
    return s


@pytest.mark.parametrize("type_name", ["Int64", "Int32"])
def test_integer_key_out_of_range_is_an_input_error(store: FeatureStore, type_name: str) -> None:
    low, high = LIMITS[type_name]
    key = f"k_{type_name.lower()}"
    feature = f"v_{type_name.lower()}:x"
    for value in (low, high):  # the bounds themselves are fine: not found
        assert store.get_online_features([feature], [{key: value}]).to_dict()["x"] == [None]
    for value in (high + 1, low - 1, 2**64, -2**200):
        with pytest.raises(InputError, match=rf"{key}.*{value}.*{low}.*{high}") as info:
            store.get_online_features([feature], [{key: 1}, {key: value}])
        assert info.value.fields["join_key"] == key

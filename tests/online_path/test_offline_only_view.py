"""A view with ``online=False`` is refused online (the error ``materialize`` gives), never answered as NOT_FOUND."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureService, FeatureView, Field, InputError, ParquetSource
from featurestore.online.lookup import OnlineReader
from featurestore.types import Float64

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
user = Entity(name="user", join_keys=["user_id"])


def _store(make_fs, tmp_path):  # type: ignore[no-untyped-def]
    pq.write_table(pa.table({"user_id": pa.array([1], pa.int64()), "event_timestamp": pa.array([T]),
                             "x": pa.array([0.5])}), tmp_path / "u.parquet")
    source = ParquetSource(path="u.parquet")
    on = FeatureView(name="on", entities=[user], schema=[Field(name="x", dtype=Float64)], source=source)
    off = FeatureView(name="off", entities=[user], schema=[Field(name="x", dtype=Float64)], source=source,
                      online=False)
    service = FeatureService(name="both", features=[on, off])
    store = make_fs()
    store.apply([user, on, off, service])
    store.materialize(T.replace(year=2025), T.replace(year=2027))
    return store


def test_online_false_view_is_refused_like_materialize(make_fs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store(make_fs, tmp_path)
    with pytest.raises(InputError) as materialize_err:
        store.materialize(T.replace(year=2025), T.replace(year=2027), feature_views=["off"])
    for features in (["off:x"], ["on:x", "off:x"], "both"):
        with pytest.raises(InputError, match=r"'off'.*online=False") as err:
            store.get_online_features(features, [{"user_id": 1}], full_feature_names=True)
        assert type(err.value) is type(materialize_err.value)
        assert err.value.view == "off"  # type: ignore[attr-defined]
        with pytest.raises(InputError, match="'off'"):
            asyncio.run(OnlineReader(store.online).read_async(store.state(), features, [{"user_id": 1}], True))
    assert store.get_online_features(["on:x"], [{"user_id": 1}]).to_dict() == {"user_id": [1], "x": [0.5]}

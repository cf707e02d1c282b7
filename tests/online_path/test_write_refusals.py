"""push and write_to_online_store refuse values that would be stored wrong (Float32 overflow), writing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureView, Field, InputError, ParquetSource, PushSource
from featurestore.types import Array, Float32, Float64

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
user = Entity(name="user", join_keys=["user_id"])
FIELDS = [Field(name="f32", dtype=Float32), Field(name="a32", dtype=Array(Float32)), Field(name="f64", dtype=Float64)]
SCHEMA = pa.schema([("user_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                    *[(f.name, f.dtype.to_arrow()) for f in FIELDS]])
FEATURES = [f"users:{f.name}" for f in FIELDS]


def _store(make_fs, tmp_path):  # type: ignore[no-untyped-def]
    pq.write_table(pa.Table.from_pylist([], schema=SCHEMA), tmp_path / "users.parquet")
    push = PushSource(name="users_push", batch_source=ParquetSource(path="users.parquet"))
    view = FeatureView(name="users", entities=[user], schema=FIELDS, source=push)
    store = make_fs()
    store.apply([user, view])
    return store


def _rows(**overrides: object) -> dict[str, list[object]]:
    return {"user_id": [1, 2], "event_timestamp": [T, T], "f32": [1.5, 2.5], "a32": [[1.0], [2.0, None]],
            "f64": [1e300, -1e300], **{k: [None, v] for k, v in overrides.items()}}


def _nothing_written(store) -> None:  # type: ignore[no-untyped-def]
    assert store.get_online_features(FEATURES, {"user_id": [1, 2]}).statuses["f32"] == ["NOT_FOUND"] * 2
    entity = pa.table({"user_id": pa.array([1, 2], pa.int64()), "event_timestamp": pa.array([T + timedelta(1)] * 2)})
    assert store.get_historical_features(entity, FEATURES).to_arrow().column("f64").null_count == 2


@pytest.mark.parametrize(("column", "value"), [("f32", 1e39), ("f32", -3.5e38), ("a32", [0.0, 1e39]),
                                               ("a32", [-1e300])])
def test_float32_overflow_is_refused(make_fs, tmp_path, column: str, value: object) -> None:  # type: ignore[no-untyped-def]
    store = _store(make_fs, tmp_path)
    data = _rows(**{column: value})
    for call in (lambda: store.push("users_push", data, to="online_and_offline"),
                 lambda: store.push("users_push", data, to="offline"),
                 lambda: store.write_to_online_store("users", data)):
        with pytest.raises(InputError, match=f"'{column}'.*Float32") as err:
            call()
        assert err.value.column == column  # type: ignore[attr-defined]
    _nothing_written(store)


def test_float32_extremes_that_fit_are_kept(make_fs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store(make_fs, tmp_path)
    big = float(pa.scalar(3.4028234663852886e38, pa.float32()).as_py())  # FLT_MAX
    data = _rows(f32=float("inf"), a32=[big, float("-inf"), float("nan")])
    data["f32"][0] = -big
    assert store.push("users_push", data, to="online_and_offline").written == 2
    out = store.get_online_features(FEATURES, {"user_id": [1, 2]}).to_dict()
    assert out["f32"] == [-big, float("inf")]
    assert out["a32"][1][:2] == [big, float("-inf")]


def _future_rows(when: datetime) -> dict[str, list[object]]:
    return {"user_id": [1, 2, 3], "event_timestamp": [T, when, T], "f32": [1.0, 2.0, 3.0], "a32": [[], [], []],
            "f64": [1.0, 2.0, 3.0]}


def test_event_times_in_the_future_are_refused(make_fs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store(make_fs, tmp_path)
    typo = datetime.now(UTC).replace(year=2062)
    data = _future_rows(typo)
    for call in (lambda: store.push("users_push", data, to="online_and_offline"),
                 lambda: store.push("users_push", data, to="offline"),
                 lambda: store.write_to_online_store("users", data)):
        with pytest.raises(InputError, match=r"'event_timestamp'.*2062.*row 1") as err:
            call()
        assert err.value.column == "event_timestamp"  # type: ignore[attr-defined]
    _nothing_written(store)
    # within the allowed skew (1 day by default): accepted, and later rows still replace it
    soon = datetime.now(UTC) + timedelta(hours=23)
    assert store.push("users_push", _future_rows(soon), to="online_and_offline").written == 3
    assert store.get_online_features(FEATURES, {"user_id": [2]}).to_dict()["f64"] == [2.0]


def test_future_skew_is_configurable(make_fs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = make_fs(max_future_event_seconds=60)
    pq.write_table(pa.Table.from_pylist([], schema=SCHEMA), tmp_path / "users.parquet")
    push = PushSource(name="users_push", batch_source=ParquetSource(path="users.parquet"))
    store.apply([user, FeatureView(name="users", entities=[user], schema=FIELDS, source=push)])
    with pytest.raises(InputError, match="max_future_event_seconds"):
        store.write_to_online_store("users", _future_rows(datetime.now(UTC) + timedelta(minutes=5)))
    assert store.write_to_online_store("users", _future_rows(datetime.now(UTC) + timedelta(seconds=30))).written == 3
    unchecked = make_fs(max_future_event_seconds=None)
    assert unchecked.write_to_online_store("users", _future_rows(datetime.now(UTC).replace(year=2062))).written == 3

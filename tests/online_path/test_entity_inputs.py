"""What callers pass as entity keys and frames, on SQLite and Redis.

numpy arrays and scalars, pandas Series, categorical (dictionary) columns and polars LazyFrames
are what serving code holds; they are accepted and answer exactly what plain Python values answer
(the reference). Values that cannot be keys, frames of other types, missing and unknown columns
are refused with one error naming all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureStore, FeatureView, Field, InputError, ParquetSource, PushSource
from featurestore.types import Bool, Float32, Float64, Int32, Int64, String, Timestamp

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")
user = Entity(name="user", join_keys=["user_id"])
city = Entity(name="city", join_keys=["city"])
odd = Entity(name="odd", join_keys=["flag", "at", "x"])
small = Entity(name="small", join_keys=["n"])

USERS = pa.schema([("user_id", pa.int64()), ("event_timestamp", TS), ("created", TS), ("score", pa.float64())])
CITIES = pa.schema([("city", pa.string()), ("event_timestamp", TS), ("pop", pa.int64())])
ODD = pa.schema([("flag", pa.bool_()), ("at", TS), ("x", pa.float32()), ("event_timestamp", TS), ("v", pa.int64())])
SMALL = pa.schema([("n", pa.int32()), ("event_timestamp", TS), ("w", pa.float64())])
BIG = 2**63 - 1


def _store(make_fs: Any, tmp_path: Path) -> FeatureStore:
    for name, schema in (("users", USERS), ("cities", CITIES), ("odd", ODD), ("small", SMALL)):
        pq.write_table(schema.empty_table(), tmp_path / f"{name}.parquet")
    views = [
        FeatureView(name="users", entities=[user], schema=[Field(name="user_id", dtype=Int64),
                                                           Field(name="score", dtype=Float64)],
                    source=PushSource(name="users_push", batch_source=ParquetSource(
                        path="users.parquet", created_timestamp_field="created"))),
        FeatureView(name="cities", entities=[city], schema=[Field(name="city", dtype=String),
                                                            Field(name="pop", dtype=Int64)],
                    source=PushSource(name="cities_push", batch_source=ParquetSource(path="cities.parquet"))),
        FeatureView(name="odd", entities=[odd], schema=[Field(name="flag", dtype=Bool),
                                                        Field(name="at", dtype=Timestamp),
                                                        Field(name="x", dtype=Float32), Field(name="v", dtype=Int64)],
                    source=ParquetSource(path="odd.parquet")),
        FeatureView(name="small", entities=[small], schema=[Field(name="n", dtype=Int32),
                                                            Field(name="w", dtype=Float64)],
                    source=ParquetSource(path="small.parquet")),
    ]
    store: FeatureStore = make_fs()
    store.apply([user, city, odd, small, *views])
    store.write_to_online_store("users", {"user_id": [1, 2, BIG], "event_timestamp": [T] * 3,
                                          "score": [0.5, 1.5, 2.5]})
    store.write_to_online_store("cities", {"city": ["Zürich", "Oslo"], "event_timestamp": [T] * 2, "pop": [7, 8]})
    store.write_to_online_store("odd", {"flag": [True, False], "at": [T, T + timedelta(seconds=1)],
                                        "x": [0.1, 2.5], "event_timestamp": [T] * 2, "v": [10, 20]})
    store.write_to_online_store("small", {"n": [3, -4], "event_timestamp": [T] * 2, "w": [0.25, 0.75]})
    return store


@pytest.fixture
def store(make_fs: Any, tmp_path: Path) -> FeatureStore:
    return _store(make_fs, tmp_path)


def _answer(store: FeatureStore, features: list[str], rows: Any) -> dict[str, list[Any]]:
    resp = store.get_online_features(features, rows)
    return {**resp.to_dict(), **{f"status:{k}": v for k, v in resp.statuses.items()}}


U = ["users:score"]
ODD_F = ["odd:v"]
X01 = float(np.float32(0.1))  # the Float32 key as stored: 0.1 read as Float32


@pytest.mark.parametrize("rows", [
    {"user_id": np.array([1, 2, 9, BIG])},
    {"user_id": np.array([1, 2, 9, BIG], dtype=np.uint64)},
    {"user_id": pd.Series([1, 2, 9, BIG])},
    {"user_id": pd.Series([1, 2, 9, BIG], dtype="Int64")},
    {"user_id": pd.Index([1, 2, 9, BIG])},
    {"user_id": pl.Series([1, 2, 9, BIG])},
    {"user_id": pa.array([1, 2, 9, BIG])},
    {"user_id": pd.Categorical([1, 2, 9, BIG])},
    {"user_id": pd.Series([1, 2, 9, BIG]).astype("category")},
    {"user_id": pa.array([1, 2, 9, BIG]).dictionary_encode()},
    {"user_id": list(np.array([1, 2, 9, BIG]))},
    [{"user_id": np.int64(1)}, {"user_id": np.int32(2)}, {"user_id": np.uint8(9)}, {"user_id": np.int64(BIG)}],
    pd.DataFrame({"user_id": [1, 2, 9, BIG]}),
    pl.DataFrame({"user_id": [1, 2, 9, BIG]}),
    pa.table({"user_id": pa.array([1, 2, 9, BIG]).dictionary_encode()}),
])
def test_numpy_pandas_polars_arrow_int_keys_answer_like_python_ints(store: FeatureStore, rows: Any) -> None:
    expected = _answer(store, U, {"user_id": [1, 2, 9, BIG]})
    assert expected["score"] == [0.5, 1.5, None, 2.5]
    got = _answer(store, U, rows)
    assert got == expected
    assert all(type(v) is int for v in got["user_id"])  # the answer echoes plain Python values


def test_numpy_scalar_keys_of_every_type(store: FeatureStore) -> None:
    reference = _answer(store, ODD_F, {"flag": [True, False], "at": [T, T + timedelta(seconds=1)], "x": [X01, 2.5]})
    assert reference["v"] == [10, 20]
    at = np.array([T.replace(tzinfo=None), (T + timedelta(seconds=1)).replace(tzinfo=None)], dtype="datetime64[ns]")
    rows = [{"flag": np.bool_(True), "at": at[0], "x": np.float32(0.1)},
            {"flag": np.bool_(False), "at": at[1].astype("datetime64[s]"), "x": np.float64(2.5)}]
    assert _answer(store, ODD_F, rows)["v"] == [10, 20]
    assert _answer(store, ODD_F, {"flag": np.array([True, False]), "at": at,
                                  "x": np.array([0.1, 2.5], dtype=np.float32)})["v"] == [10, 20]
    assert _answer(store, ODD_F, {"flag": pd.Series([True, False]), "at": pd.Series(at).dt.tz_localize("UTC"),
                                  "x": pd.Series([0.1, 2.5], dtype="float32")})["v"] == [10, 20]
    cities = _answer(store, ["cities:pop"], {"city": [np.str_("Zürich"), np.str_("Oslo")]})
    assert cities["pop"] == [7, 8] and all(type(c) is str for c in cities["city"])
    for cats in (pd.Categorical(["Oslo", "Zürich", "Oslo"]),
                 pl.Series(["Oslo", "Zürich", "Oslo"], dtype=pl.Categorical),
                 pl.Series(["Oslo", "Zürich", "Oslo"], dtype=pl.Enum(["Zürich", "Oslo"]))):
        assert _answer(store, ["cities:pop"], {"city": cats})["pop"] == [8, 7, 8]
    assert _answer(store, ["small:w"], {"n": np.array([3, -4, 5], dtype=np.int16)})["w"] == [0.25, 0.75, None]


@pytest.mark.parametrize(("rows", "words"), [
    ({"user_id": np.array([BIG + 1], dtype=np.uint64)}, ["'user_id'", "Int64", str(BIG + 1), str(BIG)]),
    ([{"user_id": np.uint64(2**64 - 1)}], ["'user_id'", "Int64", str(2**64 - 1)]),
    ({"user_id": pd.Series([2**64 - 1], dtype="uint64")}, ["'user_id'", "Int64", str(2**64 - 1)]),
    ({"user_id": np.array([1.5])}, ["'user_id'", "Int64", "1.5"]),
    ({"user_id": np.array(["1"])}, ["'user_id'", "Int64", "'1'"]),
    ({"user_id": np.array([[1, 2]])}, ["'user_id'", "one value per entity row"]),
])
def test_numpy_keys_that_do_not_fit_name_the_key(store: FeatureStore, rows: Any, words: list[str]) -> None:
    with pytest.raises(InputError) as err:
        store.get_online_features(U, rows)
    for word in words:
        assert word in err.value.message, (word, err.value.message)
    assert "array(" not in err.value.message and "dtype" not in err.value.message
    with pytest.raises(InputError, match=r"'n'.*Int32.*2147483648"):
        store.get_online_features(["small:w"], {"n": np.array([2**31], dtype=np.int64)})


@pytest.mark.parametrize("rows", [[], {}, {"user_id": []}, {"user_id": np.array([], dtype=np.int64)},
                                  pd.DataFrame({"user_id": pd.Series([], dtype="int64")})])
def test_empty_entity_rows_answer_empty(store: FeatureStore, rows: Any) -> None:
    resp = store.get_online_features(["users:score", "cities:pop"], rows)
    assert resp.to_dict() == {"user_id": [], "city": [], "score": [], "pop": []}
    assert resp.statuses == {"score": [], "pop": []}
    table = resp.to_arrow()
    assert table.num_rows == 0 and table.schema.names == ["user_id", "city", "score", "pop"]
    assert table.schema.field("user_id").type == pa.int64() and table.schema.field("score").type == pa.float64()
    assert list(resp.to_pandas().columns) == ["user_id", "city", "score", "pop"]


def test_all_missing_join_keys_are_named_at_once(store: FeatureStore) -> None:
    with pytest.raises(InputError) as err:
        store.get_online_features(["users:score", "cities:pop", "odd:v"], [{"flag": True}])
    for word in ("'user_id'", "'city'", "'at'", "'x'", "'users'", "'cities'", "'odd'"):
        assert word in err.value.message, (word, err.value.message)
    assert err.value.columns == ["user_id", "city", "at", "x"]  # type: ignore[attr-defined]


def test_a_row_without_a_join_key_is_named_by_its_index(store: FeatureStore) -> None:
    rows = [{"user_id": 1, "city": "Oslo"}, {"city": "Oslo"}, {"user_id": 2}, {"user_id": 2, "city": "Oslo"}]
    with pytest.raises(InputError) as err:
        store.get_online_features(["users:score", "cities:pop"], rows)
    msg = err.value.message
    assert "row 1" in msg and "row 2" in msg and "'user_id'" in msg and "'city'" in msg and "None" not in msg, msg
    assert err.value.rows == [1, 2]  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=r"row 1 .*'user_id'"):
        store.get_online_features(U, {"user_id": [1, None]})
    with pytest.raises(InputError, match=r"row 0 .*'at'"):
        store.get_online_features(ODD_F, {"flag": [True], "at": [None], "x": [0.5]})


# --- frames: push and write_to_online_store ---------------------------------------------------------

ROW = {"user_id": [1], "event_timestamp": [T + timedelta(hours=1)], "score": [9.5]}


def _score(store: FeatureStore) -> list[Any]:
    return store.get_online_features(U, {"user_id": [1]}).to_dict()["score"]


@pytest.mark.parametrize("frame", [
    lambda d: pl.DataFrame(d).lazy(),
    lambda d: pd.DataFrame(d).assign(user_id=lambda df: df.user_id.astype("category")),
    lambda d: pl.DataFrame(d).with_columns(pl.col("user_id").cast(pl.String).cast(pl.Categorical)),
    lambda d: pa.table({**d, "user_id": pa.array(d["user_id"]).dictionary_encode()}),
])
@pytest.mark.parametrize("how", ["push", "write"])
def test_lazy_and_categorical_frames_are_written(store: FeatureStore, frame: Any, how: str) -> None:
    data = frame(ROW)
    rows = store.push("users_push", data) if how == "push" else store.write_to_online_store("users", data)
    assert rows.rows == 1 and _score(store) == [9.5]


def test_a_lazy_frame_is_pushed_offline(store: FeatureStore) -> None:
    cities = {"city": ["Oslo"], "event_timestamp": [T + timedelta(hours=1)], "pop": [9]}
    assert store.push("cities_push", pl.DataFrame(cities).lazy().with_columns(pl.col("city").cast(pl.Categorical)),
                      to="online_and_offline").rows == 1
    entity = pl.DataFrame({"city": ["Oslo"], "event_timestamp": [T + timedelta(hours=2)]}).lazy()
    assert store.get_historical_features(entity, ["cities:pop"]).to_arrow().column("pop").to_pylist() == [9]
    assert _answer(store, ["cities:pop"], {"city": ["Oslo"]})["pop"] == [9]


@pytest.mark.parametrize("frame", [[1, 2], "users.parquet", pd.Series([1]), pl.Series([1]), 42])
def test_other_frame_types_are_refused_naming_the_type(store: FeatureStore, frame: Any) -> None:
    for call in (lambda: store.push("users_push", frame), lambda: store.write_to_online_store("users", frame)):
        with pytest.raises(InputError, match=rf"df must be .*pandas.*polars.*got {type(frame).__name__}"):
            call()


def test_all_missing_columns_are_named_at_once(store: FeatureStore) -> None:
    for call in (lambda: store.push("users_push", {"score": [1.0]}),
                 lambda: store.write_to_online_store("users", {"score": [1.0]})):
        with pytest.raises(InputError) as err:
            call()
        assert "'user_id'" in err.value.message and "'event_timestamp'" in err.value.message, err.value.message
        assert set(err.value.columns or []) == {"user_id", "event_timestamp"}  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=r"'user_id'.*'score'|'score'.*'user_id'"):
        store.push("users_push", {"event_timestamp": [T]}, to="offline")


@pytest.mark.parametrize("to", ["online", "offline", "online_and_offline"])
def test_unknown_columns_are_refused_on_every_target(store: FeatureStore, to: str) -> None:
    data = {**ROW, "scroe": [1.0], "extra": [2]}
    with pytest.raises(InputError) as err:
        store.push("users_push", data, to=to)
    msg = err.value.message
    assert "'scroe'" in msg and "'extra'" in msg and "'users_push'" in msg and "'users'" in msg, msg
    assert err.value.columns == ["scroe", "extra"]  # type: ignore[attr-defined]
    assert _score(store) == [0.5]  # nothing written


def test_write_to_online_store_refuses_unknown_columns(store: FeatureStore) -> None:
    with pytest.raises(InputError, match=r"'scroe'.*'users'"):
        store.write_to_online_store("users", {**ROW, "scroe": [1.0]})
    assert store.write_to_online_store("users", {**ROW, "created": [T]}).rows == 1  # the created column is known
    assert _score(store) == [9.5]

"""``to_pandas()`` keeps integers and booleans exact with nulls (nullable dtypes), offline and online."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureView, Field, ParquetSource
from featurestore.types import Bool, Float64, Int32, Int64, String

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
user = Entity(name="user", join_keys=["user_id"])
FIELDS = [Field(name="i64", dtype=Int64), Field(name="i32", dtype=Int32), Field(name="b", dtype=Bool),
          Field(name="f", dtype=Float64), Field(name="s", dtype=String)]
ROWS = [  # user 4 has no row at all: every feature null
    {"user_id": 1, "i64": 2**63 - 1, "i32": 2**31 - 1, "b": True, "f": 0.1, "s": "a"},
    {"user_id": 2, "i64": 2**53 + 1, "i32": -2**31, "b": False, "f": 1.5, "s": "b"},
    {"user_id": 3, "i64": -2**63, "i32": None, "b": None, "f": None, "s": None},
]
EXPECTED = {"user_id": [1, 2, 3, 4], "i64": [2**63 - 1, 2**53 + 1, -2**63, None],
            "i32": [2**31 - 1, -2**31, None, None],
            "b": [True, False, None, None], "f": [0.1, 1.5, None, None], "s": ["a", "b", None, None]}
DTYPES = {"i64": pd.Int64Dtype(), "i32": pd.Int32Dtype(), "b": pd.BooleanDtype()}


def _store(make_fs, tmp_path):  # type: ignore[no-untyped-def]
    schema = pa.schema([("user_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                        *[(f.name, f.dtype.to_arrow()) for f in FIELDS]])
    pq.write_table(pa.Table.from_pylist([{**r, "event_timestamp": T} for r in ROWS], schema=schema),
                   tmp_path / "u.parquet")
    view = FeatureView(name="u", entities=[user], schema=FIELDS, source=ParquetSource(path="u.parquet"))
    store = make_fs()
    store.apply([user, view])
    return store


def _check(df: pd.DataFrame) -> None:
    assert df["user_id"].dtype == "int64"  # entity columns come back as given
    for name, dtype in DTYPES.items():
        assert df[name].dtype == dtype, (name, df[name].dtype)
    for name, values in EXPECTED.items():
        got = [None if v is pd.NA or (isinstance(v, float) and v != v) else v for v in df[name].tolist()]
        assert got == values, name
        assert all(type(g) is type(e) or isinstance(g, type(e)) for g, e in zip(got, values, strict=True)
                   if e is not None), name


@pytest.mark.parametrize("online_config", ["sqlite"], indirect=True)
def test_offline_to_pandas_is_exact(make_fs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store(make_fs, tmp_path)
    entity = pd.DataFrame({"user_id": [1, 2, 3, 4], "event_timestamp": [T + timedelta(hours=1)] * 4})
    job = store.get_historical_features(entity, [f"u:{f.name}" for f in FIELDS])
    df = job.to_pandas()
    _check(df)
    assert df["i64"].iloc[1] == 9007199254740993


def test_online_to_pandas_is_exact(make_fs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store(make_fs, tmp_path)
    store.materialize(T - timedelta(days=1), T + timedelta(days=1))
    response = store.get_online_features([f"u:{f.name}" for f in FIELDS], {"user_id": [1, 2, 3, 4]})
    df = response.to_pandas()
    _check(df)
    assert df["i64"].iloc[1] == 9007199254740993

"""Bucketing: both sides of a join hashed by their (canonically cast) join keys into the same N buckets.

``xxhash64(CAST(1 AS INT)) != xxhash64(CAST(1 AS BIGINT))``: keys are cast to one type per declared key type on
both sides (integers to BIGINT, floats to DOUBLE) before hashing, so rows that DuckDB would join meet in one bucket.
Views without entities (no keys) put every row in bucket 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from featurestore import types

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

BUCKET = "__fs_b"

_CANONICAL = {"Int32": "bigint", "Int64": "bigint", "Float32": "double", "Float64": "double", "String": "string",
              "Bool": "boolean", "Bytes": "binary", "Timestamp": "timestamp"}


def canonical(dtype: types.ValueType) -> str:
    """The Spark type a key of ``dtype`` is hashed as."""
    return "string" if dtype.element is not None else _CANONICAL.get(dtype.name, "string")


def bucket_column(columns: Sequence[str], key_types: Sequence[types.ValueType], buckets: int) -> Column:
    """``pmod(xxhash64(cast keys...), buckets)`` (0 without keys)."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    if not columns:
        return F.lit(0)
    casts = [F.col(c).cast(canonical(t)) for c, t in zip(columns, key_types, strict=True)]
    return F.pmod(F.xxhash64(*casts), F.lit(buckets)).cast("int")


def bucketed(frame: DataFrame, columns: Sequence[str], key_types: Sequence[types.ValueType],
             buckets: int) -> DataFrame:
    """``frame`` with the bucket column, partitioned by it (``buckets`` partitions, one bucket each at most)."""
    out = frame.withColumn(BUCKET, bucket_column(columns, key_types, buckets))
    return out.repartition(buckets, BUCKET)

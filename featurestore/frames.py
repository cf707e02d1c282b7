"""pandas at the edge: Arrow tables as DataFrames that keep every value exact.

Integer and bool features with a null would become float64 in pandas' default conversion (and
9007199254740993 would come back as ...992); they use pandas' nullable dtypes instead. pandas is
imported only when called.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa


def nullable_dtype(arrow_type: pa.DataType) -> Any:
    """pandas' nullable dtype for an integer or bool Arrow type (exact with nulls, no float64); None for the rest."""
    import pandas as pd

    return {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
            pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype()}.get(arrow_type)


def to_pandas(table: pa.Table, features: Iterable[str]) -> Any:
    """``table`` as a DataFrame, the integer and bool ``features`` with nullable dtypes (the other columns as given)."""
    df = table.to_pandas()
    for name in features:
        if nullable_dtype(table.schema.field(name).type) is not None:
            df[name] = table.column(name).to_pandas(types_mapper=nullable_dtype).array  # .array: no index alignment
    return df

"""Frames at the edge: what callers pass in (pandas, polars, Arrow, numpy) as Arrow tables and Python
values, and Arrow tables back as pandas DataFrames that keep every value exact.

In: a pandas or polars DataFrame, a polars LazyFrame (collected), a pyarrow Table or RecordBatch or a
dict of columns becomes a ``pyarrow.Table`` (:func:`to_arrow`); an entity key column (a list, a numpy
array, a pandas or polars Series, an Arrow array) becomes a list of plain Python values
(:func:`pylist`). Categorical (dictionary-encoded) columns are decoded to their value type.

Out: integer and bool features with a null would become float64 in pandas' default conversion (and
9007199254740993 would come back as ...992); they use pandas' nullable dtypes instead.

pandas, polars and numpy are imported only when called.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from featurestore.errors import InputError
from featurestore.utc import arrow_epoch_us, from_epoch_us

FRAMES = "a pandas or polars DataFrame, a polars LazyFrame, a pyarrow Table or RecordBatch, a dict of columns"
"""The frame types :func:`to_arrow` accepts, as its errors name them."""


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


def _is(obj: Any, module: str, *names: str) -> bool:
    """Whether ``obj`` is an instance of ``module``'s class ``names`` (or of a subclass), without importing it."""
    return any(c.__module__.split(".")[0] == module and c.__name__ in names for c in type(obj).__mro__)


def _type_name(obj: Any) -> str:
    module = type(obj).__module__.split(".")[0]
    return type(obj).__name__ + ("" if module == "builtins" else f" ({module})")


def decode_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with dictionary (categorical) fields as their value type."""
    for i, f in enumerate(schema):
        if pa.types.is_dictionary(f.type):
            schema = schema.set(i, f.with_type(f.type.value_type))
    return schema


def decode_dictionaries(table: pa.Table) -> pa.Table:
    """``table`` with dictionary (categorical) columns decoded to their value type."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.with_type(f.type.value_type), table.column(i).cast(f.type.value_type))
    return table


def _from_pandas(df: Any, what: str) -> pa.Table:
    import pandas as pd

    df = df.copy(deep=False)
    for col in df.columns:
        if df[col].dtype == object and len(df[col]) and all(
            isinstance(v, pd.Timestamp) or v is None or v is pd.NaT or hasattr(v, "tzinfo")
            for v in df[col].head(100)
        ):
            df[col] = pd.to_datetime(df[col], utc=True, format="mixed")
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as err:
        raise InputError(f"{what} cannot be converted to Arrow: {err}") from None


def to_arrow(data: Any, what: str = "df", also: str = "") -> pa.Table:
    """pandas / polars (a LazyFrame is collected) / pyarrow data or a dict of columns as a ``pyarrow.Table``,
    categorical columns decoded; an InputError naming the type for anything else (``also``: more accepted types).
    """
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, dict):
        try:
            table = pa.table(data)
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise InputError(f"{what} cannot be converted to Arrow: {err}") from None
    elif _is(data, "pandas", "DataFrame"):
        table = _from_pandas(data, what)
    elif _is(data, "polars", "DataFrame", "LazyFrame"):
        if _is(data, "polars", "LazyFrame"):
            try:
                data = data.collect()
            except Exception as err:  # polars' errors have no common base importable without polars
                raise InputError(f"{what} (a polars LazyFrame) cannot be collected: {err}") from None
        table = data.to_arrow()
    else:
        raise InputError(f"{what} must be {FRAMES}{also}, got {_type_name(data)}")
    return decode_dictionaries(table)


def python_value(value: Any) -> Any:
    """A numpy scalar as the plain Python value (``np.datetime64`` as an aware UTC datetime, NaT and
    pandas' NA as None); anything else as given.

    >>> import numpy as np
    >>> python_value(np.int64(7)), python_value(np.str_("a")), python_value(np.datetime64("2024-01-02T03:04:05"))
    (7, 'a', datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
    """
    cls = type(value)
    if cls.__module__ == "numpy":
        import numpy as np

        if isinstance(value, np.datetime64):
            return None if np.isnat(value) else from_epoch_us(int(value.astype("datetime64[us]").astype(np.int64)))
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray) and value.ndim == 0:
            return python_value(value[()])
    elif cls.__name__ in ("NAType", "NaTType") and cls.__module__.startswith("pandas"):
        return None
    return value


def _arrow_list(array: pa.Array | pa.ChunkedArray) -> list[Any]:
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_timestamp(array.type):  # aware UTC datetimes, never pandas Timestamps
        return [None if us is None else from_epoch_us(us) for us in arrow_epoch_us(array).to_pylist()]
    return array.to_pylist()  # type: ignore[no-any-return]


def pylist(values: Any, what: str) -> list[Any]:
    """An entity key column as a list of plain Python values: a list (as given), a tuple, a numpy array, a
    pandas Series / Index / Categorical, a polars Series, an Arrow array; a scalar as a one-value list.
    """
    if type(values) is list:
        return values
    if isinstance(values, (tuple, range)):
        return list(values)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _arrow_list(values)
    module = type(values).__module__.split(".")[0]
    if module == "polars" and _is(values, "polars", "Series"):
        return _arrow_list(values.to_arrow())
    if module not in ("numpy", "pandas"):
        return [values]  # a scalar: one entity row
    shape = getattr(values, "shape", None)
    if shape is None or len(shape) == 0:
        return [python_value(values)]
    if len(shape) != 1:
        raise InputError(f"{what} must hold one value per entity row (1-dimensional), got shape {tuple(shape)}")
    try:
        array = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError):  # e.g. mixed objects: value by value
        return [python_value(v) for v in values]
    return _arrow_list(array)


def is_frame(data: Any) -> bool:
    """Whether ``data`` is a table :func:`to_arrow` converts (a dict of columns aside)."""
    return isinstance(data, (pa.Table, pa.RecordBatch)) or _is(data, "pandas", "DataFrame") or _is(
        data, "polars", "DataFrame", "LazyFrame")


def table_columns(table: pa.Table) -> dict[str, list[Any]]:
    """``{name: [plain Python values]}`` of a table (times as aware UTC datetimes)."""
    return {name: _arrow_list(table.column(name)) for name in table.column_names}

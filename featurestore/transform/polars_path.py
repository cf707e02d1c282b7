"""Polars expressions over a frame: select, cast each output to its declared type, hand back Arrow.

This is the reference path: offline it runs over the whole training set; online it runs over one
frame of the request's rows for expressions the compiler does not cover.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from featurestore import types
from featurestore.definitions.field import Field
from featurestore.definitions.rowlocal import Tree
from featurestore.errors import TransformError
from featurestore.transform.values import polars_dtype

if TYPE_CHECKING:
    import polars as pl

ROW_COLUMN = "__featurestore_row__"
"""A placeholder column so a frame keeps its height when no input column is read."""


def castable(src: Any, dst: types.ValueType) -> bool:
    """Whether an expression of Polars type ``src`` may be declared as ``dst`` (checked strictly per value)."""
    import polars as pl

    if src == pl.Null:
        return True
    if dst.element is not None:
        return isinstance(src, (pl.List, pl.Array)) and castable(src.inner, dst.element)
    name = dst.name
    if name in ("Int32", "Int64"):
        return bool(src.is_integer())
    if name in ("Float32", "Float64"):
        return bool(src.is_integer() or src.is_float())
    if name == "Bool":
        return bool(src == pl.Boolean)
    if name == "String":
        return bool(src == pl.String or isinstance(src, (pl.Categorical, pl.Enum)))
    if name == "Bytes":
        return bool(src == pl.Binary)
    if name == "Timestamp":
        return isinstance(src, pl.Datetime)
    return False  # pragma: no cover - every value type is listed above


def empty_frame(inputs: Sequence[Field]) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema={f.name: polars_dtype(f.dtype) for f in inputs} or {ROW_COLUMN: pl.Int8})


def polars_type_of(frame: pl.DataFrame, node: Tree) -> str:
    """The Polars type of a serialized (sub)expression over ``frame``'s columns (its name, e.g. ``Int64``)."""
    import polars as pl

    expr = pl.Expr.deserialize(io.StringIO(json.dumps(node)), format="json")
    return str(frame.with_columns(expr.alias(ROW_COLUMN + "x")).schema[ROW_COLUMN + "x"])


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def evaluate(view: str, frame: pl.DataFrame, expressions: Mapping[str, pl.Expr], outputs: Sequence[Field],
             describe: Callable[[int], str] | None) -> pa.Table:
    """The outputs as an Arrow table of the declared types, one row per frame row (TransformError on failure)."""
    import polars as pl

    names = [f.name for f in outputs]
    failures = (pl.exceptions.PolarsError, pl.exceptions.PanicException)
    one = frame.height == 1  # Polars' kernels differ for one row (x / c is x * (1 / c) from two rows on)
    if one:
        frame = frame.vstack(frame)
    try:
        out = frame.with_columns([expressions[n].alias(n) for n in names]).select(names)
    except failures as e:
        culprit = None
        for n in names:
            try:
                frame.select(expressions[n].alias(n))
            except failures:
                culprit = n
                break
        where = f"feature {culprit!r}" if culprit else "its expressions"
        raise TransformError(f"on-demand view {view!r}: {where} failed in Polars: {_first_line(e)}",
                             view=view, feature=culprit) from e
    if one:
        out = out.head(1)
    columns = {f.name: cast_series(view, f, out.get_column(f.name), describe).to_arrow() for f in outputs}
    return pa.table({f.name: _to_declared(columns[f.name], f.dtype.to_arrow()) for f in outputs})


def _to_declared(arr: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array | pa.ChunkedArray:
    return arr if arr.type == target else arr.cast(target)


def cast_series(view: str, field: Field, s: pl.Series, describe: Callable[[int], str] | None) -> pl.Series:
    """``s`` cast strictly to ``field``'s type (TransformError naming the feature and the first bad row)."""
    import polars as pl

    if not castable(s.dtype, field.dtype):
        raise TransformError(f"on-demand view {view!r}: feature {field.name!r} is computed as {s.dtype}, "
                             f"declared {field.dtype}", view=view, feature=field.name)
    if field.dtype.name == "Timestamp" and isinstance(s.dtype, pl.Datetime):
        s = s.dt.replace_time_zone("UTC") if s.dtype.time_zone is None else s.dt.convert_time_zone("UTC")
    target = polars_dtype(field.dtype)
    if s.dtype == target:
        return s
    try:
        return s.cast(target, strict=True)
    except pl.exceptions.PolarsError as e:
        bad = (s.cast(target, strict=False).is_null() & s.is_not_null()).arg_true()
        i = int(bad[0]) if len(bad) else None
        row = None if i is None else describe(i) if describe else f"row {i}"
        value = "" if i is None else f" {s[i]!r}"
        raise TransformError(f"on-demand view {view!r}: feature {field.name!r} has value{value}"
                             f"{' at ' + row if row else ''}, which does not fit {field.dtype}",
                             view=view, feature=field.name, row=row) from e


def frame_of(columns: Mapping[str, list[Any]], inputs: Sequence[Field], n: int) -> pl.DataFrame:
    """A frame of Python values of the declared input types (``n`` rows even without columns)."""
    import polars as pl

    if not inputs:
        return pl.DataFrame({ROW_COLUMN: [0] * n}, schema={ROW_COLUMN: pl.Int8})
    return pl.DataFrame({f.name: columns[f.name] for f in inputs},
                        schema={f.name: polars_dtype(f.dtype) for f in inputs})

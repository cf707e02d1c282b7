"""Feature value types.

>>> from featurestore.types import Array, Float32, Int64
>>> Array(Int64).name
'Array(Int64)'
>>> Float32.to_arrow()
DataType(float)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from featurestore.errors import DefinitionError


@dataclass(frozen=True)
class ValueType:
    """A feature's value type: a name, its Arrow type and its DuckDB type."""

    name: str
    element: ValueType | None = None

    def to_arrow(self) -> pa.DataType:
        if self.element is not None:
            return pa.list_(self.element.to_arrow())
        return _ARROW[self.name]

    def to_duckdb(self) -> str:
        if self.element is not None:
            return f"{self.element.to_duckdb()}[]"
        return _DUCKDB[self.name]

    def accepts(self, column: pa.DataType) -> bool:
        """Whether a source column of Arrow type ``column`` can hold values of this type."""
        if self.element is not None:  # lists of any length kind, fixed-size ones too (DuckDB's FLOAT[768])
            return bool(pa.types.is_list(column) or pa.types.is_large_list(column)
                        or pa.types.is_fixed_size_list(column)) and self.element.accepts(column.value_type)
        return bool(_ACCEPTS[self.name](column))

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


def _is_int(bits: int) -> Callable[[pa.DataType], bool]:
    def check(t: pa.DataType) -> bool:
        return bool(pa.types.is_integer(t)) and t.bit_width <= bits and not (
            pa.types.is_unsigned_integer(t) and t.bit_width >= bits
        )

    return check


def _is_float(bits: int) -> Callable[[pa.DataType], bool]:
    def check(t: pa.DataType) -> bool:
        if pa.types.is_floating(t):
            return bool(t.bit_width <= bits)
        return bool(pa.types.is_integer(t)) and t.bit_width <= (16 if bits == 32 else 32)

    return check


_ARROW = {
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float32": pa.float32(),
    "Float64": pa.float64(),
    "String": pa.string(),
    "Bool": pa.bool_(),
    "Bytes": pa.binary(),
    "Timestamp": pa.timestamp("us", tz="UTC"),
}
_DUCKDB = {
    "Int32": "INTEGER",
    "Int64": "BIGINT",
    "Float32": "FLOAT",
    "Float64": "DOUBLE",
    "String": "VARCHAR",
    "Bool": "BOOLEAN",
    "Bytes": "BLOB",
    "Timestamp": "TIMESTAMPTZ",
}
_ACCEPTS = {
    "Int32": _is_int(32),
    "Int64": _is_int(64),
    "Float32": _is_float(32),
    "Float64": _is_float(64),
    "String": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)
    or pa.types.is_string_view(t) or t == pa.null(),
    "Bool": pa.types.is_boolean,
    "Bytes": lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)
    or pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t),
    "Timestamp": lambda t: pa.types.is_timestamp(t) or pa.types.is_date(t),
}

Int32 = ValueType("Int32")
Int64 = ValueType("Int64")
Float32 = ValueType("Float32")
Float64 = ValueType("Float64")
String = ValueType("String")
Bool = ValueType("Bool")
Bytes = ValueType("Bytes")
Timestamp = ValueType("Timestamp")

SCALARS = {t.name: t for t in (Int32, Int64, Float32, Float64, String, Bool, Bytes, Timestamp)}


def Array(element: ValueType) -> ValueType:  # noqa: N802 - reads like a type constructor
    """A list of ``element`` values (arrays of arrays are not supported)."""
    if not isinstance(element, ValueType) or element.element is not None:
        raise DefinitionError(f"Array() takes a scalar value type, got {element!r}", value=element)
    return ValueType(f"Array({element.name})", element)


def parse(name: str) -> ValueType:
    """Inverse of ``ValueType.name``: ``parse("Array(Int64)") == Array(Int64)``."""
    if name in SCALARS:
        return SCALARS[name]
    if name.startswith("Array(") and name.endswith(")") and name[6:-1] in SCALARS:
        return Array(SCALARS[name[6:-1]])
    raise DefinitionError(f"unknown value type {name!r}", value=name)


def from_arrow(t: pa.DataType) -> ValueType | None:
    """The value type that best describes an Arrow column type, if any (used for join keys)."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = from_arrow(t.value_type)
        return Array(inner) if inner is not None and inner.element is None else None
    if pa.types.is_integer(t):
        return Int32 if t.bit_width <= 32 and not (pa.types.is_unsigned_integer(t) and t.bit_width == 32) else Int64
    if pa.types.is_floating(t):
        return Float32 if t.bit_width <= 32 else Float64
    for vt in (String, Bool, Bytes, Timestamp):
        if vt.accepts(t) and t != pa.null():
            return vt
    return None


__all__ = [
    "Array",
    "Bool",
    "Bytes",
    "Float32",
    "Float64",
    "Int32",
    "Int64",
    "String",
    "Timestamp",
    "ValueType",
]

"""Output typing shared by both paths: Python values of a declared type, and float32 rounding.

A Python row function's outputs go through :func:`coercer` on both paths (offline the coerced values
then become an Arrow array of the declared type, which gives them back unchanged), so the two paths
agree by construction. The compiled Polars expressions (``compile.py``) use the same helpers to
reproduce Polars' casts.

>>> coercer(types.Float32)(0.1)
0.10000000149011612
>>> coercer(types.Int32)(2**31)
Traceback (most recent call last):
...
featurestore.transform.values.BadValue: 2147483648 is out of range for Int32
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from featurestore import types

_F32 = struct.Struct("<f")
INT_RANGE = {"Int32": (-(2**31), 2**31 - 1), "Int64": (-(2**63), 2**63 - 1)}


class BadValue(Exception):  # noqa: N818 - internal signal, turned into a TransformError by the runner
    """A value that does not fit the declared type (the message says why)."""


def f32(x: float) -> float:
    """``x`` rounded to the nearest float32 (overflow gives ±inf, as a float64 -> float32 cast does).

    >>> f32(1e300), f32(float("nan")) != f32(float("nan"))
    (inf, True)
    """
    try:
        return float(_F32.unpack(_F32.pack(x))[0])
    except OverflowError:  # pack rounds first and refuses only what rounds to infinity
        return math.copysign(math.inf, x)


def int_to_f32(v: int) -> float:
    """An integer rounded once to the nearest float32 (ties to even), as Rust's ``as f32`` does.

    >>> int_to_f32(2**60 + 2**36 + 1) == float(2**60 + 2**37)
    True
    """
    if -(2**53) <= v <= 2**53:
        return f32(float(v))
    sign, a = (-1, -v) if v < 0 else (1, v)
    shift = a.bit_length() - 24
    q, r = divmod(a, 1 << shift)
    half = 1 << (shift - 1)
    if r > half or (r == half and q & 1):
        q += 1
    return f32(float(sign * (q << shift)))


def _int(name: str) -> Callable[[Any], Any]:
    lo, hi = INT_RANGE[name]

    def coerce(v: Any) -> Any:
        if v is None:
            return None
        if type(v) is not int:
            if not isinstance(v, int) or isinstance(v, bool):
                raise BadValue(f"{v!r} is a {type(v).__name__}, not an int")
            v = int(v)
        if lo <= v <= hi:
            return v
        raise BadValue(f"{v} is out of range for {name}")

    return coerce


def _float(single: bool) -> Callable[[Any], Any]:
    def coerce(v: Any) -> Any:
        if v is None:
            return None
        t = type(v)
        if t is float:
            return f32(v) if single else v
        if t is int:
            return int_to_f32(v) if single else float(v)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise BadValue(f"{v!r} is a {type(v).__name__}, not a float")
        return _float(single)(float(v) if isinstance(v, float) else int(v))

    return coerce


def _exact(*classes: type) -> Callable[[Any], Any]:
    kind = " or ".join(c.__name__ for c in classes)

    def coerce(v: Any) -> Any:
        if v is None or type(v) in classes:
            return v
        if isinstance(v, classes) and not (isinstance(v, bool) and bool not in classes):
            return classes[0](v)
        raise BadValue(f"{v!r} is a {type(v).__name__}, not a {kind}")

    return coerce


def _bytes(v: Any) -> Any:
    if v is None or type(v) is bytes:
        return v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise BadValue(f"{v!r} is a {type(v).__name__}, not bytes")


def _timestamp(v: Any) -> Any:
    if v is None:
        return None
    if not isinstance(v, datetime):
        raise BadValue(f"{v!r} is a {type(v).__name__}, not a datetime")
    if v.utcoffset() is None:  # naive means UTC, as everywhere in featurestore
        return v.replace(tzinfo=UTC)
    return v if v.tzinfo is UTC else v.astimezone(UTC)


def _array(element: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def coerce(v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, (list, tuple)):
            raise BadValue(f"{v!r} is a {type(v).__name__}, not a list")
        return [element(x) for x in v]

    return coerce


_SCALAR: dict[str, Callable[[Any], Any]] = {
    "Int32": _int("Int32"),
    "Int64": _int("Int64"),
    "Float32": _float(True),
    "Float64": _float(False),
    "String": _exact(str),
    "Bool": _exact(bool),
    "Bytes": _bytes,
    "Timestamp": _timestamp,
}


def coercer(dtype: types.ValueType) -> Callable[[Any], Any]:
    """A function giving a Python value of ``dtype`` (None stays None), or raising :class:`BadValue`.

    ints are accepted for floats (Python's numeric tower); bools are not numbers here.
    """
    if dtype.element is not None:
        return _array(_SCALAR[dtype.element.name])
    return _SCALAR[dtype.name]


POLARS_NAMES = {
    "Int32": "Int32",
    "Int64": "Int64",
    "Float32": "Float32",
    "Float64": "Float64",
    "String": "String",
    "Bool": "Boolean",
    "Bytes": "Binary",
}
"""The Polars dtype name of each scalar value type (Timestamp is ``Datetime("us", "UTC")``)."""


def polars_dtype(dtype: types.ValueType) -> Any:
    """The Polars dtype of a value type (polars is imported here, lazily)."""
    import polars as pl

    if dtype.element is not None:
        return pl.List(polars_dtype(dtype.element))
    if dtype.name == "Timestamp":
        return pl.Datetime("us", "UTC")
    return getattr(pl, POLARS_NAMES[dtype.name])

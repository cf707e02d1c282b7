"""Scalar operators with Polars' semantics (checked against Polars by tests/transform/test_compile.py).

Where Python's operators differ from Polars (design notes §4.3), these follow Polars:

- float division by zero gives ±inf or NaN; integer ``//`` and ``%`` by zero give null;
- floats are totally ordered: NaN equals NaN and sorts above every number, ``-0.0 == 0.0``;
- null propagates through arithmetic and comparisons; ``&`` and ``|`` use Kleene logic;
- integer arithmetic wraps around at the type's width (Int32 or Int64), as Polars does silently;
- float ``%`` is ``a - b * floor(a / b)`` and ``//`` is ``floor(a / b)``.

Every function takes and returns Python values (None is null) of one Polars type given by name.

>>> div_float(1.0, -0.0), div_float(0.0, 0.0), arithmetic("FloorDivide", "Int64")(7, 0)
(-inf, nan, None)
>>> arithmetic("Multiply", "Int64")(2**62, 4), arithmetic("Plus", "Int32")(2**31 - 1, 1)
(0, -2147483648)
>>> lt_float(float("nan"), 1.0), eq_float(float("nan"), float("nan")), and_(None, False), or_(None, True)
(False, True, False, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from featurestore.transform.values import f32

INF = math.inf
NAN = math.nan


def wrap(v: int, bits: int) -> int:
    """``v`` wrapped to a signed integer of ``bits`` bits."""
    half = 1 << (bits - 1)
    return ((v + half) & ((1 << bits) - 1)) - half


def div_float(a: float, b: float) -> float:
    """IEEE division: ``x / 0`` is ±inf (sign of x times sign of the zero), ``0 / 0`` and ``nan / 0`` NaN."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return NAN
        return INF if (a > 0) == (math.copysign(1.0, b) > 0) else -INF


def floor_float(q: float) -> float:
    """IEEE floor (keeps -0.0, inf and NaN)."""
    if q != q or q == 0 or q in (INF, -INF):
        return q
    return float(math.floor(q))


def mod_float(a: float, b: float, single: bool) -> float:
    q = div_float(a, b)
    if single:
        q = f32(q)
    fl = floor_float(q)
    prod = b * fl
    if single:
        prod = f32(prod)
    return a - prod


def eq_float(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def lt_float(a: float, b: float) -> bool:
    """Total order: NaN is the largest value."""
    if a != a:
        return False
    if b != b:
        return True
    return a < b


def and_(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def or_(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def comparison(op: str, is_float: bool) -> Callable[[Any, Any], bool]:
    """The comparison ``op`` (Polars' BinaryExpr op name) of two non-null values."""
    if is_float:
        table: dict[str, Callable[[Any, Any], bool]] = {
            "Eq": eq_float,
            "NotEq": lambda a, b: not eq_float(a, b),
            "Lt": lt_float,
            "Gt": lambda a, b: lt_float(b, a),
            "LtEq": lambda a, b: not lt_float(b, a),
            "GtEq": lambda a, b: not lt_float(a, b),
        }
    else:
        table = {
            "Eq": lambda a, b: a == b,
            "NotEq": lambda a, b: a != b,
            "Lt": lambda a, b: a < b,
            "Gt": lambda a, b: a > b,
            "LtEq": lambda a, b: a <= b,
            "GtEq": lambda a, b: a >= b,
        }
    return table[op]


def arithmetic(op: str, dtype: str) -> Callable[[Any, Any], Any] | None:
    """The arithmetic ``op`` of two non-null values of Polars type ``dtype`` (None if not compiled).

    The result may be None (integer division by zero).
    """
    if dtype in ("Int32", "Int64"):
        bits = 32 if dtype == "Int32" else 64
        ints: dict[str, Callable[[Any, Any], Any]] = {
            "Plus": lambda a, b: wrap(a + b, bits),
            "Minus": lambda a, b: wrap(a - b, bits),
            "Multiply": lambda a, b: wrap(a * b, bits),
            "FloorDivide": lambda a, b: None if b == 0 else wrap(a // b, bits),
            "Modulus": lambda a, b: None if b == 0 else a % b,
        }
        return ints.get(op)
    if dtype == "Float64":
        doubles: dict[str, Callable[[Any, Any], Any]] = {
            "Plus": lambda a, b: a + b,
            "Minus": lambda a, b: a - b,
            "Multiply": lambda a, b: a * b,
            "TrueDivide": div_float,
            "FloorDivide": lambda a, b: floor_float(div_float(a, b)),
            "Modulus": lambda a, b: mod_float(a, b, False),
        }
        return doubles.get(op)
    if dtype == "Float32":  # exact: a float64 result of two float32 values, rounded once to float32
        singles: dict[str, Callable[[Any, Any], Any]] = {
            "Plus": lambda a, b: f32(a + b),
            "Minus": lambda a, b: f32(a - b),
            "Multiply": lambda a, b: f32(a * b),
            "TrueDivide": lambda a, b: f32(div_float(a, b)),
            "FloorDivide": lambda a, b: floor_float(f32(div_float(a, b))),
            "Modulus": lambda a, b: f32(mod_float(a, b, True)),
        }
        return singles.get(op)
    if dtype == "String" and op == "Plus":
        return lambda a, b: a + b
    return None

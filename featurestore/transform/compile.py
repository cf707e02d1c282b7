"""Compile simple row-local Polars expressions to Python closures with Polars' semantics (the online fast path).

Building a one-row DataFrame and selecting three expressions costs ~150 µs in Polars; the same formulas
as Python closures cost a few µs. Polars stays the reference: offline always runs Polars, and online a
compiled closure is used only when

- every node is in the allow-list below (``Column`` of Int32/Int64/Float32/Float64/Boolean/String,
  literals, arithmetic ``+ - * / // %``, comparisons, ``eq_missing``, ``& |`` on booleans,
  ``when/then/otherwise``, numeric casts, ``abs``, negation, ``fill_null``, ``is_null``/``is_not_null``,
  ``not_``, ``is_nan``/``is_not_nan``/``is_finite``/``is_infinite``), and
- the type the compiler infers for every node equals the type Polars gives that node (checked once,
  when the runner is built, on an empty frame of the declared input types).

Anything else returns None and the runner evaluates that expression with Polars over one frame of all
the request's rows. Float literals NaN and ±inf serialize as ``null`` in Polars' JSON, so an expression
holding one is not compiled either. Each operator's semantics (ops.py) are pinned by a differential test
against Polars over null, NaN, ±inf, ±0.0 and the integer extremes (tests/transform/test_compile.py).

>>> import polars as pl, json
>>> tree = json.loads((pl.col("km") / pl.col("kmh") * 60).meta.serialize(format="json"))
>>> c = compile_tree(tree, {"km": "Float64", "kmh": "Int64"}, {"km": 0, "kmh": 1})
>>> c.dtype, c.fn((12.0, 0)), c.fn((None, 3)), c.fn((-12.0, 0))
('Float64', inf, None, -inf)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from featurestore.definitions.rowlocal import Tree, walk
from featurestore.transform import ops
from featurestore.transform.values import INT_RANGE, BadValue, f32, int_to_f32

Row = tuple[Any, ...]
Fn = Callable[[Row], Any]
INTS = ("Int32", "Int64")
FLOATS = ("Float32", "Float64")
NUMERIC = INTS + FLOATS
COLUMN_TYPES = (*NUMERIC, "Boolean", "String")


class NotCompiled(Exception):  # noqa: N818 - control flow: fall back to Polars
    """The expression (or a node of it) is outside the compiled subset."""


@dataclass(frozen=True)
class Compiled:
    """A compiled expression: its Polars type name and a function of one input row (a tuple)."""

    dtype: str
    fn: Fn
    literal: Any = None
    """For a literal number: its value."""


def materialize(c: Compiled) -> Compiled:
    """A dynamic literal given its own type (Int32 if it fits, else Int64; Float64)."""
    if c.dtype == "DynInt":
        return Compiled("Int32" if INT_RANGE["Int32"][0] <= c.literal <= INT_RANGE["Int32"][1] else "Int64", c.fn)
    if c.dtype == "DynFloat":
        return Compiled("Float64", c.fn)
    return c


def _fits(value: int, dtype: str) -> bool:
    lo, hi = INT_RANGE[dtype]
    return lo <= value <= hi


def supertype(a: Compiled, b: Compiled) -> str:
    """Polars' supertype of two operands (for the types compiled), else NotCompiled."""
    x, y = a.dtype, b.dtype
    if x.startswith("Dyn") and y.startswith("Dyn"):
        return supertype(materialize(a), materialize(b))
    if y.startswith("Dyn") or y == "Null":
        a, b, x, y = b, a, y, x
    if x == "Null":
        return materialize(b).dtype
    if x == "DynInt":
        if y in INTS:
            return y if _fits(a.literal, y) else "Int64"
        if y in FLOATS:
            return y
    if x == "DynFloat":
        if y in INTS:
            return "Float64"
        if y in FLOATS:
            return y
    if x == y:
        return x
    if x in NUMERIC and y in NUMERIC:
        if x in INTS and y in INTS:
            return "Int64"
        return "Float64"
    raise NotCompiled(f"no compiled supertype of {x} and {y}")


def converter(src: Compiled, dst: str) -> Callable[[Any], Any]:
    """Convert a non-null value of ``src``'s type to ``dst`` (a lossless widening, or f32 rounding)."""
    x = materialize(src).dtype if src.dtype.startswith("Dyn") else src.dtype
    if x == dst or x == "Null":
        return _identity
    if x in INTS and dst in INTS:
        return _identity
    if x in INTS and dst == "Float64":
        return float
    if x in INTS and dst == "Float32":
        return int_to_f32
    if x == "Float32" and dst == "Float64":
        return _identity
    if x == "Float64" and dst == "Float32":
        return f32
    raise NotCompiled(f"no compiled conversion from {x} to {dst}")


def _identity(v: Any) -> Any:
    return v


def _converted(c: Compiled, dst: str) -> Fn:
    conv = converter(c, dst)
    fn = c.fn
    if conv is _identity:
        return fn

    def run(r: Row) -> Any:
        v = fn(r)
        return None if v is None else conv(v)

    return run


def _literal(body: Any) -> Compiled:
    kind, value = next(iter(body.items()))
    ((vtype, v),) = value.items() if isinstance(value, dict) else [(value, None)]
    if kind == "Dyn" and vtype == "Int" and isinstance(v, int) and _fits(v, "Int64"):
        return Compiled("DynInt", lambda r: v, v)
    if kind == "Dyn" and vtype == "Float" and isinstance(v, (int, float)):  # NaN/inf serialize as null
        fv = float(v)
        return Compiled("DynFloat", lambda r: fv, fv)
    if kind == "Scalar":
        if vtype == "Null":
            return Compiled("Null", lambda r: None)
        if vtype in INTS and isinstance(v, int) and _fits(v, vtype):
            return Compiled(vtype, lambda r: v, v)
        if vtype in FLOATS and isinstance(v, (int, float)):
            fv = f32(float(v)) if vtype == "Float32" else float(v)
            return Compiled(vtype, lambda r: fv, fv)
        if vtype == "Boolean" and isinstance(v, bool):
            return Compiled("Boolean", lambda r: v)
        if vtype == "String" and isinstance(v, str):
            return Compiled("String", lambda r: v)
    raise NotCompiled(f"literal {body!r}"[:80])


_COMPARISONS = ("Eq", "NotEq", "Lt", "LtEq", "Gt", "GtEq")
_ARITHMETIC = ("Plus", "Minus", "Multiply", "TrueDivide", "FloorDivide", "Modulus")


def _binary(body: Any, ctx: _Context) -> Compiled:
    op = body["op"]
    a, b = ctx.compile(body["left"]), ctx.compile(body["right"])
    if op in ("And", "Or"):
        if {a.dtype, b.dtype} - {"Boolean", "Null"} or "Boolean" not in (a.dtype, b.dtype):
            raise NotCompiled(f"{op} of {a.dtype} and {b.dtype}")
        fa, fb, logic = a.fn, b.fn, ops.and_ if op == "And" else ops.or_
        return Compiled("Boolean", lambda r: logic(fa(r), fb(r)))
    if _is_scalar(body["left"]) and _is_scalar(body["right"]):
        # Polars folds literal arithmetic with its own typing (it gave null for lit(0) + lit(2**31) next to
        # an Int32 column): left to Polars
        raise NotCompiled("an operation of two scalars")
    t = supertype(a, b)
    fa, fb = _converted(a, t), _converted(b, t)
    if op in _COMPARISONS or op in ("EqValidity", "NotEqValidity"):
        if t not in COLUMN_TYPES:
            raise NotCompiled(f"comparison of {t}")
        cmp = ops.comparison("Eq" if op.endswith("Validity") else op, t in FLOATS)
        if op == "EqValidity":
            return Compiled("Boolean", lambda r: _eq_missing(fa(r), fb(r), cmp))
        if op == "NotEqValidity":
            return Compiled("Boolean", lambda r: not _eq_missing(fa(r), fb(r), cmp))
        return Compiled("Boolean", lambda r: _null_or(cmp, fa(r), fb(r)))
    if op in _ARITHMETIC:
        if op == "TrueDivide" and t in INTS:
            fa, fb = _converted(Compiled(t, fa), "Float64"), _converted(Compiled(t, fb), "Float64")
            t = "Float64"
        fn = ops.arithmetic(op, t)
        if fn is None:
            raise NotCompiled(f"{op} of {t}")
        if t in FLOATS and _is_scalar(body["left"]) != _is_scalar(body["right"]):
            special = _column_and_scalar(op, t, fa, fb, _is_scalar(body["left"]))
            if special is not None:
                return Compiled(t, special)
        f = fn
        return Compiled(t, lambda r: _null_or(f, fa(r), fb(r)))
    raise NotCompiled(f"operator {op}")


def _is_scalar(node: Tree) -> bool:
    """Whether a (sub)expression reads no column: Polars evaluates it once, as a scalar."""
    return not any(isinstance(n, dict) and "Column" in n for n in walk(node))


def _column_and_scalar(op: str, t: str, fa: Fn, fb: Fn, scalar_left: bool) -> Fn | None:
    """Polars' kernels for a float column with a scalar (on frames of two rows or more; the runner pads).

    ``x + 0`` and ``x - 0`` give x itself (-0.0 stays -0.0), ``c - x`` is ``-x + c``, and ``x / c`` and
    ``x // c`` multiply by ``1 / c``: they differ from IEEE in signed zeros and the last bit.
    """
    try:
        c = (fa if scalar_left else fb)(())
    except Exception as e:
        raise NotCompiled("a scalar that cannot be computed once") from e
    x = fb if scalar_left else fa
    single = t == "Float32"
    if c is None:
        return None
    if op == "Plus" or (op == "Minus" and not scalar_left):
        if c == 0:
            return x
        return None
    if op == "Minus":  # c - x
        plus = ops.arithmetic("Plus", t)
        assert plus is not None
        return lambda r: _null_or1(lambda v: -v if c == 0 else plus(-v, c), x(r))
    if op in ("TrueDivide", "FloorDivide", "Modulus") and not scalar_left:
        inv = f32(ops.div_float(1.0, c)) if single else ops.div_float(1.0, c)
        rounded = f32 if single else _identity
        if op == "TrueDivide":
            return lambda r: _null_or1(lambda v: rounded(v * inv), x(r))
        if op == "FloorDivide":
            return lambda r: _null_or1(lambda v: ops.floor_float(rounded(v * inv)), x(r))
        return lambda r: _null_or1(lambda v: rounded(v - rounded(c * ops.floor_float(rounded(v * inv)))), x(r))
    return None


def _null_or(fn: Callable[[Any, Any], Any], x: Any, y: Any) -> Any:
    return None if x is None or y is None else fn(x, y)


def _eq_missing(x: Any, y: Any, cmp: Callable[[Any, Any], bool]) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return cmp(x, y)


def _ternary(body: Any, ctx: _Context) -> Compiled:
    p = ctx.compile(body["predicate"])
    a, b = ctx.compile(body["truthy"]), ctx.compile(body["falsy"])
    if p.dtype not in ("Boolean", "Null"):
        raise NotCompiled("predicate type")
    t = supertype(a, b)
    fp, fa, fb = p.fn, _converted(a, t), _converted(b, t)

    def run(r: Row) -> Any:
        x, y = fa(r), fb(r)  # both sides, as Polars evaluates both (a failing cast fails either way)
        return x if fp(r) is True else y

    return Compiled(t, run)


def _cast(body: Any, ctx: _Context) -> Compiled:
    inner = materialize(ctx.compile(body["expr"]))
    dst, options = body["dtype"].get("Literal") if isinstance(body["dtype"], dict) else None, body["options"]
    if dst not in NUMERIC or options not in ("Strict", "NonStrict") or inner.dtype not in (*NUMERIC, "Null"):
        raise NotCompiled(f"cast to {dst}")
    strict, fn = options == "Strict", inner.fn
    if inner.dtype == "Null":
        return Compiled(dst, lambda r: None)
    if inner.dtype in FLOATS and dst in INTS:
        lo, hi = INT_RANGE[dst]

        def to_int(r: Row) -> Any:
            v = fn(r)
            if v is None:
                return None
            if v == v and v not in (ops.INF, -ops.INF) and lo <= int(v) <= hi:
                return int(v)
            if strict:
                raise BadValue(f"cannot cast {v!r} from {inner.dtype} to {dst}")
            return None

        return Compiled(dst, to_int)
    if inner.dtype in INTS and dst in INTS:
        lo, hi = INT_RANGE[dst]

        def narrow(r: Row) -> Any:
            v = fn(r)
            if v is None or lo <= v <= hi:
                return v
            if strict:
                raise BadValue(f"cannot cast {v!r} from {inner.dtype} to {dst}")
            return None

        return Compiled(dst, narrow)
    return Compiled(dst, _converted(inner, dst))


def _function(body: Any, ctx: _Context) -> Compiled:
    fn_name = body["function"]
    args = [ctx.compile(x) for x in body["input"]]
    if fn_name == "FillNull" and len(args) == 2:
        fill = body["input"][1]
        same_column = "Column" in fill and args[1].dtype == args[0].dtype
        if _is_scalar(body["input"][0]) or not ("Literal" in fill or same_column):
            # Polars 2.1 gives wrong values (or panics) for fill values of another type than x's unless literal
            raise NotCompiled("fill_null with a computed value or a column of another type")
        t = supertype(args[0], args[1])
        fx, fv = _converted(args[0], t), _converted(args[1], t)
        return Compiled(t, lambda r: _coalesce(fx(r), fv, r))
    if len(args) != 1:
        raise NotCompiled(f"function {fn_name!r}")
    x = materialize(args[0])
    f = x.fn
    if fn_name in ("Negate", "Abs") and x.dtype in NUMERIC:
        bits = 32 if x.dtype == "Int32" else 64
        if x.dtype in INTS:
            g: Callable[[Any], Any] = (lambda v: ops.wrap(-v, bits)) if fn_name == "Negate" else (
                lambda v: ops.wrap(abs(v), bits))
        else:
            g = (lambda v: -v) if fn_name == "Negate" else abs
        return Compiled(x.dtype, lambda r: _null_or1(g, f(r)))
    if isinstance(fn_name, dict) and set(fn_name) == {"Boolean"} and isinstance(fn_name["Boolean"], str):
        which = fn_name["Boolean"]
        if which == "IsNull" and x.dtype in (*COLUMN_TYPES, "Null"):
            return Compiled("Boolean", lambda r: f(r) is None)
        if which == "IsNotNull" and x.dtype in (*COLUMN_TYPES, "Null"):
            return Compiled("Boolean", lambda r: f(r) is not None)
        if which == "Not" and x.dtype == "Boolean":
            return Compiled("Boolean", lambda r: _null_or1(lambda v: not v, f(r)))
        tests: dict[str, Callable[[Any], bool]] = {
            "IsNan": lambda v: v != v, "IsNotNan": lambda v: v == v,
            "IsFinite": lambda v: v == v and v not in (ops.INF, -ops.INF),
            "IsInfinite": lambda v: v in (ops.INF, -ops.INF)}
        if which in tests and x.dtype in NUMERIC:
            test = tests[which]
            return Compiled("Boolean", lambda r: _null_or1(test, f(r)))
    raise NotCompiled(f"function {fn_name!r}")


def _coalesce(v: Any, other: Fn, r: Row) -> Any:
    return other(r) if v is None else v


def _null_or1(fn: Callable[[Any], Any], v: Any) -> Any:
    return None if v is None else fn(v)


class _Context:
    def __init__(self, types: dict[str, str], index: dict[str, int], check: Callable[[Tree, str], None]) -> None:
        self.types, self.index, self.check = types, index, check

    def compile(self, node: Tree) -> Compiled:
        c = self._compile(node)
        if not c.dtype.startswith("Dyn"):
            self.check(node, c.dtype)
        return c

    def _compile(self, node: Tree) -> Compiled:
        if not isinstance(node, dict) or len(node) != 1:
            raise NotCompiled(repr(node)[:40])
        ((kind, body),) = node.items()
        if kind == "Column":
            t = self.types.get(body)
            if t not in COLUMN_TYPES:
                raise NotCompiled(f"column {body!r} of type {t}")
            i = self.index[body]
            return Compiled(t, lambda r: r[i])
        if kind == "Literal":
            return _literal(body)
        if kind == "Alias":
            return self.compile(body[0])
        handlers: dict[str, Callable[[Any, _Context], Compiled]] = {
            "BinaryExpr": _binary, "Ternary": _ternary, "Cast": _cast, "Function": _function}
        if kind not in handlers:
            raise NotCompiled(kind)
        return handlers[kind](body, self)


def _no_check(node: Tree, dtype: str) -> None:
    return None


def compile_tree(tree: Tree, types: dict[str, str], index: dict[str, int],
                 check: Callable[[Tree, str], None] = _no_check) -> Compiled:
    """Compile a serialized expression over rows whose columns have Polars ``types`` at tuple positions ``index``.

    ``check(node, dtype)`` is called for every non-literal node (the runner compares with Polars' type and
    raises NotCompiled on a mismatch). Raises NotCompiled for anything outside the compiled subset.
    """
    return materialize(_Context(types, index, check).compile(tree))

"""Construction-time checks of on-demand feature views: row-local Polars expressions, and row functions
that read neither the wall clock nor random numbers.

Both are best-effort guards, not proofs:

* ``check_row_local`` walks ``expr.meta.serialize(format="json")`` against an allow-list of node kinds and
  functions whose value for a row depends on that row only. Aggregations (``mean``, ``sum``, ``first``),
  windows (``over``, ``rolling_*``), ``shift``, ``diff``, cumulative functions, ranks, sorts, slices
  (``head``/``tail``), filters, random functions, Series literals and anything not on the list are refused:
  offline they would see the whole training set, online only the request's rows.
* ``lint_udf`` parses the function's source and refuses references to ``datetime.now/utcnow/today``,
  ``date.today``, ``time.time/time_ns/monotonic/perf_counter``, ``random.*``, ``numpy.random.*``,
  ``uuid.uuid1/uuid4``, ``os.urandom`` and ``secrets.*``, resolving names through the function's
  globals and imports (a call through ``getattr`` or a helper function is not seen).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import textwrap
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from featurestore.errors import DefinitionError

_ALLOWED_FUNCTIONS = frozenset({
    "Abs", "Ceil", "Floor", "Sign", "Negate", "Exp", "Log", "Log1p", "FillNull", "Coalesce", "MaxHorizontal",
    "MinHorizontal", "SumHorizontal", "MeanHorizontal", "Round", "RoundSF", "Clip", "Pow", "Trigonometry",
    "Boolean", "StringExpr", "TemporalExpr", "ListExpr", "StructExpr", "ArrayExpr", "AsStruct", "Cbrt",
    "ToPhysical", "Replace", "ReplaceStrict",
})
"""``Function`` nodes (by name, or the family of a nested one) whose output row depends on its input row."""
_REFUSED_MEMBERS = frozenset({
    "IsFirstDistinct", "IsLastDistinct", "IsUnique", "IsDuplicated", "Any", "All", "ConcatVertical", "Implode",
})
"""Members of allowed families that look at other rows."""


def _function_name(function: Any) -> tuple[str, str]:
    """``("Boolean", "IsNull")`` for ``{"Boolean": "IsNull"}``; ``("Abs", "")`` for ``"Abs"``."""
    if isinstance(function, str):
        return function, ""
    if isinstance(function, dict) and len(function) == 1:
        family, member = next(iter(function.items()))
        if isinstance(member, str):
            return family, member
        if isinstance(member, dict) and len(member) == 1:
            return family, next(iter(member))
        return family, ""
    return repr(function), ""


def _refused(node: Any) -> Iterator[str]:
    """The names of the nodes of a serialized expression that are not row-local (depth first)."""
    if not isinstance(node, dict) or len(node) != 1:
        yield str(node) if isinstance(node, str) else "an unknown node"
        return
    kind, body = next(iter(node.items()))
    if kind == "Column":
        return
    if kind == "Literal":
        if not (isinstance(body, dict) and set(body) <= {"Dyn", "Scalar"}):
            yield "a Series literal"
        return
    if kind == "BinaryExpr":
        yield from _refused(body.get("left"))
        yield from _refused(body.get("right"))
    elif kind == "Ternary":
        for part in ("predicate", "truthy", "falsy"):
            yield from _refused(body.get(part))
    elif kind == "Cast":
        yield from _refused(body.get("expr"))
    elif kind == "Alias" and isinstance(body, list) and body:
        yield from _refused(body[0])
    elif kind == "Function" and isinstance(body, dict):
        family, member = _function_name(body.get("function"))
        if family not in _ALLOWED_FUNCTIONS:
            yield family
        elif member in _REFUSED_MEMBERS:
            yield f"{family}.{member}"
        for arg in body.get("input") or []:
            yield from _refused(arg)
    else:
        yield kind


def serialize(expr: Any) -> dict[str, Any]:
    """The JSON tree of a Polars expression (``expr.meta.serialize(format="json")``)."""
    return json.loads(expr.meta.serialize(format="json"))  # type: ignore[no-any-return]


def check_row_local(view_name: str, expressions: Mapping[str, Any]) -> None:
    """Refuse expressions whose value for a row depends on other rows (DefinitionError naming view and feature).

    >>> import polars as pl
    >>> check_row_local("eta", {"eta_min": pl.col("distance_km") / pl.col("avg_speed_kmh") * 60})
    >>> check_row_local("bad", {"z": pl.col("x") - pl.col("x").mean()})
    Traceback (most recent call last):
    ...
    featurestore.errors.DefinitionError: on-demand feature view 'bad', feature 'z': ... uses Agg, which is not ...
    """
    for name, expr in expressions.items():
        bad = list(dict.fromkeys(_refused(serialize(expr))))
        if bad:
            raise DefinitionError(
                f"on-demand feature view {view_name!r}, feature {name!r}: {expr} uses {', '.join(bad)}, which is "
                "not row-local (its value for a row depends on other rows: offline it would see the whole "
                "training set, online only the request's rows); on-demand expressions may use columns, literals, "
                "arithmetic and comparisons, when/then/otherwise, casts and per-value functions (fill_null, abs, "
                "round, clip, str.*, dt.*, is_null, ...). Compute aggregates in a feature view instead",
                name=view_name, feature=name, value=bad[0])


_FORBIDDEN_EXACT = frozenset({
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
    "time.perf_counter_ns", "uuid.uuid1", "uuid.uuid4", "os.urandom", "posix.urandom",
})
_FORBIDDEN_PREFIXES = ("random.", "numpy.random.", "secrets.")
_FORBIDDEN_MODULES = frozenset({"random", "numpy.random", "secrets"})
_TEXT_ALIASES = {"datetime.now": "datetime.datetime.now", "datetime.utcnow": "datetime.datetime.utcnow",
                 "datetime.today": "datetime.datetime.today", "date.today": "datetime.date.today",
                 "np.random": "numpy.random"}
"""How an unresolved dotted name is read (``from datetime import datetime`` is the usual import)."""


def _forbidden(dotted: str) -> bool:
    return (dotted in _FORBIDDEN_EXACT or dotted in _FORBIDDEN_MODULES
            or any(dotted.startswith(p) for p in _FORBIDDEN_PREFIXES))


def _canonical(obj: Any) -> str | None:
    """The dotted home of a module, class or function (``datetime.datetime``, ``random.random``)."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    if module is None:  # a bound builtin such as random.random (a method of the module's Random instance)
        module = type(getattr(obj, "__self__", None)).__module__
        if module == "builtins":
            return None
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"{module}.{qualname}" if module and qualname else None


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _local_imports(tree: ast.AST) -> dict[str, str]:
    """Names bound by ``import``/``from ... import`` inside the function: name -> dotted target."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _resolve(parts: list[str], namespace: Mapping[str, Any], local: Mapping[str, str]) -> str:
    head, rest = parts[0], parts[1:]
    if head in local:
        base = local[head]
    elif head in namespace and (found := _canonical(namespace[head])) is not None:
        base = found
    else:
        base = head
    dotted = ".".join([base, *rest])
    for alias, target in _TEXT_ALIASES.items():
        if dotted == alias or dotted.startswith(alias + "."):
            return target + dotted[len(alias):]
    return dotted


def function_source(view_name: str, fn: Callable[..., Any]) -> str:
    """The dedented source text of ``fn`` (DefinitionError naming the view when Python cannot find it)."""
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as err:
        raise DefinitionError(f"on-demand feature view {view_name!r}: the source of its function "
                              f"{getattr(fn, '__qualname__', fn)!r} cannot be read ({err}); define it in a "
                              "module file", name=view_name) from None


def lint_udf(view_name: str, fn: Callable[..., Any]) -> None:
    """Refuse a row function whose source reads the wall clock or random numbers (DefinitionError).

    >>> def fare(row):
    ...     import random
    ...     return {"fare": row["km"] * random.random()}
    >>> lint_udf("fare", fare)
    Traceback (most recent call last):
    ...
    featurestore.errors.DefinitionError: on-demand feature view 'fare': its function uses random.random (line 3 ...
    """
    source = function_source(view_name, fn)
    try:
        tree = ast.parse(source)
    except SyntaxError:  # e.g. a lambda cut out of a longer statement: nothing to lint reliably
        return
    namespace: dict[str, Any] = {**vars(builtins), **getattr(fn, "__globals__", {})}
    closure = getattr(fn, "__closure__", None) or ()
    code = getattr(fn, "__code__", None)
    if code is not None:
        for name, cell in zip(code.co_freevars, closure, strict=False):
            try:
                namespace[name] = cell.cell_contents
            except ValueError:
                continue
    local = _local_imports(tree)
    seen: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute | ast.Name) or id(node) in seen:
            continue
        inner: ast.expr = node
        while isinstance(inner, ast.Attribute):  # only the longest chain counts: a.b.c, not a.b
            inner = inner.value
            seen.add(id(inner))
        parts = _dotted(node)
        if parts is None:
            continue
        dotted = _resolve(parts, namespace, local)
        if _forbidden(dotted):
            raise DefinitionError(
                f"on-demand feature view {view_name!r}: its function uses {dotted} (line {node.lineno} of "
                f"{getattr(fn, '__qualname__', 'the function')}): transformations must not read the wall clock "
                "or random numbers, or offline and online results would differ; take the time from a feature "
                "or a request field instead", name=view_name, value=dotted)

"""Only row-local Polars expressions: an allow-list walk of the serialized expression tree.

An on-demand expression runs over the whole training set offline and over a request's few rows
online; anything that looks at other rows (aggregations, windows, shifts, ranks, sorts, slices,
random sampling) would give different answers on the two paths, so it is refused at definition time.
Polars' own ``meta.is_row_separable()`` says True for ``x - x.mean()``, so it is not used.

>>> import polars as pl
>>> check_row_local("eta", {"eta_min": pl.col("km") / pl.col("kmh") * 60})
>>> check_row_local("eta", {"z": pl.col("km") - pl.col("km").mean()})
Traceback (most recent call last):
...
featurestore.errors.DefinitionError: on-demand view 'eta': feature 'z' uses Agg (an aggregation); only row-local ...
>>> sorted(expression_inputs({"eta_min": pl.col("km") / pl.col("kmh") * 60, "long": pl.col("km") > 20}))
['km', 'kmh']
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from featurestore.errors import DefinitionError

if TYPE_CHECKING:
    import polars as pl

Tree = Any
"""A parsed ``expr.meta.serialize(format="json")``: nested dicts, lists, strings and numbers."""

_ROW_LOCAL_FUNCTIONS: dict[str, frozenset[str] | None] = {
    # a name alone (None) allows every variant; a set lists the allowed variants
    "Abs": None, "Negate": None, "FillNull": None, "Coalesce": None, "Sign": None, "Floor": None,
    "Ceil": None, "Round": None, "RoundSF": None, "Clip": None, "Log": None, "Log1p": None, "Exp": None,
    "Pow": None, "Trigonometry": None, "Atan2": None, "Replace": None, "ReplaceStrict": None,
    "MaxHorizontal": None, "MinHorizontal": None, "SumHorizontal": None, "MeanHorizontal": None,
    "Boolean": frozenset({"IsNull", "IsNotNull", "IsNan", "IsNotNan", "IsFinite", "IsInfinite", "Not",
                          "IsBetween", "IsIn", "IsClose", "AnyHorizontal", "AllHorizontal"}),
    "StringExpr": frozenset({
        "LenChars", "LenBytes", "Uppercase", "Lowercase", "Titlecase", "Contains", "ContainsAny",
        "StartsWith", "EndsWith", "Replace", "ReplaceMany", "StripChars", "StripCharsStart", "StripCharsEnd",
        "StripPrefix", "StripSuffix", "Slice", "Head", "Tail", "ZFill", "PadStart", "PadEnd", "Reverse",
        "ToInteger", "Strptime", "Find", "CountMatches", "Extract", "ExtractAll", "ConcatHorizontal", "Split",
        "SplitExact", "SplitN", "Normalize"}),
    "TemporalExpr": frozenset({
        "Year", "IsLeapYear", "IsoYear", "Quarter", "Month", "Week", "WeekDay", "Day", "OrdinalDay", "Hour",
        "Minute", "Second", "Millisecond", "Microsecond", "Nanosecond", "Date", "Time", "Datetime", "Truncate",
        "Round", "OffsetBy", "TimeStamp", "Epoch", "ToString", "ConvertTimeZone", "ReplaceTimeZone",
        "CastTimeUnit", "WithTimeUnit", "MonthStart", "MonthEnd", "TotalDays", "TotalHours", "TotalMinutes",
        "TotalSeconds", "TotalMilliseconds", "TotalMicroseconds", "TotalNanoseconds", "DaysInMonth"}),
    "ListExpr": frozenset({
        "Length", "Get", "Contains", "Sum", "Mean", "Max", "Min", "Median", "Std", "Var", "ArgMin", "ArgMax",
        "Join", "Slice", "Head", "Tail", "Reverse", "Sort", "Unique", "NUnique", "Concat", "Any", "All",
        "DropNulls", "CountMatches"}),
}
_WHY = {
    "Agg": "an aggregation", "Over": "a window", "Window": "a window", "Sort": "a sort", "SortBy": "a sort",
    "Slice": "a slice (head/tail)", "Filter": "a filter", "Gather": "a gather", "Explode": "an explode",
    "Eval": "an evaluation over several rows", "Len": "the frame length", "Selector": "a column selector",
    "Shift": "a shift", "Random": "random sampling", "Rank": "a rank", "CumSum": "a cumulative function",
    "CumProd": "a cumulative function", "CumMin": "a cumulative function", "CumMax": "a cumulative function",
    "CumCount": "a cumulative function", "Diff": "a difference between rows", "RollingExpr": "a rolling window",
}


def tree(view_name: str, feature: str, expr: pl.Expr) -> Tree:
    """The serialized form of ``expr`` (a DefinitionError naming the feature if it cannot be serialized)."""
    import polars as pl

    if not isinstance(expr, pl.Expr):
        raise DefinitionError(f"on-demand view {view_name!r}: feature {feature!r} is a {type(expr).__name__}, "
                              "not a polars expression", name=view_name, feature=feature)
    try:
        return json.loads(expr.meta.serialize(format="json"))
    except Exception as e:  # polars raises ComputeError for Python callbacks (map_elements, map_batches)
        raise DefinitionError(f"on-demand view {view_name!r}: feature {feature!r} cannot be serialized "
                              f"({type(e).__name__}); Python callbacks such as map_elements are not allowed in "
                              "expressions (use a row function instead)", name=view_name, feature=feature) from e


def _refusal(node: Tree) -> str | None:
    """Why this node (not its children) is not row-local, or None."""
    if isinstance(node, str):
        return None if node == "Element" else node  # "Len", "Wildcard", ...
    if not isinstance(node, dict) or len(node) != 1:
        return repr(node)[:40]
    ((kind, body),) = node.items()
    if kind in ("Column", "BinaryExpr", "Ternary", "Cast", "Alias", "KeepName"):
        return None
    if kind == "Literal":
        return "Literal Series (a column of values)" if isinstance(body, dict) and (
            "Series" in body or "Range" in body) else None
    if kind == "Function":
        fn = body["function"]
        name, variant = (fn, None) if isinstance(fn, str) else next(iter(fn.items()))
        allowed = _ROW_LOCAL_FUNCTIONS.get(name, frozenset())
        if name not in _ROW_LOCAL_FUNCTIONS:
            return name
        if allowed is None:
            return None
        inner = variant if isinstance(variant, str) else next(iter(variant)) if isinstance(variant, dict) else None
        return None if inner in allowed else f"{name}.{inner}"
    return str(kind)


def _children(node: Tree) -> Iterator[Tree]:
    if isinstance(node, dict):
        ((kind, body),) = node.items()
        if kind == "Function":
            yield from body["input"]
        elif kind == "BinaryExpr":
            yield body["left"]
            yield body["right"]
        elif kind == "Ternary":
            yield from (body["predicate"], body["truthy"], body["falsy"])
        elif kind == "Cast":
            yield body["expr"]
        elif kind == "Alias":
            yield body[0]
        elif kind == "KeepName":
            yield body


def walk(node: Tree) -> Iterator[Tree]:
    """Every node of a tree, parents first."""
    yield node
    for child in _children(node):
        yield from walk(child)


def check_row_local(view_name: str, expressions: Mapping[str, pl.Expr]) -> None:
    """Refuse any expression that is not row-local (DefinitionError naming the view and the feature)."""
    for feature, expr in expressions.items():
        for node in walk(tree(view_name, feature, expr)):
            bad = _refusal(node)
            if bad is not None:
                head = bad.split(".")[-1].split(" ")[0]
                why = _WHY.get(head) or _WHY.get(bad.split(".")[0]) or "not in the allow-list"
                raise DefinitionError(
                    f"on-demand view {view_name!r}: feature {feature!r} uses {bad} ({why}); only row-local "
                    "expressions (each output row computed from the same input row) are allowed",
                    name=view_name, feature=feature, value=bad)


def expression_inputs(expressions: Mapping[str, pl.Expr]) -> set[str]:
    """The input column names the expressions read (their root names)."""
    out: set[str] = set()
    for expr in expressions.values():
        out.update(expr.meta.root_names())
    return out

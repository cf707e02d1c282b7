"""Expectations as DuckDB SQL over any relation with the view's column names and ``__fs_ev`` (epoch µs).

Every check of a view is one aggregate of ONE query (:func:`aggregate_sql`); examples of bad values are fetched
by a second small query (:func:`examples_sql`) only when something failed. Null handling: a null (or NaN, in a
float column) is *missing*: it fails ``not_null`` and counts in ``null_ratio``; between and in_set let nulls pass
(the SQL predicate is NULL, not true), while NaN fails them (it is no number in a range, nor one of the values).

>>> from featurestore import expect
>>> bad_predicate(expect.between("x", 0, 1), frozenset({"x"}), 0)
'("x" < 0 OR "x" > 1 OR isnan("x"))'
>>> bad_predicate(expect.in_set("city", ["ams", "o'x"]), frozenset(), 0)
'("city" NOT IN (\\'ams\\', \\'o\\'\\'x\\'))'
>>> bad_predicate(expect.not_future(tolerance="1s"), frozenset(), 5)
'__fs_ev > 1000005'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from featurestore.definitions.expect import Expectation
from featurestore.naming import quote, sql_string

EVENT = "__fs_ev"
"""The event-time column every checked relation has (UTC epoch microseconds)."""


def literal(value: Any) -> str:
    """A Python value (string, number, boolean) as a DuckDB literal."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else f"CAST('{value!r}' AS DOUBLE)"
    return sql_string(str(value))


def missing(column: str, floats: frozenset[str]) -> str:
    """SQL true when ``column`` has no value (null, or NaN in a float column)."""
    c = quote(column)
    return f"({c} IS NULL OR isnan({c}))" if column in floats else f"{c} IS NULL"


def bad_predicate(e: Expectation, floats: frozenset[str], now_us: int) -> str | None:
    """SQL true on a row failing the row-level check ``e`` (NULL or false otherwise); None for batch checks.

    ``floats``: the float columns (NaN handling); ``now_us``: the current time for ``not_future``.
    """
    if e.kind == "not_null":
        return missing(str(e.column), floats)
    if e.kind == "not_future":
        return f"{EVENT} > {now_us + e.tolerance_us}"
    c = quote(str(e.column))
    if e.kind == "between":
        parts = ([f"{c} < {literal(e.min)}"] if e.min is not None else []) + \
                ([f"{c} > {literal(e.max)}"] if e.max is not None else [])
        parts += [f"isnan({c})"] if e.column in floats else []
        return f"({' OR '.join(parts)})"
    if e.kind == "in_set":
        nan = f" OR isnan({c})" if e.column in floats else ""
        return f"({c} NOT IN ({', '.join(literal(v) for v in e.values)}){nan})"
    return None


def any_bad(expectations: Sequence[Expectation], floats: frozenset[str], now_us: int) -> str | None:
    """SQL true on a row failing at least one row-level check (never NULL); None without row-level checks."""
    preds = [p for p in (bad_predicate(e, floats, now_us) for e in expectations) if p is not None]
    return f"coalesce({' OR '.join(preds)}, false)" if preds else None


def aggregate_sql(expectations: Sequence[Expectation], relation: str, floats: frozenset[str], now_us: int) -> str:
    """One aggregate over ``relation``: ``n`` (rows), ``bad`` (rows failing a row-level check), then per check
    ``c<i>``: its bad rows (row-level), missing values (``null_ratio``) or 0 (``row_count``: ``n`` says it).

    Each predicate is evaluated once per row, as a flag ``b<i>`` of an inner projection (a third faster than
    repeating them in aggregate filters and in the union).
    """
    flags, cols = [], ["count(*) AS n"]
    for i, e in enumerate(expectations):
        pred = bad_predicate(e, floats, now_us)
        if pred is None and e.kind == "null_ratio":
            pred = missing(str(e.column), floats)
        if pred is not None:
            flags.append(f"coalesce({pred}, false) AS b{i}")
    row_level = [f"b{i}" for i, e in enumerate(expectations) if e.row_level]
    cols.append(f"count_if({' OR '.join(row_level)}) AS bad" if row_level else "0 AS bad")
    cols += [f"count_if(b{i}) AS c{i}" if e.kind != "row_count" else f"0 AS c{i}" for i, e in enumerate(expectations)]
    inner = f"SELECT {', '.join(flags)} FROM ({relation})" if flags else f"SELECT 1 AS b FROM ({relation})"
    return f"SELECT {', '.join(cols)} FROM ({inner})"


def examples_sql(failed: Sequence[tuple[int, Expectation]], relation: str, floats: frozenset[str],
                 now_us: int, limit: int = 3) -> str:
    """One aggregate query: per failed row-level check ``(i, e)``, a list ``e<i>`` of up to ``limit`` distinct
    non-null bad values (``not_future``: event times in epoch µs) and ``n<i>``, whether a null is bad.

    Aggregate FILTERs, never a WHERE: DuckDB 2.0 prunes Parquet row groups by min/max statistics that leave NaN
    out, so a WHERE true only on NaN rows can find none; plain aggregate filters are evaluated row by row (not
    DISTINCT ones, rewritten into a WHERE).
    """
    parts = []
    for i, e in failed:
        column = quote(str(e.column)) if e.column is not None else EVENT
        pred = bad_predicate(e, floats, now_us)
        parts.append(f"list_distinct(list({column}) FILTER (WHERE {pred}))[1:{limit}] AS e{i}")
        parts.append(f"bool_or({column} IS NULL) FILTER (WHERE {pred}) AS n{i}")
    return f"SELECT {', '.join(parts)} FROM ({relation})"


def bad_rows_sql(expectations: Sequence[Expectation], relation: str, columns: Sequence[str], floats: frozenset[str],
                 now_us: int) -> str:
    """The rows of ``relation`` failing a row-level check: ``columns`` then ``__fs_reason`` (gathered by an
    aggregate FILTER, not a WHERE: see :func:`examples_sql`)."""
    bad = any_bad(expectations, floats, now_us) or "false"
    fields = ", ".join(f"{quote(c)} := {quote(c)}" for c in columns)
    return (f"SELECT r.* FROM (SELECT unnest(list(struct_pack({fields}, __fs_reason := "
            f"{reason_sql(expectations, floats, now_us)})) FILTER (WHERE {bad})) AS r FROM ({relation}))")


def reason_sql(expectations: Sequence[Expectation], floats: frozenset[str], now_us: int) -> str:
    """SQL of a row's failed row-level labels joined by ``"; "`` (NULL for a good row)."""
    cases = [f"CASE WHEN {p} THEN {sql_string(e.label)} END" for e in expectations
             if (p := bad_predicate(e, floats, now_us)) is not None]
    if not cases:
        return "CAST(NULL AS VARCHAR)"
    return f"NULLIF(concat_ws('; ', {', '.join(cases)}), '')"


@dataclass(frozen=True)
class RowFilter:
    """Rows to leave out of a read: those failing a row-level check of ``expectations`` at ``now_us``
    (materialize under ``on_invalid="quarantine"``: each entity gets its latest good row).

    >>> from featurestore import expect
    >>> RowFilter((expect.not_null("x"),), 0).keep_sql(frozenset())
    'NOT coalesce("x" IS NULL, false)'
    """

    expectations: tuple[Expectation, ...]
    now_us: int

    def keep_sql(self, floats: frozenset[str]) -> str:
        """SQL true on the rows to keep."""
        bad = any_bad(self.expectations, floats, self.now_us)
        return f"NOT {bad}" if bad else "true"

    def columns(self, among: Sequence[str]) -> tuple[str, ...]:
        """The columns of ``among`` the checks read."""
        used = {e.column for e in self.expectations}
        return tuple(c for c in among if c in used)

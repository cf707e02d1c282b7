"""Evaluate expectations: over any relation through a query function (engines), or over an Arrow table in an
in-memory DuckDB (write paths). All checks of a view in ONE query; a second small query for examples only when
something failed.

>>> import pyarrow as pa
>>> from featurestore import expect
>>> t = pa.table({"x": [0.5, 2.0, None], "__fs_ev": [0, 0, 0]})
>>> ev = evaluate_table(t, (expect.between("x", 0, 1), expect.not_null("x")), now_us=0)
>>> ev.rows, ev.bad_rows, [(r.bad_rows, r.examples) for r in ev.results]
(3, 2, [(1, (2.0,)), (1, (None,))])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from featurestore.definitions.expect import Expectation
from featurestore.errors import InputError
from featurestore.quality import checks
from featurestore.quality.report import Evaluation, ExpectationResult
from featurestore.utc import from_epoch_us

Query = Callable[[str], list[tuple[Any, ...]]]
"""Runs SQL, returns its rows (an engine's connection, or the in-memory DuckDB of this module)."""

_lock = threading.Lock()
_db: duckdb.DuckDBPyConnection | None = None


def _cursor() -> duckdb.DuckDBPyConnection:
    """A cursor of the process's in-memory DuckDB (an instance costs tens of ms to open: one is kept)."""
    global _db
    with _lock:
        if _db is None:
            _db = duckdb.connect(config={"threads": 2})
            _db.execute("SET enable_progress_bar = false")
        return _db.cursor()


def float_columns(schema: pa.Schema) -> frozenset[str]:
    """The floating-point columns of ``schema`` (where NaN is missing)."""
    return frozenset(f.name for f in schema if pa.types.is_floating(f.type))


def _event_example(us: Any) -> Any:
    try:
        return from_epoch_us(int(us)).isoformat()
    except (OverflowError, ValueError, OSError):
        return f"{us} microseconds after 1970"


def single_columns(names_and_types: Sequence[tuple[str, str]]) -> frozenset[str]:
    """The Float32 columns of (name, type name) pairs (their examples are shown as float32 values).

    >>> sorted(single_columns([("a", "Float32"), ("b", "Float64")]))
    ['a']
    """
    return frozenset(n for n, t in names_and_types if t == "Float32")


def _shown(value: Any) -> Any:
    """A Float32 value as the shortest float that reads back as it (1.7, not 1.7000000476837158)."""
    return float(str(np.float32(value))) if isinstance(value, float) else value


def run(query: Query, relation: str, expectations: Sequence[Expectation], floats: frozenset[str],
        now_us: int, singles: frozenset[str] = frozenset()) -> Evaluation:
    """Evaluate ``expectations`` over ``relation`` (SQL with the view's column names and ``__fs_ev``);
    ``singles``: its Float32 columns (examples shown as the float32 values they are)."""
    row = query(checks.aggregate_sql(expectations, relation, floats, now_us))[0]
    n, bad = int(row[0]), int(row[1] or 0)  # count_if of no rows is NULL
    counts = [int(c or 0) for c in row[2:]]
    failed = [(i, e) for i, e in enumerate(expectations) if e.row_level and counts[i] > 0]
    examples: dict[int, tuple[Any, ...]] = {}
    if failed:
        got = query(checks.examples_sql(failed, relation, floats, now_us))[0]
        for k, (i, e) in enumerate(failed):
            values = list(got[2 * k] or [])
            if got[2 * k + 1] and len(values) < 3:
                values.append(None)
            if e.kind == "not_future":
                values = [_event_example(v) for v in values]
            elif e.column in singles:
                values = [_shown(v) for v in values]
            examples[i] = tuple(values)
    results = []
    for i, e in enumerate(expectations):
        if e.kind == "null_ratio":
            ratio = counts[i] / n if n else 0.0
            results.append(ExpectationResult(e, counts[i], (), ratio, ok=ratio <= float(e.max or 0)))
        elif e.kind == "row_count":
            fits = (e.min is None or n >= e.min) and (e.max is None or n <= e.max)
            results.append(ExpectationResult(e, 0, (), n, ok=fits))
        else:
            results.append(ExpectationResult(e, counts[i], examples.get(i, ())))
    return Evaluation(n, bad, tuple(results))


def _on_table(table: pa.Table, work: Callable[[Query, str], Any]) -> Any:
    cur = _cursor()
    try:
        cur.register("__fs_batch", table)

        def query(sql: str) -> list[tuple[Any, ...]]:
            return cur.sql(sql).fetchall()

        return work(query, "SELECT * FROM __fs_batch")
    except duckdb.Error as err:
        raise InputError(f"the expectations could not be evaluated on the rows: {err}") from None
    finally:
        cur.close()


def evaluate_table(table: pa.Table, expectations: Sequence[Expectation], now_us: int) -> Evaluation:
    """Evaluate ``expectations`` over ``table`` (the view's column names and ``__fs_ev``)."""
    floats = float_columns(table.schema)
    singles = frozenset(f.name for f in table.schema if pa.types.is_float32(f.type))
    result: Evaluation = _on_table(table, lambda q, rel: run(q, rel, expectations, floats, now_us, singles))
    return result


def reasons(table: pa.Table, expectations: Sequence[Expectation], now_us: int) -> pa.Array:
    """Per row of ``table``, its failed row-level labels joined by ``"; "`` (null for a good row)."""
    floats = float_columns(table.schema)
    sql_reason = checks.reason_sql(expectations, floats, now_us)
    numbered = table.append_column("__fs_row", pa.array(range(table.num_rows), pa.int64()))

    def work(query: Query, relation: str) -> pa.Array:
        rows = query(f"SELECT {sql_reason} FROM ({relation}) ORDER BY __fs_row")
        return pa.array([r[0] for r in rows], pa.string())

    result: pa.Array = _on_table(numbered, work)
    return result

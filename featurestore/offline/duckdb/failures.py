"""DuckDB errors as featurestore errors that name the view, the source (file, table or query) and the column.

A query joins several views: an error is attributed to the view whose file (or table, or query) DuckDB's
message names, else to the only view read. A bad CSV value (``abc`` in an Int64 column, row 50,000) names
the view, the file, the column, the value and the line when DuckDB gives it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from featurestore import types
from featurestore.definitions.aggregate_view import SourcedView, view_label
from featurestore.definitions.sources import BatchSource, PushSource, batch_of
from featurestore.errors import DataSourceError, FeatureStoreError, OfflineStoreError
from featurestore.naming import sql_string

_MARK = "__fs_bad_value"
_SEP = "\x1f"

Read = tuple[SourcedView | None, BatchSource | PushSource]
"""A source read by a query, and the view it is read for (None when no view is concerned)."""


def exact_integer(expr: str, column: str, dtype: types.ValueType, view: str) -> str:
    """SQL converting CSV text ``expr`` to ``dtype`` (Int32 or Int64) exactly: a value that is not a whole number
    in range fails the query with a message :func:`describe_error` reads (DuckDB's cast would round ``2.4``)."""
    duck = dtype.to_duckdb()
    head = sql_string(_SEP.join([_MARK, view, column, dtype.name, ""]))
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL ELSE coalesce(CASE WHEN regexp_full_match({expr}, "
        f"'\\s*[+-]?[0-9]+\\s*') THEN TRY_CAST({expr} AS {duck}) END, "
        f"error({head} || filename || chr(31) || {expr})) END"
    )


def _first_line(err: Exception) -> str:
    return str(err).split("\n")[0]


def _bad_value(text: str) -> DataSourceError | None:
    if _MARK + _SEP not in text:
        return None
    parts = text[text.index(_MARK):].split(_SEP)
    if len(parts) < 6:
        return None
    _, view, column, dtype, file, value = parts[:6]
    value = value.split("\n")[0]
    where = f"feature view {view!r}: " if view else ""
    return DataSourceError(
        f"{where}csv file {file!r}, column {column!r}: {value!r} is not a whole number within {dtype} "
        "(values are never rounded: fix the data or declare the column Float64)",
        view=view or None, source=file, column=column)


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_COLUMN = re.compile(r'Error when converting column "(.*?)"\. (.*)')
_CSV_FILE = re.compile(r"^\s*file = (.*)$", re.MULTILINE)


def _owner(file: str, reads: Sequence[Read], files: Callable[[BatchSource | PushSource], list[str]]) -> str | None:
    """The name of the view that reads ``file``, if one does."""
    target = Path(file).resolve()
    for view, source in reads:
        if view is not None and any(Path(f).resolve() == target for f in files(source)):
            return view.name
    return None


def _csv_value(text: str, reads: Sequence[Read],
               files: Callable[[BatchSource | PushSource], list[str]]) -> DataSourceError | None:
    line, column, file = _CSV_LINE.search(text), _CSV_COLUMN.search(text), _CSV_FILE.search(text)
    if line is None or file is None:
        return None
    path = file.group(1).strip()
    view = _owner(path, reads, files)
    where = f"feature view {view!r}: " if view else ""
    col = column.group(1) if column else None
    what = f", column {col!r}" if col else ""
    detail = column.group(2).strip() if column else text.split("\n")[0]
    return DataSourceError(f"{where}csv file {path!r}, line {line.group(1)}{what}: {detail}",
                           view=view, source=path, column=col)


def describe_error(err: Exception, reads: Sequence[Read] = (),
                   files: Callable[[BatchSource | PushSource], list[str]] | None = None) -> FeatureStoreError:
    """A DuckDB error as a FeatureStoreError naming the view and source at fault, without DuckDB's stack."""
    text = str(err)
    files = files or (lambda source: [])
    found = _bad_value(text) or _csv_value(text, reads, files)
    if found is not None:
        return found
    first = _first_line(err)
    named = [(v, s) for v, s in reads if _mentions(first, s, files)]
    culprit = named[0] if named else (reads[0] if len({id(s) for _, s in reads}) == 1 and reads else None)
    if culprit is not None:
        view, source = culprit
        where = f"{view_label(view)} {view.name!r}: " if view is not None else ""
        return DataSourceError(f"{where}cannot read source {batch_of(source).describe()}: {first}",
                               view=view.name if view is not None else None, source=batch_of(source).describe())
    if isinstance(err, duckdb.IOException):
        return DataSourceError(f"reading a source failed: {first}")
    return OfflineStoreError(f"offline query failed: {first}")


def _mentions(text: str, source: BatchSource | PushSource,
              files: Callable[[BatchSource | PushSource], list[str]]) -> bool:
    batch = batch_of(source)
    names = [getattr(batch, "path", None), getattr(batch, "database", None)]
    names += files(source)
    return any(n and n in text for n in names)


__all__ = ["Read", "describe_error", "exact_integer"]

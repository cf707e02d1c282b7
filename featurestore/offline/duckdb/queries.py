"""The SQL of a ``DuckDBSource(query=...)``, made fit to wrap as a sub-query.

:func:`prepare` parses the query with DuckDB's own parser (no file or table is read) and gives:

- the text without trailing semicolons and comments (``SELECT ...; -- daily`` wraps as ``SELECT ...``);
- relative file paths given to table functions (``read_parquet('data/x.parquet')``, ``read_csv([...])``) or
  read directly (``FROM 'data/x.parquet'``) made absolute against the repo folder, whatever the current folder
  (the literals are replaced where the parser found them; the rest of the text is kept as written);
- the tables it reads without a catalog (``FROM trips``, ``FROM main.trips``), CTE names excluded, which tell
  whether it needs its database attached at all (a query of Parquet files only does not take the database's
  lock); those without a schema are qualified with the database's catalog, so queries of several databases
  in one request each read their own.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import duckdb

_lock = threading.Lock()
_NO_LOCATION = 2**64 - 1


@dataclass(frozen=True)
class PreparedQuery:
    """A query ready to wrap: ``sql``, the number of ``statements`` it holds, and the ``tables`` it reads
    without a catalog (None when the parser cannot tell, e.g. for a statement that is not a SELECT)."""

    sql: str
    statements: int
    tables: tuple[str, ...] | None
    error: str | None = None


def strip_tail(query: str) -> str:
    """``query`` without trailing semicolons, comments and white space (strings and comments are tokens)."""
    tokens = duckdb.tokenize(query)
    data = query.encode()
    cut = len(data)
    for start, kind in reversed(tokens):
        if kind == duckdb.token_type.comment or (kind == duckdb.token_type.operator and data[start:start + 1] == b";"):
            cut = start
            continue
        break
    return data[:cut].decode().rstrip()


def _is_relative(path: str) -> bool:
    return not (os.path.isabs(path) or path.startswith("~") or "://" in path or not path)


def _literal_at(data: bytes, at: int) -> tuple[int, str] | None:
    """The quoted literal or identifier starting at byte ``at``: (its end, its text); None if none starts there."""
    if at >= len(data) or data[at:at + 1] not in (b"'", b'"'):
        return None
    quote = data[at:at + 1]
    i, out = at + 1, bytearray()
    while i < len(data):
        if data[i:i + 1] == quote:
            if data[i + 1:i + 2] == quote:  # a doubled quote inside
                out += quote
                i += 2
                continue
            return i + 1, out.decode()
        out += data[i:i + 1]
        i += 1
    return None


def _paths(node: Any, cte_names: set[str], tables: list[tuple[int, str, str]], paths: list[int]) -> None:
    """Collect, from a serialized statement, the byte offsets of path literals and the catalog-less tables
    (offset, schema or "", name)."""
    if isinstance(node, list):
        for item in node:
            _paths(item, cte_names, tables, paths)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "BASE_TABLE":
        name = node.get("table_name", "")
        if "/" in name or "\\" in name or "." in name:  # a file read directly: FROM 'data/x.parquet'
            paths.append(int(node.get("query_location", _NO_LOCATION)))
        elif not node.get("catalog_name") and name not in cte_names:
            tables.append((int(node.get("query_location", _NO_LOCATION)), node.get("schema_name") or "", name))
    if node.get("type") == "TABLE_FUNCTION":
        args = (node.get("function") or {}).get("arguments") or []
        first = args[0].get("expression") if args and not args[0].get("name") else None
        if isinstance(first, dict):
            listed = first.get("function_name") == "list_value"
            items = first.get("arguments", []) if listed else [{"expression": first}]
            for item in items:
                expr = item.get("expression") if isinstance(item, dict) else None
                if isinstance(expr, dict) and expr.get("class") == "CONSTANT" and \
                        (expr.get("literal") or expr.get("value") or {}).get("kind") == "STRING":
                    paths.append(int(expr.get("query_location", _NO_LOCATION)))
    for value in node.values():
        _paths(value, cte_names, tables, paths)


def _cte_names(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, list):
        for item in node:
            _cte_names(item, out)
    elif isinstance(node, dict):
        for entry in (node.get("cte_map") or {}).get("map", []) if isinstance(node.get("cte_map"), dict) else []:
            out.add(entry.get("key", ""))
        for value in node.values():
            _cte_names(value, out)
    return out


def _serialize(sql: str) -> dict[str, Any]:
    with _lock:
        con = _parser()
        text = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    return dict(json.loads(text[0])) if text else {"error": True}


_con: duckdb.DuckDBPyConnection | None = None


def _parser() -> duckdb.DuckDBPyConnection:
    global _con
    if _con is None:
        _con = duckdb.connect()
    return _con


def _names(data: bytes, at: int, name: str) -> bool:
    """Whether the table name ``name`` is written at byte ``at`` (plain or quoted)."""
    plain = name.encode()
    return data[at:at + len(plain)].lower() == plain.lower() or _literal_at(data, at) == (
        at + len(plain) + 2 + plain.count(b'"'), name)


@lru_cache(maxsize=512)
def prepare(query: str, repo: str, catalog: str | None = None) -> PreparedQuery:
    """``query`` ready to wrap, relative paths resolved against the folder ``repo`` and, with ``catalog``, the
    tables it names without a schema qualified with it (see the module docstring)."""
    sql = strip_tail(query)
    statements = sum(1 for start, kind in duckdb.tokenize(sql)
                     if kind == duckdb.token_type.operator and sql.encode()[start:start + 1] == b";") + 1
    if not sql:
        return PreparedQuery(sql, 0, None, "the query is empty")
    if statements > 1:
        return PreparedQuery(sql, statements, None, f"the query holds {statements} statements; give one SELECT")
    tree = _serialize(sql)
    if tree.get("error"):
        return PreparedQuery(sql, 1, None)  # DuckDB says what is wrong when it binds the query
    tables: list[tuple[int, str, str]] = []
    locations: list[int] = []
    _paths(tree.get("statements", []), _cte_names(tree, set()), tables, locations)
    data = sql.encode()
    edits: dict[int, tuple[int, bytes]] = {}  # offset -> (end of the text replaced, the new text)
    for at in locations:
        literal = _literal_at(data, at)
        if literal is not None and _is_relative(literal[1]):
            end, path = literal
            quote = data[at:at + 1].decode()
            edits[at] = (end, (quote + os.path.join(repo, path).replace(quote, quote * 2) + quote).encode())
    for at, schema, name in tables:
        if catalog is not None and not schema and _names(data, at, name):
            edits[at] = (at, f"{catalog}.".encode())  # an insertion
    for at in sorted(edits, reverse=True):  # from the end: earlier offsets stay valid
        end, text = edits[at]
        data = data[:at] + text + data[end:]
    names = (f"{schema}.{name}" if schema else name for _, schema, name in tables)
    return PreparedQuery(data.decode(), 1, tuple(dict.fromkeys(names)))


__all__ = ["PreparedQuery", "prepare", "strip_tail"]

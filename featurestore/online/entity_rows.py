"""The entity rows of an online lookup: as columns of plain Python values, checked against the join keys.

Entity rows come as a list of dicts or a dict of columns (lists, numpy arrays, pandas or polars
Series, Arrow arrays, categorical ones decoded) or a frame. A column of plain Python values of the
right type passes untouched (the fast path); anything else (numpy scalars, say) is converted to
plain values, then checked again. Every missing join key, and every row without a value for one,
is named in one error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from featurestore.errors import InputError
from featurestore.frames import is_frame, pylist, python_value, table_columns, to_arrow

Check = Callable[[Any], bool]
CHECKS: dict[str, Check] = {
    "Int32": lambda v: type(v) is int,
    "Int64": lambda v: type(v) is int,
    "String": lambda v: type(v) is str,
    "Bytes": lambda v: isinstance(v, bytes),
    "Bool": lambda v: type(v) is bool,
    "Float32": lambda v: type(v) is float or type(v) is int,
    "Float64": lambda v: type(v) is float or type(v) is int,
    "Timestamp": lambda v: isinstance(v, datetime),
}
"""Per join key type, whether a value is a plain Python value of it."""
_INT = {"Int32", "Int64"}
_RANGES = {"Int32": (-2**31, 2**31 - 1), "Int64": (-2**63, 2**63 - 1)}
_SHOWN = 5
"""Rows named in an error (then "and N more")."""


class KeyPlan(Protocol):
    """What the checks need of a view's read plan."""

    name: str
    view_name: str
    key_checks: tuple[tuple[str, str, str, Check | None], ...]
    """Per join key: the entity column, the view's join key, its type name, its check."""


def columns(entity_rows: Any) -> tuple[dict[str, list[Any]], int]:
    """Entity rows as ``{key: [values]}`` and the number of rows."""
    if isinstance(entity_rows, dict):
        cols = {k: v if type(v) is list else pylist(v, f"entity_rows column {k!r}") for k, v in entity_rows.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise InputError(f"entity_rows columns have different lengths: { {k: len(v) for k, v in cols.items()} }")
        return cols, lengths.pop() if lengths else 0
    if isinstance(entity_rows, (list, tuple)):
        if not all(isinstance(r, dict) for r in entity_rows):
            bad = next(r for r in entity_rows if not isinstance(r, dict))
            raise InputError(f"entity_rows must be a list of dicts or a dict of lists, got a {type(bad).__name__} "
                             "in the list")
        names: dict[str, None] = {}
        for r in entity_rows:
            names.update(dict.fromkeys(r))
        return {n: [r.get(n) for r in entity_rows] for n in names}, len(entity_rows)
    if is_frame(entity_rows):
        table = to_arrow(entity_rows, "entity_rows")
        return table_columns(table), table.num_rows
    raise InputError("entity_rows must be a list of dicts, a dict of lists (or arrays) or a DataFrame, "
                     f"got {type(entity_rows).__name__}")


def _mapped(key: str, join_key: str, plan: KeyPlan) -> str:
    return f" (mapped to join key {join_key!r} of feature view {plan.view_name!r})" if key != join_key else ""


def _missing_columns(missing: list[tuple[str, str, KeyPlan]]) -> InputError:
    parts = [f"{key!r} of feature view {plan.name!r}{_mapped(key, join_key, plan)}" for key, join_key, plan in missing]
    keys = list(dict.fromkeys(key for key, _, _ in missing))
    what = "join key" if len(parts) == 1 else "join keys"
    return InputError(f"entity_rows is missing {what} {', '.join(parts)}", join_key=keys[0], view=missing[0][2].name,
                      columns=keys)


def _null_rows(plans: tuple[KeyPlan, ...], cols: dict[str, list[Any]]) -> InputError:
    """The error naming every row without a value (or with null) for a join key."""
    per_row: dict[int, dict[str, None]] = {}
    views: dict[str, dict[str, None]] = {}
    for plan in plans:
        for key, _, _, _ in plan.key_checks:
            for i, v in enumerate(cols[key]):
                if v is None or python_value(v) is None:
                    per_row.setdefault(i, {})[key] = None
                    views.setdefault(key, {})[plan.name] = None
    rows = sorted(per_row)
    shown = "; ".join(f"row {i} is missing join key{'s' if len(per_row[i]) > 1 else ''} "
                      f"{', '.join(map(repr, per_row[i]))}" for i in rows[:_SHOWN])
    more = f"; and {len(rows) - _SHOWN} more rows" if len(rows) > _SHOWN else ""
    keys = list(dict.fromkeys(k for i in rows for k in per_row[i]))
    of = "; ".join(f"{k!r} of feature view{'s' if len(views[k]) > 1 else ''} {', '.join(map(repr, views[k]))}"
                   for k in keys)
    return InputError(f"entity_rows {shown}{more} (no value, or null: {of})", join_key=keys[0],
                      view=next(iter(views[keys[0]])), columns=keys, rows=rows)


def _fits(plan: KeyPlan, key: str, type_name: str, check: Check | None, values: list[Any]) -> bool:
    if check is None:
        return None not in values
    if type_name in _INT:
        if all(type(v) is int for v in values):
            _check_range(plan, key, type_name, values)
            return True
        return False
    return all(map(check, values))


def _check_range(plan: KeyPlan, key: str, type_name: str, values: list[int]) -> None:
    low, high = _RANGES[type_name]
    if values and (min(values) < low or max(values) > high):
        row, bad = next((i, v) for i, v in enumerate(values) if not low <= v <= high)
        raise InputError(f"join key {key!r} must be {type_name}, got {bad} in entity row {row} (outside the "
                         f"{type_name} range {low} to {high})", join_key=key, view=plan.name)


def check(plans: tuple[KeyPlan, ...], cols: dict[str, list[Any]], n: int) -> dict[str, list[Any]]:
    """``cols`` with every join key present and of its type (numpy and other values converted to plain
    Python ones); an InputError naming every missing key, or every row without a value for one.

    With no entity rows (``n == 0``) missing keys are empty columns: the answer is empty.
    """
    out = cols
    for plan in plans:
        for key, _, type_name, fits in plan.key_checks:
            values = out.get(key)
            if values is None:  # every missing key in one error; none needed without rows
                if n:
                    raise _missing_columns([(k, j, p) for p in plans for k, j, _, _ in p.key_checks if k not in cols])
                if out is cols:
                    out = dict(cols)
                values = out[key] = []
            if _fits(plan, key, type_name, fits, values):
                continue
            plain = [python_value(v) for v in values]
            if None in plain:
                raise _null_rows(plans, out)
            if not _fits(plan, key, type_name, fits, plain):
                assert fits is not None  # None only fails on a null
                row, bad = next((i, v) for i, v in enumerate(plain) if not fits(v))
                raise InputError(f"join key {key!r} must be {type_name}, got {bad!r} in entity row {row}",
                                 join_key=key, view=plan.name)
            if out is cols:
                out = dict(cols)
            out[key] = plain
    return out

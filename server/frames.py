"""The ``df`` of ``/push`` and ``/write-to-online-store`` (JSON ``{column: [values]}``) as an Arrow table.

JSON has no timestamps, bytes or non-finite floats, so columns are converted using the feature
view (or push source) definitions: event / created timestamp columns and Timestamp features from
ISO 8601 strings (naive = UTC), Bytes from base64, floats from ``"NaN"``, ``"Infinity"``,
``"-Infinity"`` (as the lookup answers write them). Other columns are inferred by Arrow and cast
to the declared types by the library, which validates the whole batch before writing anything.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from featurestore import AggregateView, FeatureView, InputError, PushSource

from .lookup import parse_time

_FLOATS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_UTC_US = pa.timestamp("us", tz="UTC")


def _time(v: Any) -> datetime:
    if isinstance(v, str):
        return parse_time(v)
    raise ValueError


def _bytes(v: Any) -> bytes:
    if isinstance(v, str):
        return base64.b64decode(v, validate=True)
    raise ValueError


def _float(v: Any) -> Any:
    if isinstance(v, str):
        return _FLOATS[v]
    return v


_KINDS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "time": (_time, "an ISO 8601 timestamp string"),
    "bytes": (_bytes, "base64 bytes"),
    "float": (_float, "a number (or 'NaN', 'Infinity', '-Infinity')"),
}


def _kind(type_name: str) -> str | None:
    base = type_name[6:-1] if type_name.startswith("Array(") else type_name
    return {"Timestamp": "time", "Bytes": "bytes", "Float32": "float", "Float64": "float"}.get(base)


def column_kinds(views: Iterable[FeatureView | AggregateView], source_names: bool) -> dict[str, tuple[str, bool]]:
    """``{column: (kind, is_array)}`` for the columns needing conversion.

    ``source_names``: columns are named like the batch source (push) rather than like the view.
    """
    kinds: dict[str, tuple[str, bool]] = {}
    for view in views:
        batch = view.source.batch_source if isinstance(view.source, PushSource) else view.source
        reverse = {name: col for col, name in batch.field_mapping.items()} if source_names else {}
        for col in (batch.timestamp_field, batch.created_timestamp_field, "event_timestamp"):
            if col:
                kinds[col] = ("time", False)
        for f in view.schema:
            kind = _kind(f.dtype.name)
            if kind is not None:
                kinds[reverse.get(f.name, f.name)] = (kind, f.dtype.name.startswith("Array("))
    return kinds


def _column(name: str, values: list[Any], kind: str, is_array: bool) -> Any:
    convert, what = _KINDS[kind]

    def one(v: Any) -> Any:
        try:
            return convert(v)
        except (ValueError, TypeError, KeyError, binascii.Error):
            raise InputError(f"df column {name!r} must hold {what}{' lists' if is_array else ''}, got {v!r}",
                             column=name) from None

    if is_array:
        bad = next((v for v in values if v is not None and not isinstance(v, list)), None)
        if bad is not None:
            raise InputError(f"df column {name!r} must hold lists, got {bad!r}", column=name)
        values = [v if v is None else [x if x is None else one(x) for x in v] for v in values]
    else:
        values = [v if v is None else one(v) for v in values]
    if kind == "time" and not is_array:
        return pa.array(values, _UTC_US)
    return values


def to_table(df: dict[str, list[Any]], kinds: dict[str, tuple[str, bool]]) -> pa.Table:
    """The converted table (400 naming the column when a value does not fit)."""
    columns: dict[str, Any] = {}
    for name, values in df.items():
        spec = kinds.get(name)
        columns[name] = _column(name, values, *spec) if spec else values
    try:
        return pa.table(columns)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as err:
        raise InputError(f"df cannot be read as a table: {err}") from None


def push_views(state: Any, push_source_name: str) -> list[FeatureView | AggregateView]:
    """The views (feature views and aggregate views) fed by a push source."""
    return [v for v in [*state.feature_views(), *state.aggregate_views()]
            if isinstance(v.source, PushSource) and v.source.name == push_source_name]

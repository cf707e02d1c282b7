"""Online answers as bytes: Feast's JSON, and the native row form as JSON, MessagePack or Arrow IPC.

JSON follows the protobuf JSON mapping Feast's answers come from: event times are RFC 3339 in
UTC with a ``Z`` (``"2026-01-01T10:00:00Z"``, microseconds when not zero), bytes are base64,
float NaN / +inf / -inf are the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (plain JSON has
no such numbers). Join keys come back as sent. MessagePack keeps floats, bytes and times native
(times as the MessagePack timestamp extension).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import msgpack
import numpy as np
import orjson
import pyarrow as pa

from featurestore import utc

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
_TIMES_OPTIONS = JSON_OPTIONS | orjson.OPT_SERIALIZE_NUMPY
_US = np.dtype("datetime64[us]")
_FIRST_US = utc.epoch_us(datetime(1, 1, 1, tzinfo=UTC))
_LAST_US = utc.epoch_us(datetime(9999, 12, 30, tzinfo=UTC))  # orjson writes datetime64 values up to here
"""orjson formats datetime64 values up to 9999-12-30T22:00 only; later times take the datetime road."""
PRESENT = "PRESENT"
NOT_FOUND = "NOT_FOUND"
OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"

Convert = Callable[[list[Any]], list[Any]]


class ViewAnswer(Protocol):
    """What one view answered (``featurestore.ViewResult``)."""

    name: str
    out_names: tuple[str, ...]
    statuses: list[str]
    event_times_us: list[int | None]
    feature_statuses: dict[str, list[str]] | None

    @property
    def event_timestamps(self) -> list[datetime | None]: ...


class OnlineAnswer(Protocol):
    """What ``FeatureStore.get_online_features`` returns (``OnlineResponse``)."""

    keys: dict[str, list[Any]]
    features: dict[str, list[Any]]
    types: dict[str, pa.DataType]

    @property
    def views(self) -> Sequence[ViewAnswer]: ...

    def to_arrow(self) -> pa.Table: ...


def _nonfinite(v: float) -> str:
    return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")


def _floats(values: list[Any]) -> list[Any]:
    try:  # one C loop: the sum of finite floats is finite unless it overflows (then the loop below decides)
        if math.isfinite(sum(values)):
            return values
    except TypeError:  # None among the values
        pass
    isfinite = math.isfinite
    for v in values:
        if v is not None and not isfinite(v):
            return [v if v is None or isfinite(v) else _nonfinite(v) for v in values]
    return values


def _b64(values: list[Any]) -> list[Any]:
    return [base64.b64encode(v).decode() if isinstance(v, (bytes, bytearray)) else v for v in values]


def _each(inner: Convert) -> Convert:
    return lambda values: [v if v is None else inner(v) for v in values]


def _same(values: list[Any]) -> list[Any]:
    return values


def _converter_for(dtype: pa.DataType | None) -> Convert:
    if dtype is None:
        return _same
    if pa.types.is_floating(dtype):
        return _floats
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return _b64
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        inner = _converter_for(dtype.value_type)
        return _same if inner is _same else _each(inner)
    return _same


_CONVERTERS: dict[pa.DataType, Convert] = {}


def json_values(values: list[Any], dtype: pa.DataType | None) -> list[Any]:
    """Feature values as JSON-ready values (non-finite floats and bytes converted; times left to orjson)."""
    conv = _CONVERTERS.get(dtype) if dtype is not None else _same
    if conv is None:
        conv = _CONVERTERS[dtype] = _converter_for(dtype)
    return conv(values)


def event_times_json(times_us: list[int | None]) -> bytes:
    """Event times (UTC epoch microseconds, None for none) as a JSON list of RFC 3339 strings.

    Formatted by orjson from one ``datetime64[us]`` array, exactly as it formats the ``datetime`` of
    each value (``"2026-01-02T03:04:05.123456Z"``, no fraction when it is zero), without building
    those datetimes; None is the epoch (``"1970-01-01T00:00:00Z"``), as Feast answers.
    """
    times: list[int] = [0 if t is None else t for t in times_us] if None in times_us else times_us  # type: ignore[assignment]
    if times and (min(times) < _FIRST_US or max(times) > _LAST_US):
        return orjson.dumps([utc.from_epoch_us(t) for t in times], option=JSON_OPTIONS)
    return orjson.dumps(np.array(times, np.int64).view(_US), option=_TIMES_OPTIONS)


@lru_cache(maxsize=64)
def _repeated(item: bytes, n: int) -> orjson.Fragment:
    """``[item, item, ...]`` (n times) as ready-made JSON."""
    return orjson.Fragment(b"[" + b",".join([item] * n) + b"]")


def feast_json(answer: OnlineAnswer, keys: dict[str, list[Any]]) -> bytes:
    """Feast's ``GetOnlineFeaturesResponse`` JSON: one result per name, join keys first.

    ``keys`` are the join key columns as the client sent them. Join keys have status PRESENT and
    event time 1970-01-01T00:00:00Z, like Feast; so do missing features (NOT_FOUND, value null).
    The features of a view share their statuses and times: those are serialized once per view.
    """
    n = len(next(iter(keys.values()))) if keys else 0
    present = _repeated(b'"PRESENT"', n)
    epoch = _repeated(b'"1970-01-01T00:00:00Z"', n)
    results: list[dict[str, Any]] = [{"values": keys.get(k, answer.keys[k]), "statuses": present,
                                      "event_timestamps": epoch} for k in answer.keys]  # .get: no entity rows
    types, features = answer.types, answer.features
    for view in answer.views:  # the features of a view share statuses and times: serialized once
        status_json = orjson.Fragment(orjson.dumps(view.statuses))
        stamp_json = orjson.Fragment(event_times_json(view.event_times_us))
        own = view.feature_statuses or {}  # features some stored rows lack (added or retyped since)
        for name in view.out_names:
            results.append({"values": json_values(features[name], types.get(name)),
                            "statuses": own.get(name, status_json), "event_timestamps": stamp_json})
    return orjson.dumps({"metadata": {"feature_names": [*answer.keys, *features]}, "results": results},
                        option=JSON_OPTIONS)


def native(answer: OnlineAnswer, keys: dict[str, list[Any]], orient: str, event_timestamps: bool,
           for_json: bool) -> dict[str, Any]:
    """The native answer: ``rows`` (one object per entity row) or ``columns`` (one list per name), and
    ``statuses`` (and ``event_timestamps``) per view, one per entity row; ``feature_statuses`` (only when
    some are) per output name whose statuses differ from its view's: stored rows written before the
    feature was added or retyped (``NOT_FOUND`` there).
    """
    types = answer.types
    columns = {k: keys.get(k, answer.keys[k]) for k in answer.keys}  # .get: no entity rows
    for name, values in answer.features.items():
        columns[name] = json_values(values, types.get(name)) if for_json else values
    names = list(columns)
    out: dict[str, Any] = {"feature_names": names}
    if orient == "columns":
        out["columns"] = columns
    else:
        out["rows"] = [dict(zip(names, r)) for r in zip(*columns.values())]  # noqa: B905 (equal lengths; strict costs a third)
    out["statuses"] = {view.name: view.statuses for view in answer.views}
    own = {name: s for view in answer.views if view.feature_statuses for name, s in view.feature_statuses.items()}
    if own:
        out["feature_statuses"] = own
    if event_timestamps:
        out["event_timestamps"] = {view.name: view.event_timestamps for view in answer.views}
    return out


def to_json(data: Any) -> bytes:
    return orjson.dumps(data, option=JSON_OPTIONS)


def to_msgpack(data: Any) -> bytes:
    return msgpack.packb(data, datetime=True, use_bin_type=True)  # type: ignore[no-any-return]


def to_arrow_ipc(answer: OnlineAnswer, event_timestamps: bool) -> bytes:
    """An Arrow IPC stream: join keys and features, then ``status:<view>`` (and ``event_timestamp:<view>``)."""
    table = answer.to_arrow()
    for view in answer.views:
        table = table.append_column(f"status:{view.name}", pa.array(view.statuses, pa.string()))
        for name, own in (view.feature_statuses or {}).items():  # features some stored rows lack
            table = table.append_column(f"status:{view.name}:{name}", pa.array(own, pa.string()))
        if event_timestamps:
            table = table.append_column(f"event_timestamp:{view.name}",
                                        pa.array(view.event_timestamps, pa.timestamp("us", tz="UTC")))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]

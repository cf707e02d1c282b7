"""The bytes of an aggregate view online: one STATE per entity (written by materialize) and pushed RECORDS.

A state, computed at snapshot ``S`` for the serving horizon ``H`` (valid for ``S <= now <= S + H``), is one
MessagePack array::

    [VERSION, fingerprint, S, H, newest, collapsed, t, ties, tail]

- ``fingerprint``: of the view definition (inputs with their types, outputs, resolution); a state of another
  definition reads as ``OUTSIDE_MAX_AGE`` (materialize again);
- ``newest``: the entity's newest event time before ``S`` (None: none);
- ``collapsed``: per output, its IR (the components of :mod:`featurestore.definitions.agg_ir`, a list) over the
  events with ``lo_w(S + H) <= ts < S`` (lifetime: ``ts < S``), which stay in the window for every ``now`` of
  the horizon; None when no event counts;
- ``t``: the sorted times of the TAIL entries: the events with ``ts >= S``, and the events before ``S`` that some
  window needs beyond its collapsed part (``lo_w(S) <= ts < lo_w(S + H)``);
- without a resolution the tail holds these events raw, sorted by (time, created, ordinal), in binary columns:
  ``t`` is their times (a little-endian int64 array), ``ties`` is empty (a batch event ties with a pushed record
  only on time, and then ranks below it: its created time is before ``S``) and ``tail`` holds per input
  ``[kind, values, validity]``: kind :data:`INT_VALUES` or :data:`FLOAT_VALUES` with an int64 / float64 array (0
  where the event does not count), :data:`ONES` (a count of rows: no values) or :data:`LIST_VALUES` (a list, None
  where the event does not count); validity: a uint8 array (1: the event counts), None when every event counts
  (always None for lists). First/last outputs have no collapsed IR then: the events at the extreme time of their
  collapsed range are in the tail;
- with a resolution ``r`` the events before ``S`` are grouped per ``floor(ts / r) * r`` and those after per
  exact time; ``ties`` is empty and ``tail`` holds, per input, per component of that input
  (:func:`~featurestore.definitions.agg_ir.input_components`), a list aligned with ``t``.

A record (one pushed row) is ``[records fingerprint, ts, created, ordinal, input values...]`` with the ordinal
``2**62 + its index within its push`` (pushed rows rank above batch rows, as offline). Integers beyond 64 bits
(sums) travel as an extension type; timestamps as the MessagePack timestamp extension (aware UTC datetimes).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import msgpack

from featurestore.definitions.agg_ir import input_components
from featurestore.definitions.aggregate_view import AggregateView
from featurestore.errors import InputError, OnlineStoreError
from featurestore.utc import to_utc

VERSION = 1
INT_VALUES, FLOAT_VALUES, LIST_VALUES, ONES = 0, 1, 2, 3
"""The kinds of a raw tail's input columns (see the module docstring)."""
PUSHED_ORD = 1 << 62
"""The ordinal of a pushed record: ``PUSHED_ORD + its index within its push``."""
_BIG_INT = 1  # MessagePack extension code of an integer beyond 64 bits (decimal text)


def _default(obj: Any) -> Any:
    if isinstance(obj, int):  # beyond 64 bits (sums of integers before the final check)
        return msgpack.ExtType(_BIG_INT, str(obj).encode())
    if isinstance(obj, datetime):
        return to_utc(obj)
    if isinstance(obj, date):
        return datetime(obj.year, obj.month, obj.day, tzinfo=UTC)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays
    if tolist is not None:
        return tolist()
    raise TypeError(f"cannot store a value of type {type(obj).__name__}: {obj!r}")


def _ext(code: int, data: bytes) -> Any:
    if code == _BIG_INT:
        return int(data)
    return msgpack.ExtType(code, data)


def packer() -> msgpack.Packer:
    """A MessagePack packer for states and records (not thread-safe: one per call)."""
    return msgpack.Packer(datetime=True, default=_default)


def unpack(blob: bytes) -> Any:
    """Decode a state or a record (timestamps as aware UTC datetimes)."""
    return msgpack.unpackb(blob, timestamp=3, ext_hook=_ext, strict_map_key=False)


def _definition(view: AggregateView) -> list[Any]:
    return [(inp.column, inp.where, view.column_type(inp.column).name if inp.column is not None else None)
            for inp in view.inputs]


def records_fingerprint(view: AggregateView) -> int:
    """CRC32 of the view's inputs (column, where, type): records of other inputs are not read."""
    return zlib.crc32(repr(("records", _definition(view))).encode())


def fingerprint(view: AggregateView) -> int:
    """CRC32 of what a state's layout depends on: inputs with types, outputs, resolution."""
    outs = [(o.name, o.function, o.input, o.window_us, o.dtype.name) for o in view.outputs]
    return zlib.crc32(repr(("state", VERSION, _definition(view), outs, view.resolution_us)).encode())


def pack_states(view: AggregateView, rows: Sequence[list[Any]]) -> list[bytes]:
    """The bytes of states given as their lists (``[VERSION, fingerprint, S, H, newest, collapsed, t, ties, tail]``,
    see the module docstring)."""
    pack = packer().pack
    try:
        return [pack(row) for row in rows]
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"aggregate view {view.name!r}: cannot store an aggregate state: {exc}",
                         view=view.name) from None


def encode_records(view: AggregateView, event_us: list[int], created_us: list[int],
                   inputs: list[tuple[Any, ...]]) -> list[bytes]:
    """The record bytes of pushed rows: ``inputs`` holds each row's ``__fs_in{i}`` values (see agg_inputs.py),
    the row's ordinal is ``2**62 + its index`` (rows of one push, in order)."""
    n = len(view.inputs)
    if not len(event_us) == len(created_us) == len(inputs):
        raise InputError(f"aggregate view {view.name!r}: event_us, created_us and inputs must have the same length, "
                         f"got {len(event_us)}, {len(created_us)}, {len(inputs)}", view=view.name)
    fp = records_fingerprint(view)
    pack = packer().pack
    out = []
    try:
        for i, (ts, cr, values) in enumerate(zip(event_us, created_us, inputs, strict=True)):
            if len(values) != n:
                raise InputError(f"aggregate view {view.name!r} has {n} inputs, got a row of {len(values)} values: "
                                 f"{values!r}", view=view.name)
            out.append(pack([fp, ts, cr, PUSHED_ORD + i, *values]))
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"aggregate view {view.name!r}: cannot store a pushed row: {exc}", view=view.name) from None
    return out


class DecodedState:
    """A state's fields (see the module docstring)."""

    __slots__ = ("collapsed", "fingerprint", "horizon_us", "newest_us", "snapshot_us", "t", "tail", "ties")

    def __init__(self, row: list[Any]) -> None:
        (_, self.fingerprint, self.snapshot_us, self.horizon_us, self.newest_us, self.collapsed, self.t,
         self.ties, self.tail) = row


def decode_state(view_name: str, blob: bytes) -> DecodedState | None:
    """The state of ``blob``; None when written by another version of the format (read as out of date)."""
    try:
        row = unpack(blob)
        if not isinstance(row, list) or len(row) != 9 or row[0] != VERSION:
            return None
        return DecodedState(row)
    except Exception as exc:  # a corrupt state must not leak a msgpack error
        raise OnlineStoreError(f"aggregate view {view_name!r}: undecodable aggregate state: {exc}",
                               view=view_name) from None


def decode_record(view_name: str, blob: bytes) -> list[Any]:
    """``[fingerprint, ts, created, ordinal, input values...]`` of one record."""
    try:
        row = unpack(blob)
        if not isinstance(row, list) or len(row) < 4:
            raise ValueError("not a record")
        return row
    except Exception as exc:
        raise OnlineStoreError(f"aggregate view {view_name!r}: undecodable pushed record: {exc}",
                               view=view_name) from None


__all__ = ["PUSHED_ORD", "DecodedState", "decode_record", "decode_state", "encode_records", "fingerprint",
           "input_components", "pack_states", "records_fingerprint"]

"""Encoding of one stored row (times + feature values) as bytes, shared by every online store.

A row is stored as one MessagePack array ``[event_us, created_us, schema, v1, ..., vn]``
whose first bytes have a FIXED layout, so that a Redis Lua script can read the times
without a MessagePack parser::

    offset  0   0xdd + uint32 BE      array32 header (n + 3 elements)
    offset  5   0xd3 + int64 BE       event_us
    offset 14   0xd3 + int64 BE       created_us
    offset 23   0xce + uint32 BE      schema fingerprint (CRC32 of keys, features and their types)
    offset 28   v1 ... vn             the feature values, plain MessagePack

MessagePack readers accept these non-minimal forms, so a row decodes with ONE C call
(``msgpack.unpackb``). Timestamps use the MessagePack timestamp extension (-1) and come
back as tz-aware UTC datetimes (naive ones are taken as UTC); floats are float64 (exact
for Float32 values too), bytes use the bin type, arrays come back as lists, None is nil.
A row whose schema fingerprint differs from the view's (the view changed since it was
written) reads as missing rather than as misaligned values, unless the fingerprint is that of
one of the view's earlier layouts (``ViewSpec.previous``, same join keys): such a row is remapped
to the current features, and decodes as ``(event_us, values, missing)`` where ``missing`` holds the
positions of the features it does not have (added or retyped since; their values are None).
Rows of the current layout never pay for the remap.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import msgpack

from featurestore.errors import InputError
from featurestore.online.protocol import ViewSpec
from featurestore.utc import to_utc

HEADER = struct.Struct(">BIBqBqBI")
"""The fixed 28-byte row header: array32 tag + size, int64 event, int64 created, uint32 schema."""
EVENT_OFFSET = 6  # 0-based offset of event_us; created_us follows 9 bytes later
_unpackb = msgpack.unpackb

Encoder = Callable[[Sequence[int], Sequence[int], Sequence[int], Sequence[Sequence[Any]]], list[bytes]]
Decoder = Callable[[bytes], "tuple[int, tuple[Any, ...]] | None"]


def fingerprint(view: ViewSpec) -> int:
    """A CRC32 of the view's key and feature names and types: rows written under another schema mismatch."""
    return _fingerprint(view, view.features, [t.name for t in view.feature_types])


def _fingerprint(view: ViewSpec, features: tuple[str, ...], type_names: list[str]) -> int:
    text = repr((view.join_keys, [t.name for t in view.key_types], features, type_names))
    return zlib.crc32(text.encode())


Remap = tuple[tuple[int | None, ...], tuple[int, ...]]
"""Per current feature its position in an old row (None: not there), and the positions not there."""


def remaps(view: ViewSpec) -> dict[int, Remap]:
    """Per fingerprint of an earlier layout of ``view``: how its rows map onto the current features.

    A feature is taken from an old row when the row's layout has it with the same type.
    """
    current = fingerprint(view)
    out: dict[int, Remap] = {}
    for features, type_names in view.previous:
        fp = _fingerprint(view, tuple(features), list(type_names))
        if fp == current or fp in out:
            continue
        old = {name: (i, t) for i, (name, t) in enumerate(zip(features, type_names, strict=True))}
        index = tuple(old[f][0] if f in old and old[f][1] == t.name else None
                      for f, t in zip(view.features, view.feature_types, strict=True))
        out[fp] = (index, tuple(p for p, j in enumerate(index) if j is None))
    return out


def _default(obj: Any) -> Any:
    """MessagePack fallback: naive datetimes are UTC, dates are midnight UTC, numpy values become python."""
    if isinstance(obj, datetime):
        return to_utc(obj)
    if isinstance(obj, date):
        return datetime(obj.year, obj.month, obj.day, tzinfo=UTC)
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays
    if tolist is not None:
        return tolist()
    raise TypeError(f"cannot store a value of type {type(obj).__name__}: {obj!r}")


def row_encoder(view: ViewSpec) -> Encoder:
    """A function ``(rows, event_us, created_us, values) -> [bytes]`` encoding the rows at indices ``rows``.

    Raises :class:`InputError` for a row of the wrong length or a value that cannot be stored.
    Not thread-safe (it holds a MessagePack packer): make one per write call.
    """
    n = len(view.features)
    head = HEADER.pack
    skip = 1 if n < 16 else 3 if n < 65536 else 5  # the msgpack array header written by pack()
    pack = msgpack.Packer(datetime=True, default=_default).pack
    fp = fingerprint(view)

    def encode(rows: Sequence[int], event_us: Sequence[int], created_us: Sequence[int],
               values: Sequence[Sequence[Any]]) -> list[bytes]:
        try:
            if set(map(len, map(values.__getitem__, rows))) - {n}:
                bad = next(values[i] for i in rows if len(values[i]) != n)
                raise InputError(f"feature view {view.name!r} has {n} features, got a row of {len(bad)} "
                                 f"values: {bad!r}", view=view.name)
            return [head(0xDD, n + 3, 0xD3, event_us[i], 0xD3, created_us[i], 0xCE, fp)
                    + pack(values[i])[skip:] for i in rows]
        except (TypeError, ValueError, OverflowError, struct.error) as exc:
            raise InputError(f"cannot store a row of feature view {view.name!r}: {exc}",
                             view=view.name) from None

    return encode


@lru_cache(maxsize=1024)
def row_decoder(view: ViewSpec) -> Decoder:
    """A function ``bytes -> (event_us, values) | None`` (None when written under another schema).

    A row of an earlier layout (``view.previous``) missing some features decodes as ``(event_us, values,
    missing positions)``.
    """
    fp = fingerprint(view)
    old = remaps(view)

    def decode(blob: bytes) -> Any:
        row = _unpackb(blob, timestamp=3)
        if row[2] != fp:
            remap = old.get(row[2])
            if remap is None:
                return None
            index, missing = remap
            values = tuple(None if j is None else row[3 + j] for j in index)
            return (row[0], values, missing) if missing else (row[0], values)
        return row[0], tuple(row[3:])

    return decode


def decode_times(blob: bytes) -> tuple[int, int]:
    """``(event_us, created_us)`` of an encoded row, without decoding its values."""
    _, _, _, event_us, _, created_us, _, _ = HEADER.unpack_from(blob)
    return event_us, created_us


def check_write(view: ViewSpec, keys: Sequence[Any], event_us: Sequence[int], created_us: Sequence[int],
                values: Sequence[Any]) -> None:
    """Raise :class:`InputError` unless the four write columns have the same length."""
    n = len(keys)
    if not len(event_us) == len(created_us) == len(values) == n:
        raise InputError(
            f"write to feature view {view.name!r}: keys, event_us, created_us and values must have the same "
            f"length, got {n}, {len(event_us)}, {len(created_us)}, {len(values)}", view=view.name)


def latest_rows(keys: Sequence[Any], event_us: Sequence[int], created_us: Sequence[int]) -> Sequence[int]:
    """Indices of the rows to store: for a key present several times, only its newest row.

    Newest is the greatest ``(event_us, created_us)``; on a tie the later row wins.
    """
    try:
        if len(set(keys)) == len(keys):  # the common case, in a third of the memory of a dict of indices
            return range(len(keys))
    except TypeError as exc:
        raise InputError(f"entity keys must be tuples of hashable values: {exc}") from None
    best: dict[Any, int] = {}
    for i, k in enumerate(keys):
        j = best.get(k)
        if j is None or (event_us[i], created_us[i]) >= (event_us[j], created_us[j]):
            best[k] = i
    return sorted(best.values())

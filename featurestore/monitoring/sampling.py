"""Which entities a feature service logs: a stable hash of the entity key against the sample rate.

An entity row is logged when ``hash(key) / 2**64 < sample_rate``, the key being the values of the request's
entity columns (join keys, in the order the service's views name them). The hash is BLAKE2b (8 bytes) of a
canonical encoding of the values, never Python's salted ``hash()``: the same entity is sampled, or not, in
every process and on every lookup, so the log holds every lookup of a sampled entity. Canonical values: an
integer (or an integral float) as its decimal digits, another float as its ``repr``, a string as its UTF-8
bytes, bytes as they are, a datetime as UTC epoch microseconds, a bool as ``True``/``False``; each part is
prefixed by a type tag and its length, so no two keys encode alike.

>>> key_fraction((1001,)) == key_fraction((1001.0,))
True
>>> sampled_rows([[1, 2, 3, 4, 5, 6, 7, 8]], 1.0)  # everything: no hashing at all
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from featurestore.utc import epoch_us

_SCALE = float(2**64)


def _part(value: Any) -> bytes:
    if value is None:
        return b"n0:"
    if isinstance(value, bool):
        data, tag = (b"True" if value else b"False"), b"b"
    elif isinstance(value, int):
        data, tag = str(value).encode(), b"i"
    elif isinstance(value, float):
        if value.is_integer() and abs(value) < 2**63:
            data, tag = str(int(value)).encode(), b"i"
        else:
            data, tag = repr(value).encode(), b"f"
    elif isinstance(value, str):
        data, tag = value.encode(), b"s"
    elif isinstance(value, bytes | bytearray | memoryview):
        data, tag = bytes(value), b"x"
    elif isinstance(value, datetime):
        data, tag = str(epoch_us(value)).encode(), b"t"
    else:
        data, tag = repr(value).encode(), b"r"
    return tag + str(len(data)).encode() + b":" + data


def key_fraction(key: tuple[Any, ...]) -> float:
    """The entity key's place in ``[0, 1)``: the same in every process (an entity is logged when it is below
    the sample rate)."""
    digest = hashlib.blake2b(b"".join(map(_part, key)), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def sampled_rows(key_columns: list[list[Any]], rate: float) -> list[int] | None:
    """The positions of the entity rows to log (None: every row, the rate being 1).

    ``key_columns``: the values of each entity column, one list per column, rows aligned. A request without
    entity columns (views without entities) is logged whole at any rate: the key is empty.
    """
    if rate >= 1.0:
        return None
    if not key_columns:
        return None if key_fraction(()) < rate else []
    if len(key_columns) == 1:
        return [i for i, v in enumerate(key_columns[0]) if key_fraction((v,)) < rate]
    return [i for i, key in enumerate(zip(*key_columns, strict=True)) if key_fraction(key) < rate]

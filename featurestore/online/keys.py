"""Redis key layout: the only place online store keys are built.

Layout
------
One Redis string per entity per feature view, the entity part in braces (a Redis Cluster hash tag)::

    fs:<project>:<view>:{<key1>=<value1>,<key2>=<value2>}

e.g. ``fs:demo:driver_stats:{driver_id=1001}`` or ``fs:demo:trips:{city=Zürich,vendor=a%2Cb}``. Redis Cluster
hashes only the text between the first ``{`` and the next ``}``: every view of one entity lands in one slot (a
lookup of one entity is one ``MGET`` on one node, a write of an entity one script call), while entities spread
over all slots. Standalone Redis uses the same keys (one key builder for both). This is key layout
:data:`LAYOUT_VERSION` (2); layout 1 had no braces (``fs:demo:driver_stats:driver_id=1001``). The layout a
project's keys follow is recorded in the key ``fs:<project>:__layout`` (:func:`layout_key`); a store holding
layout-1 rows refuses to read or write them (:class:`~featurestore.errors.OnlineStoreError` naming the
migration: ``featurestore teardown`` then re-materialize), never answering NOT_FOUND for rows it cannot see.
The value is one encoded row (see ``featurestore/online/codec.py``): a 28-byte header holding
``event_us`` and ``created_us`` followed by the MessagePack-encoded feature values. A read of
any number of views and entities is ONE ``MGET``; a write is one Lua script call (``EVALSHA``)
per batch of keys, which keeps a stored row unless the new row's ``(event_us, created_us)`` is
``>=`` it and sets ``PX <ttl>`` when the view has a ttl. ``redis-cli --scan --pattern 'fs:demo:*'``
lists a project's keys; ``fs:demo:driver_stats:*`` one view's. Project and view names are
letters, digits and ``_``, so the ``:`` after them keeps project ``a`` from matching ``ab`` and
view ``x`` from matching ``xy``.

An aggregate view (``ViewSpec.aggregate``) keeps two strings per entity::

    fs:<project>:<view>:{<key1>=<value1>,...}        the state: [int64 BE snapshot_us][state bytes]
    fs:<project>:<view>:@r:{<key1>=<value1>,...}     the records: frames [int64 BE created_us][uint32 BE len][record]

(built by :func:`records_prefix`; a view without entities has ``fs:<project>:<view>:{@}`` and
``fs:<project>:<view>:@r:{@}``: the tag ``@`` is no entity's text, which always holds ``=``, and keeps both keys, and
every view without entities, in one slot). No join key name starts with ``@``, so a records key never is the state key
of another entity, and the view prefix ``fs:<project>:<view>:*`` covers both. Records are appended with
``APPEND`` and trimmed (frames created before the new snapshot dropped) by the Lua script that stores a
state (``featurestore/online/agg_frames.py``); a lookup reads both keys of every entity in the one ``MGET``.

Per project, one hash holds the data timestamps (``featurestore/online/freshness.py``)::

    fs:<project>:__fresh                            field <view> -> newest event time written (epoch µs, decimal)

(built by :func:`fresh_key`; ``redis-cli HGETALL fs:demo:__fresh``). It has no ``:`` after ``__fresh``, so it is
never a key of a view named ``__fresh``; ``teardown`` removes it with the project's keys, ``delete_view`` its field.

Join key values are written in a canonical text form per key type:

* Int32 / Int64: decimal (``-42``); Bool: ``true`` / ``false``; Timestamp: integer microseconds
  since the epoch (UTC); Float32 / Float64: Python ``repr`` (``1.5``, ``-0.0`` is written ``0.0``).
* Bytes: ``0x`` + lowercase hex (``0x`` for ``b""``).
* String: the string itself (UTF-8), except that ``%``, ``,``, ``=`` and the control characters
  U+0000-U+001F and U+007F are percent-encoded as ``%XX`` (``a,b`` -> ``a%2Cb``, ``100%`` ->
  ``100%25``); in Redis keys ``{`` and ``}`` too (``%7B``, ``%7D``: a brace in a value would end the hash tag
  early). The empty string is written as nothing (``name=``). SQLite and the memory store keep the entity
  text without braces and without escaping braces (their layout is unchanged).

Escaped values never contain ``,`` or ``=``, and the key names and their order are fixed by the
view, so a key string maps back to exactly one entity.

Why strings and not a hash per entity: ``bench/online_layout.py`` (private redis-server 7.0 on
loopback, 10 features per entity incl. a timestamp, 200k rows per write, on a busy 2-core box)
measured, one string per entity vs one hash per entity (one field per feature):

=====================  ====================  ====================  ==================  ==================
layout                 read 1 entity p50     read 100 p50          write, new keys     overwrite
=====================  ====================  ====================  ==================  ==================
string + one MGET      0.09 ms               0.33 ms               276k rows/s         320k rows/s
hash + HMGET pipeline  0.12 ms               2.13 ms               51k rows/s          59k rows/s
=====================  ====================  ====================  ==================  ==================

A string read is one MGET and one C-level MessagePack decode per entity; a hash read needs one
HMGET per entity and one decode per feature, and a hash write ten times as many arguments.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from featurestore.errors import InputError
from featurestore.online.protocol import ViewSpec
from featurestore.types import ValueType
from featurestore.utc import epoch_us

PREFIX = "fs"
LAYOUT_VERSION = 2
"""The Redis key layout this version writes and reads (1: no hash tag)."""
RECORDS = "@r:"
"""What follows the view prefix in the records key of an aggregate view's entity."""
_NAME = re.compile(r"[A-Za-z0-9_]+")
_ESCAPE = {c: f"%{c:02X}" for c in [*range(0x20), 0x7F, ord("%"), ord(","), ord("=")]}
_NEEDS_ESCAPE = re.compile(r"[\x00-\x1f\x7f%,=]")
_ESCAPE_TAGGED = {**_ESCAPE, ord("{"): "%7B", ord("}"): "%7D"}
_NEEDS_ESCAPE_TAGGED = re.compile(r"[\x00-\x1f\x7f%,={}]")
_GLOB = re.compile(r"([*?\[\]\\])")

KeyBuilder = Callable[[Sequence[Any]], str]
KeysBuilder = Callable[[Sequence[Sequence[Any]]], list[str]]


def _name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(f"{what} name {name!r} cannot be used in an online store key: "
                         "use letters, digits and '_'", name=name)
    return name


def project_prefix(project: str) -> str:
    """``fs:<project>:``, the prefix of every key of a project."""
    return f"{PREFIX}:{_name(project, 'project')}:"


def view_prefix(project: str, view: str) -> str:
    """``fs:<project>:<view>:``, the prefix of every key of a feature view."""
    return f"{project_prefix(project)}{_name(view, 'feature view')}:"


def records_prefix(project: str, view: str) -> str:
    """``fs:<project>:<view>:@r:``, the prefix of the records keys of an aggregate view."""
    return f"{view_prefix(project, view)}{RECORDS}"


def fresh_key(project: str) -> str:
    """``fs:<project>:__fresh``, the hash of a project's data timestamps (field = view, value = epoch µs)."""
    return f"{project_prefix(project)}__fresh"


def layout_key(project: str) -> str:
    """``fs:<project>:__layout``, the key holding the Redis key layout of a project's rows (``"2"``)."""
    return f"{project_prefix(project)}__layout"


def scan_pattern(prefix: str) -> str:
    """A ``SCAN MATCH`` pattern matching exactly the keys starting with ``prefix``."""
    return _GLOB.sub(r"\\\1", prefix) + "*"


def _escaper(table: dict[int, str], needs: re.Pattern[str], doc: str) -> Callable[[str], str]:
    """A string key value's encoder percent-encoding the characters of ``table`` (``needs`` finds them)."""

    def escape(value: str) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a str, got {type(value).__name__}")
        if value.isalnum():
            return value
        if not value.isascii():
            value.encode()  # UnicodeEncodeError (a ValueError) for lone surrogates, which Redis keys cannot hold
        if not needs.search(value):
            return value
        return value.translate(table)

    escape.__doc__ = doc
    return escape


escape_string = _escaper(_ESCAPE, _NEEDS_ESCAPE,
                         "Percent-encode ``%``, ``,``, ``=`` and control characters of a string key value.")
escape_tagged = _escaper(_ESCAPE_TAGGED, _NEEDS_ESCAPE_TAGGED,
                         ":func:`escape_string`, and ``{`` / ``}`` too: a string value in a Redis Cluster hash tag.")


def _int(value: Any) -> str:
    if type(value) is int:
        return str(value)
    if isinstance(value, float):
        raise TypeError(f"expected an int, got {value!r}")
    return str(operator.index(value))


def _bool(value: Any) -> str:
    if value is True or value is False or type(value).__name__ == "bool_":
        return "true" if value else "false"
    raise TypeError(f"expected a bool, got {value!r}")


def _bytes(value: Any) -> str:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(value).__name__}")
    return "0x" + bytes(value).hex()


def _float(value: Any) -> str:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"expected a number, got {value!r}")
    return repr(float(value) + 0.0)


def _timestamp(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return str(epoch_us(value))


_ENCODERS: dict[str, Callable[[Any], str]] = {
    "Int32": _int, "Int64": _int, "String": escape_string, "Bytes": _bytes, "Bool": _bool,
    "Float32": _float, "Float64": _float, "Timestamp": _timestamp,
}


def _encoder(view: ViewSpec, vt: ValueType, tagged: bool = False) -> Callable[[Any], str]:
    enc = _ENCODERS.get(vt.name)
    if enc is None:
        raise InputError(f"feature view {view.name!r}: join keys of type {vt.name} are not supported",
                         view=view.name)
    return escape_tagged if tagged and enc is escape_string else enc


def key_builder(prefix: str, view: ViewSpec, tagged: bool = False) -> KeyBuilder:
    """A function ``key tuple -> prefix + "k1=v1,k2=v2"``; raises TypeError/ValueError on a bad key.

    ``tagged`` (Redis): the entity part in braces, ``prefix + "{k1=v1,k2=v2}"`` (a Redis Cluster hash tag).

    >>> from featurestore.types import Int64, String
    >>> view = ViewSpec("v", ("id", "city"), (Int64, String), (), (), None)
    >>> key_builder("fs:p:v:", view, tagged=True)((7, "a{b}"))
    'fs:p:v:{id=7,city=a%7Bb%7D}'
    >>> key_builder("", view)((7, "a{b}"))
    'id=7,city=a{b}'
    """
    names = [_name(k, "join key") for k in view.join_keys]
    if len(names) != len(view.key_types):
        raise InputError(f"feature view {view.name!r} needs one type per join key", view=view.name)
    open_, close = ("{", "}") if tagged else ("", "")
    if not names:  # a view without entities: one row, under the view's prefix itself (tagged: ``{@}``)
        whole = prefix + ("{@}" if tagged else "")

        def none(key: Sequence[Any]) -> str:
            if len(key):
                raise ValueError(f"a view without entities takes no join key values, got {len(key)}")
            return whole

        return none
    encs = [_encoder(view, t, tagged) for t in view.key_types]
    if len(names) == 1:
        head, enc = f"{prefix}{open_}{names[0]}=", encs[0]

        def one(key: Sequence[Any]) -> str:
            if len(key) != 1:
                raise ValueError(f"expected 1 join key value, got {len(key)}")
            value = key[0]
            if value is None:
                raise ValueError("join key value is null")
            return head + enc(value) + close

        return one
    heads = [f"{prefix}{open_}{names[0]}=", *(f",{n}=" for n in names[1:])]
    parts = list(zip(heads, encs, strict=True))
    count = len(parts)

    def many(key: Sequence[Any]) -> str:
        if len(key) != count:
            raise ValueError(f"expected {count} join key values, got {len(key)}")
        if None in key:
            raise ValueError("join key value is null")
        return "".join([h + e(v) for (h, e), v in zip(parts, key, strict=True)]) + close

    return many


def keys_builder(prefix: str, view: ViewSpec, tagged: bool = False) -> KeysBuilder:
    """A function ``[key tuple, ...] -> [key string, ...]``: :func:`key_builder` over a batch of keys.

    With one join key the values are encoded in one comprehension (an int as ``str``); a key that
    does not fit makes the batch go through :func:`key_builder` key by key, which raises its error.
    """
    one = key_builder(prefix, view, tagged)
    if len(view.join_keys) != 1:
        return lambda keys: [one(k) for k in keys]
    close = "}" if tagged else ""
    head = f"{prefix}{'{' if tagged else ''}{view.join_keys[0]}="
    enc = _encoder(view, view.key_types[0], tagged)

    def many(keys: Sequence[Sequence[Any]]) -> list[str]:
        try:
            if enc is _int:
                return [head + (str(v) if type(v) is int else enc(v)) + close for (v,) in keys]
            return [head + enc(v) + close for (v,) in keys]
        except (TypeError, ValueError, OverflowError):
            return [one(k) for k in keys]  # raises the error of the first bad key

    return many


def key_error(view: ViewSpec, key: Any, exc: Exception) -> InputError:
    """The error raised for an entity key that does not fit the view's join keys."""
    return InputError(f"bad entity key {key!r} for feature view {view.name!r} "
                      f"(join keys {', '.join(view.join_keys)}): {exc}", view=view.name, key=key)

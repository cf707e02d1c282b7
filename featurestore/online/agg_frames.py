"""How the online stores keep an aggregate view's entities: one state and a list of pushed records.

States and records are opaque bytes here (their content is ``featurestore/online/agg_state.py``'s). What
every store shares: the checks of the write arguments, the newest-wins rule, the shape of a read
answer (:data:`AggEntry`), and the Redis value formats with the Lua script storing states::

    state key   [int64 BE snapshot_us][state]
    records key [int64 BE created_us][uint32 BE len][record] [int64 BE created_us][uint32 BE len][record] ...

>>> value = state_value(5, b"s") ; frames = b"".join(record_frames([7, 9], [b"a", b"bc"]))
>>> decode_entity(value, frames)
(5, (b's', ((7, b'a'), (9, b'bc'))))
>>> decode_entity(None, None) is None, decode_entity(None, frames)[0] == MIN_US
(True, True)
"""

from __future__ import annotations

import hashlib
import operator
import struct
from collections.abc import Sequence
from typing import Any

from featurestore.errors import InputError, OnlineStoreError
from featurestore.online.protocol import ViewSpec
from featurestore.utc import MIN_US

STATE_HEAD = struct.Struct(">q")
FRAME_HEAD = struct.Struct(">qI")
_MAX_US = 2**63 - 1

Records = tuple[tuple[int, bytes], ...]
AggEntry = tuple[int, tuple[bytes | None, Records]]
"""A read answer for one entity: ``(snapshot_us, (state or None, ((created_us, record), ...)))``."""

# KEYS: per entity its state key then its records key; ARGV[1]: the snapshot as 8 bytes (int64 BE);
# ARGV[i + 1]: entity i's new state. Pass 1 reads and checks every records string (a corrupt one fails
# the batch before anything is written) and computes the frames kept (created >= snapshot); pass 2 stores
# each state unless the stored snapshot is newer, and writes back the trimmed records (DEL when none are
# left). Lua numbers are doubles: an int64 is compared as (signed high 32 bits, unsigned low 32 bits).
WRITE_SCRIPT = """
local snap = ARGV[1]
local s1, s2 = struct.unpack('>i4I4', snap)
local n = #KEYS / 2
local kept = {}
for i = 1, n do
  local rk = KEYS[2 * i]
  local recs = redis.call('GET', rk)
  if recs then
    local len = #recs
    local pos = 1
    local parts = {}
    local dropped = false
    while pos <= len do
      if pos + 11 > len then return redis.error_reply('corrupt aggregate records (truncated header) at ' .. rk) end
      local c1, c2, size = struct.unpack('>i4I4I4', recs, pos)
      local stop = pos + 12 + size
      if stop - 1 > len then return redis.error_reply('corrupt aggregate records (truncated record) at ' .. rk) end
      if c1 > s1 or (c1 == s1 and c2 >= s2) then
        parts[#parts + 1] = string.sub(recs, pos, stop - 1)
      else
        dropped = true
      end
      pos = stop
    end
    if dropped then kept[i] = table.concat(parts) end
  end
end
local stored = 0
for i = 1, n do
  local sk = KEYS[2 * i - 1]
  local old = redis.call('GET', sk)
  local newer = true
  if old and #old >= 8 then
    local a1, a2 = struct.unpack('>i4I4', old)
    newer = s1 > a1 or (s1 == a1 and s2 >= a2)
  end
  if newer then
    redis.call('SET', sk, snap .. ARGV[i + 1])
    stored = stored + 1
  end
  local k = kept[i]
  if k then
    if #k == 0 then redis.call('DEL', KEYS[2 * i]) else redis.call('SET', KEYS[2 * i], k) end
  end
end
return stored
"""
WRITE_SCRIPT_SHA = hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest()


def _time(view: ViewSpec, what: str, value: Any) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError("a bool")
        number = operator.index(value)
    except TypeError:
        raise InputError(f"aggregate view {view.name!r}: {what} must be integer microseconds, got {value!r}",
                         view=view.name) from None
    if not MIN_US <= number <= _MAX_US:
        raise InputError(f"aggregate view {view.name!r}: {what} {number} is out of the int64 range", view=view.name)
    return number


def _blobs(view: ViewSpec, what: str, blobs: Sequence[Any]) -> None:
    for b in blobs:
        if type(b) is not bytes:
            raise InputError(f"aggregate view {view.name!r}: every {what} must be bytes, got {type(b).__name__}",
                             view=view.name)


def _check_view(view: ViewSpec, action: str) -> None:
    if not view.aggregate:
        raise InputError(f"{action} takes an aggregate view; feature view {view.name!r} is not one", view=view.name)


def check_states(view: ViewSpec, keys: Sequence[Any], snapshot_us: Any, states: Sequence[Any]) -> int:
    """Raise :class:`InputError` unless the arguments of ``write_aggregates`` fit; return the snapshot."""
    _check_view(view, "write_aggregates")
    if len(keys) != len(states):
        raise InputError(f"write_aggregates to aggregate view {view.name!r}: keys and states must have the same "
                         f"length, got {len(keys)} and {len(states)}", view=view.name)
    _blobs(view, "state", states)
    return _time(view, "snapshot_us", snapshot_us)


def check_records(view: ViewSpec, keys: Sequence[Any], created_us: Sequence[Any], records: Sequence[Any]) -> list[int]:
    """Raise :class:`InputError` unless the arguments of ``append_aggregates`` fit; return the created times."""
    _check_view(view, "append_aggregates")
    if not len(keys) == len(created_us) == len(records):
        raise InputError(f"append_aggregates to aggregate view {view.name!r}: keys, created_us and records must "
                         f"have the same length, got {len(keys)}, {len(created_us)}, {len(records)}", view=view.name)
    _blobs(view, "record", records)
    return [_time(view, "created_us", c) for c in created_us]


def last_per_key(keys: Sequence[Any]) -> list[int]:
    """Indices of the entities to store, in order: for a key given several times, its last occurrence."""
    try:
        if len(set(keys)) == len(keys):
            return list(range(len(keys)))
    except TypeError as exc:
        raise InputError(f"entity keys must be tuples of hashable values: {exc}") from None
    last = {k: i for i, k in enumerate(keys)}
    return sorted(last.values())


def state_value(snapshot_us: int, state: bytes) -> bytes:
    """The Redis value of a state: ``[int64 BE snapshot_us][state]``."""
    return STATE_HEAD.pack(snapshot_us) + state


def record_frames(created_us: Sequence[int], records: Sequence[bytes]) -> list[bytes]:
    """One Redis frame per record: ``[int64 BE created_us][uint32 BE len][record]``."""
    head = FRAME_HEAD.pack
    return [head(c, len(r)) + r for c, r in zip(created_us, records, strict=True)]


def decode_records(blob: bytes) -> Records:
    """The ``(created_us, record)`` pairs of a records string; ValueError when it is not whole frames."""
    out = []
    pos, end, unpack = 0, len(blob), FRAME_HEAD.unpack_from
    while pos < end:
        if pos + 12 > end:
            raise ValueError(f"truncated frame header at byte {pos} of {end}")
        created, size = unpack(blob, pos)
        stop = pos + 12 + size
        if stop > end:
            raise ValueError(f"frame at byte {pos} holds {size} bytes, {end - pos - 12} left")
        out.append((created, blob[pos + 12:stop]))
        pos = stop
    return tuple(out)


def decode_entity(state: bytes | None, records: bytes | None) -> AggEntry | None:
    """The read answer of one entity from its Redis values (ValueError when one is corrupt)."""
    recs = decode_records(records) if records else ()
    if state is None:
        return (MIN_US, (None, recs)) if recs else None
    if len(state) < 8:
        raise ValueError(f"a state of {len(state)} bytes has no snapshot")
    return STATE_HEAD.unpack_from(state)[0], (state[8:], recs)


def entry(snapshot_us: int | None, state: bytes | None, records: Records) -> AggEntry | None:
    """The read answer of one entity from a stored state (or None) and its records."""
    if state is None:
        return (MIN_US, (None, records)) if records else None
    return snapshot_us if snapshot_us is not None else MIN_US, (state, records)


def corrupt(where: str, view: ViewSpec, exc: Exception) -> OnlineStoreError:
    """The error for an undecodable state or records of an aggregate view."""
    return OnlineStoreError(f"{where}: corrupt aggregate state or records in aggregate view {view.name!r}: {exc}",
                            view=view.name)

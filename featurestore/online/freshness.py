"""Data timestamps: per view, the newest event time ever written online (``OnlineStore.data_timestamps``).

Every store keeps them beside the rows, advanced with an atomic maximum by every write (``write``: the batch's
newest event time; ``write_aggregates``: the newest event time in the states; ``append_aggregates``: the newest
event time of the records), so any writer process (materialize, push, HTTP) moves them and any reader sees it:

* SQLite: table ``fs_online_fresh (project, view, event_us)``, upserted with ``max`` in the write's transaction;
* Redis: hash ``fs:<project>:__fresh``, field = view, value = epoch µs as decimal text
  (``redis-cli HGETALL fs:demo:__fresh``), advanced by :data:`ADVANCE_SCRIPT`;
* memory: a dict beside the rows.

This is the time of the data, not of the materialize window: materializing an empty range leaves it unchanged.

>>> newest([3, 9, 4])
9
>>> records_newest([b"opaque"]) is None
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurestore.online import agg_state

FIELD = "__fresh"
"""The name after ``fs:<project>:`` of the Redis hash holding a project's data timestamps."""

# KEYS[1]: the hash; ARGV[1]: the view; ARGV[2]: the event time (decimal µs). Sets the field unless it holds a
# newer time. Lua numbers are doubles: each decimal integer is compared as (digits before the last 9, last 9),
# both exact, so every int64 compares exactly (no string comparison: Lua's follows the locale).
ADVANCE_SCRIPT = """
local function parts(s)
  local neg = string.sub(s, 1, 1) == '-'
  if neg then s = string.sub(s, 2) end
  local n = #s
  local hi = 0
  if n > 9 then hi = tonumber(string.sub(s, 1, n - 9)) end
  local lo = tonumber(string.sub(s, math.max(1, n - 8)))
  if neg then return -hi, -lo end
  return hi, lo
end
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local a1, a2 = parts(old)
  local b1, b2 = parts(ARGV[2])
  if b1 < a1 or (b1 == a1 and b2 <= a2) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
ADVANCE_SCRIPT_SHA = hashlib.sha1(ADVANCE_SCRIPT.encode()).hexdigest()


def newest(event_us: Sequence[int]) -> int | None:
    """The newest of some event times (None when there are none)."""
    return max(event_us) if len(event_us) else None


def _decoded(blob: bytes) -> Any:
    """A state or record as its list; None when the bytes are not one (stores keep them opaque)."""
    try:
        row = agg_state.unpack(blob)
    except Exception:  # opaque bytes of another writer: they carry no event time
        return None
    return row if isinstance(row, list) else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def states_newest(states: Sequence[bytes]) -> int | None:
    """The newest event time in aggregate states (``agg_state.py``): per state the max of ``newest`` (before the
    snapshot) and of its tail times. Bytes that are not a state of this format version count for nothing."""
    found: list[int] = []
    for blob in states:
        row = _decoded(blob)
        if row is None or len(row) != 9 or row[0] != agg_state.VERSION:
            continue
        if (n := _int(row[4])) is not None:
            found.append(n)
        t = row[6]
        if isinstance(t, (bytes, bytearray)) and len(t) >= 8 and len(t) % 8 == 0:
            found.append(int(np.frombuffer(t, "<i8").max()))
        elif isinstance(t, list):
            found.extend(x for x in t if type(x) is int)
    return max(found) if found else None


def records_newest(records: Sequence[bytes]) -> int | None:
    """The newest event time of pushed records (``[fingerprint, ts, created, ordinal, inputs...]``); bytes that
    are not a record count for nothing."""
    found = [ts for r in records if (row := _decoded(r)) is not None and len(row) >= 4
             and (ts := _int(row[1])) is not None]
    return max(found) if found else None

"""The Lua scripts of the Redis online store and the pipelined way it sends them (``redis_store.py``).

A write sends one ``EVALSHA`` per batch on one pooled connection, keeping one batch in flight while the next one
is encoded; then, once every batch is stored, it advances the view's data timestamp
(``featurestore/online/freshness.py``) with :data:`~featurestore.online.freshness.ADVANCE_SCRIPT`.
"""

from __future__ import annotations

import hashlib
import inspect
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import redis

from featurestore.online.freshness import ADVANCE_SCRIPT, ADVANCE_SCRIPT_SHA

# KEYS: the rows' keys; ARGV[1]: ttl in ms (0 = none); ARGV[i + 1]: the encoded row of KEYS[i].
# A stored row is replaced only when the new (event_us, created_us) >= the stored one. Lua numbers
# are doubles, so each int64 is compared as (signed high 32 bits, unsigned low 32 bits): exact for
# every int64, and numbers are compared, never strings (Lua string order follows the locale).
WRITE_SCRIPT = """
local ttl = tonumber(ARGV[1])
local stored = 0
local n = #KEYS
local i = 1
while i <= n do
  local j = math.min(i + 999, n)
  local olds = redis.call('MGET', unpack(KEYS, i, j))
  for k = i, j do
    local new = ARGV[k + 1]
    local old = olds[k - i + 1]
    local newer = true
    if old and #old >= 28 and string.byte(old, 1) == 221 then
      local a1, a2, a3, a4 = struct.unpack('>i4I4xi4I4', old, 7)
      local b1, b2, b3, b4 = struct.unpack('>i4I4xi4I4', new, 7)
      if b1 ~= a1 then newer = b1 > a1
      elseif b2 ~= a2 then newer = b2 > a2
      elseif b3 ~= a3 then newer = b3 > a3
      else newer = b4 >= a4 end
    end
    if newer then
      if ttl > 0 then redis.call('SET', KEYS[k], new, 'PX', ttl) else redis.call('SET', KEYS[k], new) end
      stored = stored + 1
    end
  end
  i = j + 1
end
return stored
"""
WRITE_SCRIPT_SHA = hashlib.sha1(WRITE_SCRIPT.encode()).hexdigest()


def _takes_command_name() -> bool:
    """redis-py < 5.3 requires ``get_connection(command_name)``; 5.3+ deprecates passing it."""
    param = inspect.signature(redis.ConnectionPool.get_connection).parameters.get("command_name")
    return param is not None and param.default is inspect.Parameter.empty


GET_CONNECTION_ARGS: tuple[str, ...] = ("EVALSHA",) if _takes_command_name() else ()


def advance(client: Any, fresh_key: str, view: str, newest_us: int) -> None:
    """Advance one view's data timestamp (``EVAL``; Redis caches the compiled script); ``client``: a
    ``redis.Redis`` or a pipeline (the script then runs in the pipeline's transaction)."""
    client.eval(ADVANCE_SCRIPT, 1, fresh_key, view, str(int(newest_us)))


def run_script(pool: redis.ConnectionPool, batches: Iterator[tuple[list[str], Any, list[bytes]]], script: str,
               sha: str, fresh_key: str, after: Callable[[], tuple[str, int] | None] | None = None) -> int:
    """Send one ``EVALSHA sha len(names) *names first *blobs`` per ``(names, first, blobs)`` batch, keeping
    one batch in flight while the next one is encoded; return the sum of the replies. Then, when ``after()``
    gives ``(view, newest_us)``, advance that view's data timestamp in the hash ``fresh_key`` on the same
    connection. Redis errors propagate."""
    conn = pool.get_connection(*GET_CONNECTION_ARGS)
    stored = 0
    inflight: deque[list[bytes]] = deque()
    missing: list[list[bytes]] = []  # batches answered NOSCRIPT: load the script, send them again

    def receive(packed: list[bytes]) -> int:
        try:
            return int(conn.read_response())
        except redis.exceptions.NoScriptError:
            missing.append(packed)
            return 0

    try:
        for names, first, blobs in batches:
            packed = conn.pack_command("EVALSHA", sha, len(names), *names, first, *blobs)
            conn.send_packed_command(packed, check_health=False)
            inflight.append(packed)
            if len(inflight) > 1:
                stored += receive(inflight.popleft())
        while inflight:
            stored += receive(inflight.popleft())
        if missing:
            conn.send_command("SCRIPT", "LOAD", script)
            conn.read_response()
            for packed in missing:
                conn.send_packed_command(packed, check_health=False)
                stored += int(conn.read_response())
        fresh = after() if after is not None else None
        if fresh is not None:
            conn.send_command("EVAL", ADVANCE_SCRIPT, 1, fresh_key, fresh[0], str(int(fresh[1])))
            conn.read_response()
    except BaseException:
        conn.disconnect()  # replies may be left unread on it
        raise
    finally:
        pool.release(conn)
    return stored


__all__ = ["ADVANCE_SCRIPT_SHA", "GET_CONNECTION_ARGS", "WRITE_SCRIPT", "WRITE_SCRIPT_SHA", "advance", "run_script"]

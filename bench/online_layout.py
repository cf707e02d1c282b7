"""Micro-benchmark of two Redis layouts for the online store, against a private redis-server.

* ``string``: one Redis string per entity per view (header + MessagePack row), read with one MGET,
  written by a Lua script per batch. This is what :class:`RedisOnlineStore` does.
* ``hash``: one Redis hash per entity per view (a ``_t`` field with the times, one MessagePack
  field per feature), read with one pipeline of HMGET, written by a Lua script per batch.

Prints read latency p50/p99 for 1 and 100 entities x 10 features, write throughput, and the
codec's encode/decode cost. Run: ``.venv/bin/python bench/online_layout.py [--url redis://...]``.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featurestore.online import RedisOnlineStore, ViewSpec, codec
from featurestore.online import keys as layout
from featurestore.types import Float64, Int64, String, Timestamp

FEATURES = tuple(f"f{i}" for i in range(10))
TYPES = (Float64, Float64, Float64, Float64, Int64, Int64, Int64, String, String, Timestamp)
VIEW = ViewSpec("bench_view", ("entity_id",), (Int64,), FEATURES, TYPES, None)
T0 = 1_700_000_000_000_000

HASH_SCRIPT = """
local ttl = tonumber(ARGV[1])
local nf = tonumber(ARGV[2])
local stored = 0
for i = 1, #KEYS do
  local base = 2 + nf + (i - 1) * (nf + 1)
  local new = ARGV[base + 1]
  local old = redis.call('HGET', KEYS[i], '_t')
  local newer = true
  if old then
    local a1, a2, a3, a4 = struct.unpack('>i4I4i4I4', old)
    local b1, b2, b3, b4 = struct.unpack('>i4I4i4I4', new)
    if b1 ~= a1 then newer = b1 > a1 elseif b2 ~= a2 then newer = b2 > a2
    elseif b3 ~= a3 then newer = b3 > a3 else newer = b4 >= a4 end
  end
  if newer then
    local args = {'_t', new}
    for f = 1, nf do
      args[#args + 1] = ARGV[2 + f]
      args[#args + 1] = ARGV[base + 1 + f]
    end
    redis.call('HSET', KEYS[i], unpack(args))
    if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
    stored = stored + 1
  end
end
return stored
"""


class HashLayout:
    """The alternative layout: one hash per entity, one field per feature."""

    def __init__(self, url: str, project: str, batch: int = 2000) -> None:
        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(HASH_SCRIPT)
        self.project = project
        self.batch = batch
        self.fields = ["_t", *FEATURES]

    def write(self, view: ViewSpec, keys: list[tuple[Any, ...]], event_us: list[int], created_us: list[int],
              values: list[tuple[Any, ...]]) -> int:
        build = layout.key_builder(layout.view_prefix(self.project, view.name), view)
        pack = msgpack.Packer(datetime=True).pack
        times = struct.Struct(">qq").pack
        stored = 0
        for start in range(0, len(keys), self.batch):
            rows = range(start, min(start + self.batch, len(keys)))
            names = [build(keys[i]) for i in rows]
            args: list[Any] = [0, len(FEATURES), *FEATURES]
            for i in rows:
                args.append(times(event_us[i], created_us[i]))
                args.extend([pack(v) for v in values[i]])
            stored += int(self.script(keys=names, args=args))
        return stored

    def read(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]) -> list[list[Any]]:
        pipe = self.client.pipeline(transaction=False)
        sizes = []
        for view, keys in requests:
            build = layout.key_builder(layout.view_prefix(self.project, view.name), view)
            for k in keys:
                pipe.hmget(build(k), self.fields)
            sizes.append(len(keys))
        replies = pipe.execute()
        unpack, times = msgpack.unpackb, struct.Struct(">qq").unpack
        out: list[list[Any]] = []
        start = 0
        for n in sizes:
            rows: list[Any] = []
            for reply in replies[start:start + n]:
                if reply[0] is None:
                    rows.append(None)
                else:
                    rows.append((times(reply[0])[0], tuple([unpack(v, timestamp=3) for v in reply[1:]])))
            out.append(rows)
            start += n
        return out

    def close(self) -> None:
        self.client.close()


def rows(n: int) -> tuple[list[tuple[int]], list[int], list[tuple[Any, ...]]]:
    from datetime import UTC, datetime

    ts = datetime(2024, 1, 1, tzinfo=UTC)
    keys = [(i,) for i in range(n)]
    events = [T0 + i for i in range(n)]
    values = [(i * 0.5, 1.25, -3.5, float(i), i, 7, -1, "abc", "hello world", ts) for i in range(n)]
    return keys, events, values


def p50_p99(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    for _ in range(min(200, repeat)):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return statistics.median(times) * 1e3, times[int(len(times) * 0.99)] * 1e3


def bench_layout(name: str, store: Any, n_rows: int, repeat: int) -> dict[str, Any]:
    keys, events, values = rows(n_rows)
    warm = ViewSpec(f"{VIEW.name}_warmup", VIEW.join_keys, VIEW.key_types, FEATURES, TYPES, None)
    store.write(warm, keys, events, events, values)  # let redis-server grow its memory once, untimed
    fresh: list[float] = []
    overwrite: list[float] = []
    for attempt in range(3):
        view = ViewSpec(f"{VIEW.name}_{attempt}", VIEW.join_keys, VIEW.key_types, FEATURES, TYPES, None)
        for rates, newer in ((fresh, 0), (overwrite, 1)):
            later = [e + newer for e in events]
            t = time.perf_counter()
            stored = store.write(view, keys, later, later, values)
            rates.append(n_rows / (time.perf_counter() - t))
            assert stored == n_rows, (name, stored)
    read_view = ViewSpec(f"{VIEW.name}_0", VIEW.join_keys, VIEW.key_types, FEATURES, TYPES, None)
    one = [(read_view, keys[:1])]
    hundred = [(read_view, keys[1000:1100])]
    assert store.read(hundred)[0][5] is not None
    return {"layout": name, "read1": p50_p99(lambda: store.read(one), repeat),
            "read100": p50_p99(lambda: store.read(hundred), repeat),
            "fresh": statistics.median(fresh), "overwrite": statistics.median(overwrite)}


def bench_codec(n: int = 100_000) -> tuple[float, float]:
    _, events, values = rows(n)
    encode = codec.row_encoder(VIEW)
    t = time.perf_counter()
    blobs = encode(range(n), events, events, values)
    enc = (time.perf_counter() - t) / n * 1e6
    decode = codec.row_decoder(VIEW)
    t = time.perf_counter()
    for b in blobs:
        decode(b)
    return enc, (time.perf_counter() - t) / n * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an existing Redis to use (default: start a private redis-server)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows per write measurement")
    parser.add_argument("--repeat", type=int, default=2000, help="reads per latency measurement")
    args = parser.parse_args(argv)
    server = None
    url = args.url
    if url is None:
        from tests.conftest import start_redis

        server = start_redis(Path(tempfile.mkdtemp(prefix="fs-bench-redis-")))
        url = server.url
    try:
        admin = redis.Redis.from_url(url)
        print(f"redis-server {admin.info('server')['redis_version']} at {url}; {args.rows} rows, "
              f"10 features, loopback")
        results = []
        for name, store in (("string + MGET", RedisOnlineStore(url, "bench_string")),
                            ("hash + HMGET pipeline", HashLayout(url, "bench_hash"))):
            results.append(bench_layout(name, store, args.rows, args.repeat))
            store.close()
        for project in ("bench_string", "bench_hash"):
            RedisOnlineStore(url, project).teardown()
        admin.close()
    finally:
        if server is not None:
            server.stop()
    print(f"{'layout':<24}{'read 1 p50/p99 ms':>20}{'read 100 p50/p99 ms':>22}"
          f"{'write new rows/s':>19}{'overwrite rows/s':>19}")
    for r in results:
        print(f"{r['layout']:<24}{r['read1'][0]:>11.3f} /{r['read1'][1]:>6.3f}"
              f"{r['read100'][0]:>13.3f} /{r['read100'][1]:>6.3f}"
              f"{r['fresh']:>19,.0f}{r['overwrite']:>19,.0f}")
    enc, dec = bench_codec()
    print(f"codec (10 features incl. a timestamp): encode {enc:.2f} us/row, decode {dec:.2f} us/row")


if __name__ == "__main__":
    main()

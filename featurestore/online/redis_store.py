"""The Redis online store: one string per entity per view, read with one MGET (layout in ``keys.py``).

:class:`~featurestore.online.redis_cluster.RedisClusterOnlineStore` keeps these keys and rows and changes only how
commands reach the nodes (per slot, per node).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from featurestore.config import redact_url, redis_identity
from featurestore.errors import InputError, OnlineStoreError, OnlineStoreUnavailableError
from featurestore.online import agg_frames as frames
from featurestore.online import codec, freshness
from featurestore.online import keys as layout
from featurestore.online.plans import ViewPlans
from featurestore.online.protocol import ViewSpec
from featurestore.online.redis_async import AsyncConnection
from featurestore.online.redis_layout import LayoutCheck, redis_failures
from featurestore.online.redis_scripts import WRITE_SCRIPT, WRITE_SCRIPT_SHA, advance, run_script

_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError,
                redis.exceptions.ClusterDownError, redis.exceptions.SlotNotCoveredError)
"""Errors meaning the store (or, in a cluster, a node or a slot range) cannot be reached."""
_RETRIED = (redis.exceptions.ConnectionError,)
"""What redis-py retries once, on a new connection: a pooled connection the server closed (a restart, an
idle timeout) fails at once. A timeout is never retried: ``socket_timeout`` is the bound of a command
(redis-py's default retry on timeouts made a stalled server cost twice the timeout)."""




class RedisOnlineStore(LayoutCheck):
    """Online store in Redis: one key per entity and view, ``fs:<project>:<view>:<k>=<v>,...``.

    Reads are one ``MGET`` whatever the number of views and keys; writes run a Lua script per
    batch of ``write_batch_size`` rows that never replaces a stored row by an older one.
    """

    def __init__(self, url: str, project: str, socket_timeout: float = 2.0,
                 write_batch_size: int = 2000) -> None:
        self._setup(url, project, socket_timeout, write_batch_size)
        try:
            self._redis = redis.Redis.from_url(
                url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout,
                retry=Retry(NoBackoff(), 1, supported_errors=_RETRIED), health_check_interval=0, decode_responses=False)
        except ValueError as exc:
            raise OnlineStoreError(f"invalid Redis URL {redact_url(url)!r}: {exc}", url=redact_url(url)) from None

    def _setup(self, url: str, project: str, socket_timeout: float, write_batch_size: int) -> None:
        """What every Redis store keeps: names of its keys, batch size, timeouts (no connection yet)."""
        self.url = url
        self.project = project
        self._prefix = layout.project_prefix(project)
        self._fresh = layout.fresh_key(project)
        self._layout = layout.layout_key(project)
        self._layout_until = 0.0  # until when (time.monotonic) the layout check holds: inf once the layout key is seen
        self._where = f"Redis at {redact_url(url)}"
        self._batch = max(1, int(write_batch_size))
        self._plan = ViewPlans(project, full_keys=True)
        self._timeout = socket_timeout
        self._async: tuple[asyncio.AbstractEventLoop, Any] | None = None

    @property
    def _client(self) -> Any:
        """The client commands go through (a cluster store gives its cluster client)."""
        return self._redis

    @property
    def identity(self) -> str:
        """``redis://<host address>:<port>/<db>`` (loopback names are one host; no user or password)."""
        return redis_identity(self.url)

    def _fail(self, exc: Exception, action: str) -> NoReturn:
        if isinstance(exc, redis.exceptions.AuthenticationError):
            raise OnlineStoreError(f"{self._where}: authentication failed while trying to {action}: {exc}",
                                   url=redact_url(self.url)) from None
        if isinstance(exc, _UNAVAILABLE) or (isinstance(exc, redis.exceptions.RedisClusterException)
                                              and "connect" in str(exc).lower()):
            raise OnlineStoreUnavailableError(
                f"{self._where} is unreachable (could not {action}): {exc}", url=redact_url(self.url)) from None
        raise OnlineStoreError(f"{self._where}: failed to {action}: {exc}", url=redact_url(self.url)) from None

    def write(self, view: ViewSpec, keys: list[tuple[Any, ...]], event_us: list[int], created_us: list[int],
              values: list[tuple[Any, ...]]) -> int:
        """Upsert rows (newest wins, never replaced by an older row); return how many were stored.

        Rows go in batches: when a row is invalid (:class:`InputError`), earlier batches may be stored.
        """
        codec.check_write(view, keys, event_us, created_us, values)
        if not keys:
            return 0
        self._check_layout(write=True)
        build = self._plan(view)[0]
        encode = codec.row_encoder(view)
        ttl = view.ttl_seconds
        ttl_ms = max(1, round(ttl * 1000)) if ttl is not None and ttl > 0 else 0
        rows = codec.latest_rows(keys, event_us, created_us)
        sent: list[int] = []  # the newest event time of each batch sent

        def batches() -> Iterator[tuple[list[str], Any, list[bytes]]]:
            for start in range(0, len(rows), self._batch):
                batch = rows[start:start + self._batch]
                try:
                    names = [build(keys[i]) for i in batch]
                except (TypeError, ValueError, OverflowError) as exc:
                    raise self._bad_key(view, keys, batch, build, exc) from None
                yield names, ttl_ms, encode(batch, event_us, created_us, values)
                sent.append(max(event_us[i] for i in batch))

        action = f"write feature view {view.name!r}"
        try:
            return self._run_script(batches(), action, advance=lambda: (view.name, max(sent)) if sent else None)
        except InputError:  # a bad key in a later batch: the batches sent are stored
            if sent:
                self._advance(view.name, max(sent), action)
            raise

    def _advance(self, view_name: str, newest_us: int, action: str) -> None:
        try:
            advance(self._client, self._fresh, view_name, newest_us)
        except redis_failures() as exc:
            self._fail(exc, action)

    def data_timestamps(self) -> dict[str, int]:
        """Per view, the newest event time ever written (epoch µs), by any process: ``HGETALL fs:<project>:__fresh``."""
        try:
            found = self._client.hgetall(self._fresh)
        except redis_failures() as exc:
            self._fail(exc, "read the data timestamps")
        try:
            return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in found.items()}
        except (ValueError, UnicodeDecodeError) as exc:
            raise OnlineStoreError(f"{self._where}: corrupt data timestamps in {self._fresh}: {exc}") from None

    def _run_script(self, batches: Iterator[tuple[list[str], Any, list[bytes]]], action: str,
                    script: str = WRITE_SCRIPT, sha: str = WRITE_SCRIPT_SHA,
                    advance: Callable[[], tuple[str, int] | None] | None = None) -> int:
        """:func:`~featurestore.online.redis_scripts.run_script` on a pooled connection (Redis errors translated)."""
        try:
            return run_script(self._client.connection_pool, batches, script, sha, self._fresh, advance)
        except redis_failures() as exc:
            self._fail(exc, action)

    @staticmethod
    def _bad_key(view: ViewSpec, all_keys: Sequence[Any], batch: Sequence[int], build: layout.KeyBuilder,
                 exc: Exception) -> InputError:
        for i in batch:
            try:
                build(all_keys[i])
            except (TypeError, ValueError, OverflowError) as err:
                return layout.key_error(view, all_keys[i], err)
        return layout.key_error(view, None, exc)

    def _names(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
               ) -> tuple[list[str], list[tuple[ViewSpec, codec.Decoder, int]]]:
        """The keys of one MGET: per request its entities' keys (an aggregate view: their state keys, then
        their records keys), and per request ``(view, decoder, number of keys)``."""
        names: list[str] = []
        plans = []
        for view, entity_keys in requests:
            build, decode, build_many, records = self._plan(view)
            try:
                names.extend(build_many(entity_keys))
                if records is not None:
                    names.extend(records(entity_keys))
            except (TypeError, ValueError, OverflowError) as exc:
                raise self._bad_key(view, entity_keys, range(len(entity_keys)), build, exc) from None
            plans.append((view, decode, len(entity_keys) if records is None else 2 * len(entity_keys)))
        return names, plans

    def _decode(self, blobs: list[bytes | None], plans: list[tuple[ViewSpec, codec.Decoder, int]]
                ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        out: list[list[tuple[int, tuple[Any, ...]] | None]] = []
        start = 0
        for view, decode, n in plans:
            chunk = blobs[start:start + n] if len(plans) > 1 else blobs
            start += n
            if view.aggregate:
                out.append(self._decode_aggregates(view, chunk))
                continue
            try:
                out.append([None if b is None else decode(b) for b in chunk])
            except Exception as exc:  # a corrupt value must not leak a msgpack error
                raise OnlineStoreError(f"{self._where}: undecodable row in feature view {view.name!r}: {exc}",
                                       view=view.name) from None
        return out

    def _decode_aggregates(self, view: ViewSpec, blobs: list[bytes | None]
                           ) -> list[tuple[int, tuple[Any, ...]] | None]:
        half = len(blobs) // 2
        try:
            return [frames.decode_entity(s, r) for s, r in zip(blobs[:half], blobs[half:], strict=True)]
        except (ValueError, struct.error) as exc:
            raise frames.corrupt(self._where, view, exc) from None

    def read(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
             ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        """For each ``(view, keys)`` and key: ``None`` or ``(event_us, values)``; one MGET in all."""
        names, plans = self._names(requests)
        if not names:
            return [[] for _ in requests]
        self._check_layout()
        try:
            blobs = self._client.execute_command("MGET", *names)
        except redis_failures() as exc:
            self._fail(exc, "read")
        return self._decode(blobs, plans)

    def _async_client(self) -> Any:
        """The asyncio connection of the running event loop (bound to the loop it was made in)."""
        loop = asyncio.get_running_loop()
        current = self._async
        if current is not None and current[0] is loop:
            return current[1]
        client: Any
        if AsyncConnection.supports(self.url):
            client = AsyncConnection(self.url, self._timeout)
        else:  # TLS, unix sockets: redis-py's asyncio client
            client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout,
                retry=AsyncRetry(NoBackoff(), 1, supported_errors=_RETRIED),
                health_check_interval=0, decode_responses=False)
        self._async = (loop, client)
        return client

    async def read_async(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
                         ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        """:meth:`read` on the running asyncio loop (redis.asyncio with hiredis): no thread, one MGET."""
        names, plans = self._names(requests)
        if not names:
            return [[] for _ in requests]
        if not self._layout_checked():
            await self._check_layout_async()
        try:
            client = self._async_client()
            if isinstance(client, AsyncConnection):
                blobs = await client.execute("MGET", *names)
            else:
                blobs = await client.execute_command("MGET", *names)
        except redis_failures() as exc:
            self._fail(exc, "read")
        return self._decode(blobs, plans)

    async def aclose(self) -> None:
        """Close the asyncio connections of the running loop's client (if any)."""
        current, self._async = self._async, None
        if current is None:
            return
        aclose = getattr(current[1], "aclose", None)  # redis-py's asyncio clients
        if aclose is not None:
            await aclose()
        else:  # this package's own connections close at once
            current[1].close()

    def _unlink_matching(self, prefix: str, action: str) -> None:
        try:
            batch: list[bytes] = []
            for name in self._client.scan_iter(match=layout.scan_pattern(prefix), count=1000):
                batch.append(name)
                if len(batch) >= 500:
                    self._client.unlink(*batch)
                    batch.clear()
            if batch:
                self._client.unlink(*batch)
        except redis_failures() as exc:
            self._fail(exc, action)

    def _entity_names(self, view: ViewSpec, keys: Sequence[tuple[Any, ...]], rows: Sequence[int]
                      ) -> tuple[list[str], list[str]]:
        """The state keys and records keys of ``keys[i]`` for ``i`` in ``rows`` (InputError on a bad key)."""
        build, _, build_many, records = self._plan(view)
        picked = [keys[i] for i in rows]
        try:
            return build_many(picked), records(picked) if records is not None else []
        except (TypeError, ValueError, OverflowError) as exc:
            raise self._bad_key(view, keys, rows, build, exc) from None

    def write_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], snapshot_us: int,
                         states: list[bytes], newest_us: int | None = None) -> int:
        """Store states (newest snapshot wins) and drop the records created before ``snapshot_us``: one
        ``EVALSHA`` per batch of ``write_batch_size`` entities; returns how many states were stored."""
        snapshot = frames.check_states(view, keys, snapshot_us, states)
        if not keys:
            return 0
        self._check_layout(write=True)
        rows = frames.last_per_key(keys)
        snap = frames.STATE_HEAD.pack(snapshot)
        state_names, record_names = self._entity_names(view, keys, rows)  # every key checked before a write

        def batches() -> Iterator[tuple[list[str], Any, list[bytes]]]:
            for start in range(0, len(rows), self._batch):
                end = start + self._batch
                names = [n for pair in zip(state_names[start:end], record_names[start:end], strict=True)
                         for n in pair]
                yield names, snap, [states[i] for i in rows[start:end]]

        newest = newest_us if newest_us is not None else freshness.states_newest(states)
        return self._run_script(batches(), f"write aggregate view {view.name!r}", frames.WRITE_SCRIPT,
                                frames.WRITE_SCRIPT_SHA, lambda: (view.name, newest) if newest is not None else None)

    def _appends(self, view: ViewSpec, keys: list[tuple[Any, ...]], created_us: list[int], records: list[bytes],
                 newest_us: int | None) -> tuple[list[str], list[bytes], int | None] | None:
        """What :meth:`append_aggregates` sends, checked (the layout too): records keys, frames, newest event time;
        None when there is nothing to append."""
        created = frames.check_records(view, keys, created_us, records)
        if not keys:
            return None
        self._check_layout(write=True)
        _, names = self._entity_names(view, keys, range(len(keys)))
        newest = newest_us if newest_us is not None else freshness.records_newest(records)
        return names, frames.record_frames(created, records), newest

    def append_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], created_us: list[int],
                          records: list[bytes], newest_us: int | None = None) -> int:
        """``APPEND`` one frame per record to its entity's records key, all in one MULTI/EXEC round trip."""
        appends = self._appends(view, keys, created_us, records, newest_us)
        if appends is None:
            return 0
        names, blobs, newest = appends
        try:
            with self._client.pipeline(transaction=True) as pipe:
                for name, blob in zip(names, blobs, strict=True):
                    pipe.append(name, blob)
                if newest is not None:
                    advance(pipe, self._fresh, view.name, newest)
                pipe.execute()
        except redis_failures() as exc:
            self._fail(exc, f"append records to aggregate view {view.name!r}")
        return len(records)

    def delete(self, view: ViewSpec, keys: list[tuple[Any, ...]]) -> int:
        """Remove the keys of these entities of one view (``UNLINK``); return how many were stored.

        For an aggregate view both keys of an entity go (one ``UNLINK`` each, pipelined), and an entity
        counts when it had either."""
        action = f"delete entities of feature view {view.name!r}"
        if view.aggregate:
            state_names, record_names = self._entity_names(view, keys, range(len(keys)))
            pairs = list(dict.fromkeys(zip(state_names, record_names, strict=True)))
            try:
                with self._client.pipeline(transaction=False) as pipe:
                    for pair in pairs:
                        pipe.unlink(*pair)
                    return sum(int(n) > 0 for n in pipe.execute()) if pairs else 0
            except redis_failures() as exc:
                self._fail(exc, action)
        names, _ = self._names([(view, keys)])
        distinct = list(dict.fromkeys(names))
        deleted = 0
        try:
            for start in range(0, len(distinct), 1000):
                deleted += int(self._client.unlink(*distinct[start:start + 1000]))
        except redis_failures() as exc:
            self._fail(exc, action)
        return deleted

    def delete_view(self, view_name: str) -> None:
        """Remove every key of one view of this project, records keys too (SCAN MATCH + UNLINK)."""
        prefix = layout.view_prefix(self.project, view_name)
        self._unlink_matching(prefix, f"delete feature view {view_name!r}")
        try:
            self._client.hdel(self._fresh, view_name)
        except redis_failures() as exc:
            self._fail(exc, f"delete feature view {view_name!r}")

    def teardown(self) -> None:
        """Remove every key of this project (SCAN MATCH + UNLINK), its layout key too, and nothing else."""
        self._unlink_matching(self._prefix, f"tear down project {self.project!r}")
        self._layout_until = 0.0

    def ping(self) -> None:
        """Raise :class:`OnlineStoreUnavailableError` when Redis does not answer."""
        try:
            self._client.ping()
        except redis_failures() as exc:
            self._fail(exc, "ping")

    def close(self) -> None:
        """Close the connections of this store."""
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisOnlineStore({redact_url(self.url)!r}, project={self.project!r})"

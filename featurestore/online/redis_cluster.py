"""The Redis Cluster online store: the keys and rows of :class:`RedisOnlineStore`, sent per slot and per node.

Every key of one entity carries the entity as its hash tag (``fs:<project>:<view>:{<entity>}``, see ``keys.py``),
so all views of an entity share one slot. A read groups its keys by slot and sends one ``MGET`` per slot, all
the ``MGET`` of one node pipelined in one request and the nodes asked in parallel (redis-py's cluster pipeline
writes every node's socket before reading any); a write sends one ``EVALSHA`` of the newest-wins script per slot
the same way, and when a node answers ``NOSCRIPT`` (a restart or a failover empties its script cache) the script
is loaded on every primary and those slots sent again. Commands are routed with the slot's node given explicitly
(redis-py would otherwise ask the server ``COMMAND GETKEYS`` for each script call). ``MOVED`` and ``ASK`` replies
(a resharding, a failover) are followed by redis-py, which refreshes its slot map.

What differs from one Redis: a lookup of several entities reads several slots, so it is not one atomic
``MGET``; a write of many entities is atomic per slot, not per batch; a node that cannot be reached fails the whole
read or write with :class:`~featurestore.errors.OnlineStoreUnavailableError` (no partial answers), and a write
that failed part-way has stored some slots (newest wins, so running it again is safe).

URL: ``redis://[user:password@]host1:port1[,host2:port2,...]`` (``rediss://`` for TLS) with
``online_store: {type: redis, cluster: true}``; every listed node is a seed, one reachable seed is enough.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import redis
import redis.asyncio.cluster
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from featurestore.config import redact_url
from featurestore.errors import OnlineStoreError
from featurestore.online.protocol import ViewSpec
from featurestore.online.redis_layout import redis_failures
from featurestore.online.redis_nodes import NodeConnections, cluster_identity, cluster_seeds
from featurestore.online.redis_scripts import WRITE_SCRIPT, WRITE_SCRIPT_SHA
from featurestore.online.redis_store import RedisOnlineStore

SLOT_GROUP_ROWS = 32768
"""Rows grouped by slot at once by a write: random entities spread over 16384 slots, so a group of 2000 rows is
~2000 one-key script calls; 32768 rows make ~2 keys per call (measured by ``bench/cluster.py``)."""


class RedisClusterOnlineStore(RedisOnlineStore):
    """Online store in a Redis Cluster: the keys of :class:`RedisOnlineStore`, one ``MGET`` or ``EVALSHA`` per slot.

    The client connects on first use (a cluster that is down makes that use fail, not the construction).
    """

    def __init__(self, url: str, project: str, socket_timeout: float = 2.0, write_batch_size: int = 2000) -> None:
        self._setup(url, project, socket_timeout, write_batch_size)
        try:
            self._seeds, self._options = cluster_seeds(url)
        except ValueError as exc:
            raise OnlineStoreError(f"invalid Redis Cluster URL {redact_url(url)!r}: {exc}",
                                   url=redact_url(url)) from None
        self._where = f"Redis Cluster at {redact_url(url)}"
        self._cluster: RedisCluster | None = None
        self.group_rows = SLOT_GROUP_ROWS
        """Rows a write groups by slot at once (:data:`SLOT_GROUP_ROWS`)."""

    @property
    def _client(self) -> Any:  # the base class's commands (GET, HGETALL, SCAN, UNLINK...) route by key in a cluster
        if self._cluster is None:
            try:
                self._cluster = RedisCluster(
                    startup_nodes=[ClusterNode(h, p) for h, p in self._seeds], socket_timeout=self._timeout,
                    socket_connect_timeout=self._timeout, retry=Retry(NoBackoff(), 1), decode_responses=False,
                    **self._options)
            except (redis.exceptions.RedisError, OSError) as exc:
                self._fail(exc, "connect")
        return self._cluster

    @property
    def identity(self) -> str:
        """``redis-cluster://<host>:<port>,...``: the sorted seed nodes (no user or password)."""
        return cluster_identity(self.url)

    def _send(self, commands: list[tuple[int, list[Any]]]) -> list[Any]:
        """Run ``(slot, command args)`` commands: those of one node in one pipelined write on one of its pooled
        connections, every node written before any reply is read; replies (errors as values) in order.

        A reply that redirects (``MOVED``/``ASK``: a resharding or a failover moved the slot) or a connection that
        fails makes redis-py's cluster pipeline, which refreshes its slot map and follows redirections, run those
        commands again (running a read, or a newest-wins write, twice is harmless)."""
        client = self._client
        node_of = client.nodes_manager.get_node_from_slot
        by_node: dict[str, tuple[Any, list[int]]] = {}
        for i, (slot, _) in enumerate(commands):
            node = node_of(slot)
            by_node.setdefault(node.name, (node, []))[1].append(i)
        replies: list[Any] = [None] * len(commands)
        again: list[int] = []
        sent: list[tuple[Any, Any, list[int]]] = []
        try:
            for node, positions in by_node.values():
                pool = client.get_redis_connection(node).connection_pool
                conn = pool.get_connection()
                sent.append((pool, conn, positions))
                conn.send_packed_command(conn.pack_commands([commands[i][1] for i in positions]), check_health=False)
        except redis_failures():
            for pool, conn, _ in sent:
                conn.disconnect()  # a command may be half written on it
                pool.release(conn)
            again = list(range(len(commands)))
            sent = []
        for pool, conn, positions in sent:
            try:
                for n, i in enumerate(positions):
                    try:
                        replies[i] = conn.read_response()
                    except redis.exceptions.ResponseError as exc:
                        replies[i] = exc
                    except redis_failures():
                        conn.disconnect()
                        again.extend(positions[n:])
                        break
            finally:
                pool.release(conn)
        again += [i for i, r in enumerate(replies) if isinstance(r, (redis.exceptions.AskError,
                                                                    redis.exceptions.TryAgainError))]
        if again:
            client.nodes_manager.initialize()
            pipe = client.pipeline()
            for i in again:
                pipe.execute_command(*commands[i][1], target_nodes=[node_of(commands[i][0])])
            for i, reply in zip(again, pipe.execute(raise_on_error=False), strict=True):
                replies[i] = reply
        return replies

    def _slot_groups(self, names: list[str]) -> dict[int, list[int]]:
        """Positions of ``names`` per slot, in first-seen order."""
        groups: dict[int, list[int]] = {}
        for i, name in enumerate(names):
            groups.setdefault(key_slot(name.encode()), []).append(i)
        return groups

    def _mget(self, names: list[str]) -> list[bytes | None]:
        groups = self._slot_groups(names)
        replies = self._send([(slot, ["MGET", *[names[i] for i in positions]]) for slot, positions in groups.items()])
        out: list[bytes | None] = [None] * len(names)
        for positions, reply in zip(groups.values(), replies, strict=True):
            if isinstance(reply, Exception):
                raise reply
            for i, value in zip(positions, reply, strict=True):
                out[i] = value
        return out

    def read(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
             ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        """For each ``(view, keys)`` and key: ``None`` or ``(event_us, values)``; one ``MGET`` per slot, pipelined
        per node (an entity's views share its slot)."""
        names, plans = self._names(requests)
        if not names:
            return [[] for _ in requests]
        self._check_layout()
        try:
            blobs = self._mget(names)
        except redis_failures() as exc:
            self._fail(exc, "read")
        return self._decode(blobs, plans)

    def _async_client(self) -> Any:
        """The running loop's connections: per node a pipelined :class:`AsyncConnection` (plain TCP), or redis.asyncio's
        cluster client (TLS)."""
        loop = asyncio.get_running_loop()
        current = self._async
        if current is not None and current[0] is loop:
            return current[1]
        client: Any
        if self._options.get("ssl"):
            client = redis.asyncio.cluster.RedisCluster(
                startup_nodes=[redis.asyncio.cluster.ClusterNode(h, p) for h, p in self._seeds],
                socket_timeout=self._timeout, socket_connect_timeout=self._timeout, decode_responses=False,
                **self._options)
        else:
            client = NodeConnections(self._options, self._timeout)
        self._async = (loop, client)
        return client

    async def read_async(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
                         ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        """:meth:`read` on the running asyncio loop: one ``MGET`` per slot, those of one node leaving in one write on
        the loop's connection to it (the slot map is the sync client's). A redirection (``MOVED``/``ASK``) or a node
        that cannot be reached makes the read run again as :meth:`read` in a thread, which refreshes the slot map
        and follows redirections, or fails with the error of :meth:`read`."""
        names, plans = self._names(requests)
        if not names:
            return [[] for _ in requests]
        if self._cluster is None or not self._layout_checked():
            await asyncio.to_thread(self._check_layout)  # connects the sync client (the slot map) once
        client = self._async_client()
        groups = self._slot_groups(names)
        try:
            if isinstance(client, NodeConnections):
                node_of = self._client.nodes_manager.get_node_from_slot
                per_node: dict[str, tuple[Any, list[int], list[tuple[Any, ...]]]] = {}
                for n, (slot, positions) in enumerate(groups.items()):
                    node = node_of(slot)
                    entry = per_node.setdefault(node.name, (node, [], []))
                    entry[1].append(n)
                    entry[2].append(("MGET", *[names[i] for i in positions]))
                calls = [client.node(node).execute_many(commands) for node, _, commands in per_node.values()]
                answers = [await calls[0]] if len(calls) == 1 else await asyncio.gather(*calls)
                replies: list[Any] = [None] * len(groups)
                for (_, slots, _), answer in zip(per_node.values(), answers, strict=True):
                    for n, reply in zip(slots, answer, strict=True):
                        replies[n] = reply
            else:
                pipe = client.pipeline()
                for slot, positions in groups.items():
                    pipe.execute_command("MGET", *[names[i] for i in positions],
                                         target_nodes=[client.nodes_manager.get_node_from_slot(slot)])
                replies = await pipe.execute()
        except redis_failures():
            return await asyncio.to_thread(self.read, requests)
        blobs: list[bytes | None] = [None] * len(names)
        for positions, reply in zip(groups.values(), replies, strict=True):
            for i, value in zip(positions, reply, strict=True):
                blobs[i] = value
        return self._decode(blobs, plans)

    def _run_script(self, batches: Iterator[tuple[list[str], Any, list[bytes]]], action: str,
                    script: str = WRITE_SCRIPT, sha: str = WRITE_SCRIPT_SHA,
                    advance: Callable[[], tuple[str, int] | None] | None = None) -> int:
        """Per batch, one ``EVALSHA`` per slot (the keys of that slot and their values), pipelined per node; a
        ``NOSCRIPT`` answer loads the script on every primary and sends those slots again. Then the view's data
        timestamp is advanced."""
        stored = 0
        try:
            client = self._client
            names: list[str] = []
            blobs: list[bytes] = []
            first: Any = None
            for more_names, first, more_blobs in batches:  # ``first`` is the same for every batch of one call
                names += more_names
                blobs += more_blobs
                if len(blobs) >= self.group_rows:
                    stored += self._script_batch(client, names, first, blobs, script, sha)
                    names, blobs = [], []
            if blobs:
                stored += self._script_batch(client, names, first, blobs, script, sha)
            fresh = advance() if advance is not None else None
            if fresh is not None:
                self._advance(fresh[0], fresh[1], action)
        except redis_failures() as exc:
            self._fail(exc, action)
        return stored

    @staticmethod
    def _script_calls(names: list[str], first: Any, blobs: list[bytes], pairs: bool) -> dict[int, list[Any]]:
        """Per slot, the arguments of one script call: key count, keys, ``first`` and the keys' values. With
        ``pairs`` (an aggregate state's script), keys come two per value (state key, records key: one slot)."""
        step = 2 if pairs else 1
        groups: dict[int, tuple[list[str], list[bytes]]] = {}
        for j, blob in enumerate(blobs):
            keys = names[j * step:(j + 1) * step]
            slot_keys, slot_blobs = groups.setdefault(key_slot(keys[0].encode()), ([], []))
            slot_keys.extend(keys)
            slot_blobs.append(blob)
        return {slot: [len(k), *k, first, *b] for slot, (k, b) in groups.items()}

    def _script_batch(self, client: Any, names: list[str], first: Any, blobs: list[bytes], script: str,
                      sha: str) -> int:
        calls = self._script_calls(names, first, blobs, pairs=len(names) == 2 * len(blobs) != 0)
        pending = [(slot, ["EVALSHA", sha, *args]) for slot, args in calls.items()]
        stored = 0
        for attempt in range(2):
            missing = []
            for command, reply in zip(pending, self._send(pending), strict=True):
                if isinstance(reply, redis.exceptions.NoScriptError) and attempt == 0:
                    missing.append(command)
                elif isinstance(reply, Exception):
                    raise reply
                else:
                    stored += int(reply)
            if not missing:
                break
            client.script_load(script)  # to every primary
            pending = missing
        return stored

    def append_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], created_us: list[int],
                          records: list[bytes], newest_us: int | None = None) -> int:
        """``APPEND`` one frame per record to its entity's records key, pipelined per node (atomic per key, not
        per call: in a cluster one transaction cannot span slots)."""
        appends = self._appends(view, keys, created_us, records, newest_us)
        if appends is None:
            return 0
        names, blobs, newest = appends
        action = f"append records to aggregate view {view.name!r}"
        try:
            pipe = self._client.pipeline()
            for name, blob in zip(names, blobs, strict=True):
                pipe.append(name, blob)
            pipe.execute()
        except redis_failures() as exc:
            self._fail(exc, action)
        if newest is not None:
            self._advance(view.name, newest, action)
        return len(records)

    def _per_slot(self, command: str, names: list[str]) -> list[Any]:
        """One ``command`` per slot over ``names`` (keys), pipelined per node: the replies, slot by slot."""
        client = self._client
        pipe = client.pipeline()
        for slot, positions in self._slot_groups(names).items():
            pipe.execute_command(command, *[names[i] for i in positions],
                                 target_nodes=[client.nodes_manager.get_node_from_slot(slot)])
        return list(pipe.execute())

    def delete(self, view: ViewSpec, keys: list[tuple[Any, ...]]) -> int:
        """Remove the keys of these entities of one view: one ``UNLINK`` per slot; return how many were stored (an
        aggregate view's entity counts when it had its state or records: both keys share the entity's slot)."""
        action = f"delete entities of feature view {view.name!r}"
        if view.aggregate:
            state_names, record_names = self._entity_names(view, keys, range(len(keys)))
            pairs = list(dict.fromkeys(zip(state_names, record_names, strict=True)))
            try:
                client = self._client
                pipe = client.pipeline()
                for pair in pairs:
                    node = client.nodes_manager.get_node_from_slot(key_slot(pair[0].encode()))
                    pipe.execute_command("UNLINK", *pair, target_nodes=[node])
                return sum(int(n) > 0 for n in pipe.execute()) if pairs else 0
            except redis_failures() as exc:
                self._fail(exc, action)
        names, _ = self._names([(view, keys)])
        try:
            return sum(int(n) for n in self._per_slot("UNLINK", list(dict.fromkeys(names)))) if names else 0
        except redis_failures() as exc:
            self._fail(exc, action)

    def ping(self) -> None:
        """Raise :class:`~featurestore.errors.OnlineStoreUnavailableError` unless every primary answers."""
        try:
            self._client.ping(target_nodes=RedisCluster.PRIMARIES)
        except redis_failures() as exc:
            self._fail(exc, "ping")

    def close(self) -> None:
        """Close the connections of this store."""
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __repr__(self) -> str:
        return f"RedisClusterOnlineStore({redact_url(self.url)!r}, project={self.project!r})"

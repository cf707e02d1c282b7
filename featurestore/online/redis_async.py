"""A minimal asyncio Redis connection for the read path: one pipelined connection per event loop, hiredis parser.

``RedisOnlineStore.read_async`` sends its ``MGET`` here: concurrent lookups share one connection
(their commands are pipelined, replies come back in order), so a read costs one parse, no thread
hop and no connection-pool checkout, and the commands of the lookups running in one event-loop
iteration leave in one socket write (one system call, one read for Redis). Only plain TCP URLs
(``redis://``, with an optional user, password and database) use it; other URLs (TLS, unix
sockets) use redis.asyncio.
A connection error, or a reply later than the socket timeout, closes the connection (replies in
flight would be misattributed) and fails every command waiting on it; the next command reconnects.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import hiredis
import redis
from redis.connection import Connection, parse_url


def _pack_python(*args: Any) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


_pack_command = getattr(hiredis, "pack_command", None)  # hiredis >= 2.1


def _pack(*args: Any) -> bytes:
    """A RESP command (hiredis's C packer when it has one)."""
    if _pack_command is not None:
        return _pack_command(args)  # type: ignore[no-any-return]
    return _pack_python(*args)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiters: deque[asyncio.Future[Any]] = deque()
        self.transport: Any = None  # asyncio's or uvloop's transport
        self.lost: Exception | None = None
        self.pending: list[bytes] = []  # commands to send at the end of this loop iteration

    def write(self, packed: bytes) -> None:
        """Queue a command; the commands queued in one loop iteration leave in one socket write."""
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append(packed)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        if self.lost is None and self.transport is not None and pending:
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiters = self.waiters
        while (reply := self.reader.gets()) is not False:
            if not waiters:
                continue
            fut = waiters.popleft()
            if fut.done():
                continue
            if isinstance(reply, hiredis.ReplyError):
                fut.set_exception(redis.exceptions.ResponseError(str(reply)))
            else:
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.exceptions.ConnectionError(f"connection lost: {exc or 'closed by the server'}"))

    def fail(self, exc: Exception) -> None:
        self.lost = self.lost or exc
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()


class AsyncConnection:
    """One pipelined connection of the running loop to a plain-TCP Redis (see the module docstring)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.options = parse_url(url)
        self.timeout = timeout
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    @staticmethod
    def supports(url: str) -> bool:
        try:
            options = parse_url(url)
        except ValueError:
            return False
        return "path" not in options and options.get("connection_class", Connection) is Connection

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        host, port = self.options.get("host", "localhost"), int(self.options.get("port", 6379))
        try:
            async with asyncio.timeout(self.timeout):
                _, proto = await loop.create_connection(_Protocol, host, port)
                setup = []
                if self.options.get("password") is not None:
                    user, password = self.options.get("username"), self.options["password"]
                    setup.append(("AUTH", user, password) if user else ("AUTH", password))
                if int(self.options.get("db", 0) or 0):
                    setup.append(("SELECT", int(self.options["db"])))
                for command in setup:
                    await self._send(proto, _pack(*command))
        except TimeoutError:
            raise redis.exceptions.TimeoutError(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise redis.exceptions.ConnectionError(f"error connecting to {host}:{port}: {exc}") from None
        return proto

    async def _send(self, proto: _Protocol, packed: bytes) -> Any:
        if proto.lost is not None or proto.transport is None:
            raise proto.lost or redis.exceptions.ConnectionError("not connected")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        proto.waiters.append(fut)
        proto.write(packed)
        return await fut

    async def _protocol(self) -> _Protocol:
        proto = self._proto
        if proto is not None and proto.lost is None:
            return proto
        if self._connecting is None:  # one connect for all the commands waiting for it
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            proto = await asyncio.shield(connecting)
        finally:
            if self._connecting is connecting and connecting.done():
                self._connecting = None
        self._proto = proto
        return proto

    async def execute(self, *args: Any) -> Any:
        """Send one command and await its reply (redis-py's exceptions on failure)."""
        proto = await self._protocol()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.timeout, proto.fail,
                                redis.exceptions.TimeoutError(f"no reply within {self.timeout} s"))
        try:
            return await self._send(proto, _pack(*args))
        finally:
            timer.cancel()

    async def execute_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send several commands in one write and await their replies, in order (the first error raised)."""
        proto = await self._protocol()
        if proto.lost is not None or proto.transport is None:
            raise proto.lost or redis.exceptions.ConnectionError("not connected")
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.timeout, proto.fail,
                                redis.exceptions.TimeoutError(f"no reply within {self.timeout} s"))
        try:
            futures = []
            for _ in commands:
                fut: asyncio.Future[Any] = loop.create_future()
                proto.waiters.append(fut)
                futures.append(fut)
            proto.write(b"".join([_pack(*args) for args in commands]))
            return [await fut for fut in futures]
        finally:
            timer.cancel()

    def close(self) -> None:
        if self._proto is not None:
            self._proto.fail(redis.exceptions.ConnectionError("closed"))
            self._proto = None

"""How a Redis Cluster's nodes are named and reached: seed URLs, the identity, asyncio connections per node."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit

from featurestore.online.redis_async import AsyncConnection


class NodeConnections:
    """The running loop's :class:`AsyncConnection` per node (``host:port``), made on first use."""

    def __init__(self, options: dict[str, Any], timeout: float) -> None:
        auth = ""
        if options.get("password") is not None:
            auth = f"{quote(options.get('username') or '', safe='')}:{quote(options['password'], safe='')}@"
        self._auth = auth
        self._timeout = timeout
        self._by_node: dict[str, AsyncConnection] = {}

    def node(self, node: Any) -> AsyncConnection:
        conn = self._by_node.get(node.name)
        if conn is None:
            conn = self._by_node[node.name] = AsyncConnection(f"redis://{self._auth}{node.host}:{node.port}/0",
                                                              self._timeout)
        return conn

    def close(self) -> None:
        for conn in self._by_node.values():
            conn.close()
        self._by_node.clear()


def cluster_seeds(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The seed nodes ``[(host, port), ...]`` of a cluster URL and its connection options (user, password, TLS).

    >>> cluster_seeds("redis://:pw@10.0.0.1:7000,10.0.0.2:7001")
    ([('10.0.0.1', 7000), ('10.0.0.2', 7001)], {'password': 'pw'})
    >>> cluster_seeds("rediss://cache")[0]
    [('cache', 6379)]
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"a Redis Cluster URL starts with redis:// or rediss://, not {parts.scheme!r}://")
    netloc = parts.netloc
    auth, _, hosts = netloc.rpartition("@")
    options: dict[str, Any] = {}
    if auth:
        user, _, password = auth.partition(":")
        if user:
            options["username"] = unquote(user)
        if password:
            options["password"] = unquote(password)
    if parts.scheme == "rediss":
        options["ssl"] = True
    if parts.path.strip("/") not in ("", "0"):
        raise ValueError("Redis Cluster has only database 0: leave the /db out of the URL")
    seeds: list[tuple[str, int]] = []
    for host in hosts.split(","):
        name, _, port = host.strip().rpartition(":") if ":" in host else (host.strip(), "", "")
        name = name.strip("[]") or "localhost"
        if not port:
            seeds.append((name, 6379))
        elif port.isdigit() and 0 < int(port) < 65536:
            seeds.append((name, int(port)))
        else:
            raise ValueError(f"bad port {port!r} in {host!r}")
    return seeds, options


def cluster_identity(url: str) -> str:
    """``redis-cluster://<seed>,<seed>`` sorted, loopback names as ``127.0.0.1``, no credentials (watermarks are
    kept per identity).

    >>> cluster_identity("redis://:pw@localhost:7001,127.0.0.1:7000")
    'redis-cluster://127.0.0.1:7000,127.0.0.1:7001'
    """
    seeds, _ = cluster_seeds(url)
    names = sorted({f"{'127.0.0.1' if h in ('localhost', '::1') else h}:{p}" for h, p in seeds})
    return "redis-cluster://" + ",".join(names)

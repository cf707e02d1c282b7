"""Real server processes for the HTTP tests.

Each server is ``featurestore serve`` in a subprocess, on a free port, over a temporary copy of
the example repo (plus a typed push-source view) whose data was generated, applied and
materialized with the CLI into a private redis-server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from featurestore import FeatureStore
from featurestore.config import load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "definitions"
REDIS_DB = 7  # the session's redis-server, on a database no other test flushes

TYPED_MODULE = '''\
"""Every value type, fed by a push source; and a view keyed by bytes on the same source."""

from featurestore import Entity, FeatureView, Field, ParquetSource, PushSource
from featurestore.types import Array, Bool, Bytes, Float32, Float64, Int32, Int64, String, Timestamp

item = Entity(name="item", join_keys=["item_id"])
blob = Entity(name="blob", join_keys=["blob_id"])
typed_push = PushSource(name="typed_push", batch_source=ParquetSource(path="data/typed.parquet",
                                                                      created_timestamp_field="created"))
typed = FeatureView(
    name="typed",
    entities=[item],
    schema=[Field(name="item_id", dtype=String), Field(name="i32", dtype=Int32), Field(name="i64", dtype=Int64),
            Field(name="f32", dtype=Float32), Field(name="f64", dtype=Float64), Field(name="s", dtype=String),
            Field(name="b", dtype=Bool), Field(name="raw", dtype=Bytes), Field(name="ts", dtype=Timestamp),
            Field(name="arr", dtype=Array(Int64)), Field(name="farr", dtype=Array(Float64))],
    source=typed_push,
)
by_blob = FeatureView(name="by_blob", entities=[blob], schema=[Field(name="blob_id", dtype=Bytes),
                                                               Field(name="f64", dtype=Float64)], source=typed_push)
'''
TYPED_SCHEMA = pa.schema([
    ("item_id", pa.string()), ("blob_id", pa.binary()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
    ("created", pa.timestamp("us", tz="UTC")), ("i32", pa.int32()), ("i64", pa.int64()), ("f32", pa.float32()),
    ("f64", pa.float64()), ("s", pa.string()), ("b", pa.bool_()), ("raw", pa.binary()),
    ("ts", pa.timestamp("us", tz="UTC")), ("arr", pa.list_(pa.int64())), ("farr", pa.list_(pa.float64())),
])


def featurestore_script() -> str:
    local = Path(sys.executable).parent / "featurestore"
    found = str(local) if local.exists() else shutil.which("featurestore")
    assert found, "the featurestore console script is not installed"
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEATURESTORE_", "PROMETHEUS_"))}
    return {**env, "FEATURESTORE_REDIS_URL": redis_url, **extra}


def run_cli(repo: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([featurestore_script(), "--repo", str(repo), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"featurestore {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def make_repo(folder: Path, redis_url: str, server: dict[str, Any] | None = None,
              modules: dict[str, str] | None = None, project: str | None = None,
              materialize: tuple[str, ...] = ("driver_stats", "customer_profile")) -> Path:
    """A copy of the example repo (+ the typed view and ``modules``), generated, applied, and the
    ``materialize`` views materialized."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("data", "__pycache__"))
    config = yaml.safe_load((folder / "featurestore.yaml").read_text())
    config["server"] = {"registry_poll_seconds": 0.5, **(server or {})}
    config["offline_store"] = {**config.get("offline_store", {}), "threads": 1}  # a shared 2-core machine
    if project:
        config["project"] = project
    (folder / "featurestore.yaml").write_text(yaml.safe_dump(config))
    for name, text in {"typed.py": TYPED_MODULE, **(modules or {})}.items():
        (folder / name).write_text(text)
    env = base_env(redis_url)
    run_cli(folder, env, "generate-data")
    pq.write_table(TYPED_SCHEMA.empty_table(), folder / "data" / "typed.parquet")
    run_cli(folder, env, "apply")
    if materialize:
        run_cli(folder, env, "materialize-incremental", "now", "--views", ",".join(materialize))
    return folder


def local_store(repo: Path, redis_url: str) -> FeatureStore:
    """The same repo, in this process (to compare the HTTP answers with the library's)."""
    return FeatureStore(repo, config=load_config(repo, env={"FEATURESTORE_REDIS_URL": redis_url}))


@dataclass
class Server:
    """A ``featurestore serve`` child process."""

    repo: Path
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, **kwargs: Any) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=60, **kwargs)
        self.clients.append(client)
        return client

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(repo: Path, env: dict[str, str], timeout: float = 60.0, *args: str) -> Server:
    port = free_port()
    log_path = repo / f"server-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([featurestore_script(), "serve", "--repo", str(repo), "--port", str(port), *args],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(repo, f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the server did not answer /health within {timeout} s:\n{server.log()}")


def redis_db(redis_url: str, db: int) -> str:
    """The URL of database ``db`` of the session's redis-server, emptied (each module of servers has its own)."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{db}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture(scope="session")
def server_redis_url(redis_url: str) -> str:
    return redis_db(redis_url, REDIS_DB)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory, server_redis_url: str) -> Iterator[Server]:
    """The main server: the example repo with small limits (max_entities 100, max_body_bytes 64 KiB)."""
    repo = make_repo(tmp_path_factory.mktemp("served") / "repo", server_redis_url,
                     server={"max_entities": 100, "max_body_bytes": 65536})
    server = start_server(repo, base_env(server_redis_url))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def store(served: Server, server_redis_url: str) -> Iterator[FeatureStore]:
    fs = local_store(served.repo, server_redis_url)
    yield fs
    fs.close()


@pytest.fixture
def client(served: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=60) as c:
        yield c

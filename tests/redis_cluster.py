"""A local Redis Cluster for tests: 3 masters from ``redis-server --cluster-enabled yes``, joined by
``redis-cli --cluster create`` (about 2 s), each on a free loopback port whose cluster bus port (+10000) is free too."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """``count`` ports below 55536 whose bus port (port + 10000) is free too."""
    found: list[int] = []
    while len(found) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 55536 and port not in found and _free(port + 10000):
            found.append(port)
    return found


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _cluster_ok(cli: str, port: int) -> bool:
    out = subprocess.run([cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=5)
    return "cluster_state:ok" in out.stdout


@dataclass
class ClusterNodeProcess:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, binary: str) -> None:
        """Start (or restart, rejoining with its nodes.conf) this node."""
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000", "--dir", str(self.directory),
             "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class LocalCluster:
    """Three masters on loopback; ``url`` lists them all (``redis://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3``)."""

    nodes: list[ClusterNodeProcess] = field(default_factory=list)
    binary: str = "redis-server"
    cli: str = "redis-cli"

    @property
    def url(self) -> str:
        return "redis://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def wait_ok(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(_ping(n.port) and _cluster_ok(self.cli, n.port) for n in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the local Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    def restart(self, node: ClusterNodeProcess) -> None:
        """Start a stopped node again (it rejoins from its nodes.conf, empty) and wait for the cluster."""
        node.start(self.binary)
        self.wait_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def cluster_tools() -> tuple[str, str] | None:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


def start_cluster(directory: Path, masters: int = 3) -> LocalCluster:
    """Start ``masters`` fresh nodes in ``directory`` and join them into one cluster (no replicas)."""
    tools = cluster_tools()
    if tools is None:
        raise FileNotFoundError("redis-server and redis-cli are needed for a local Redis Cluster")
    cluster = LocalCluster(binary=tools[0], cli=tools[1])
    for port in _ports(masters):
        d = directory / f"n{port}"
        d.mkdir(parents=True, exist_ok=True)
        cluster.nodes.append(ClusterNodeProcess(port, d))
    try:
        for node in cluster.nodes:
            node.start(cluster.binary)
        deadline = time.monotonic() + 10
        while not all(_ping(n.port) for n in cluster.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server --cluster-enabled yes did not start")
            time.sleep(0.02)
        addresses = [f"127.0.0.1:{n.port}" for n in cluster.nodes]
        done = subprocess.run([cluster.cli, "--cluster", "create", *addresses, "--cluster-replicas", "0",
                               "--cluster-yes"], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-500:]} {done.stderr[-500:]}")
        cluster.wait_ok()
    except BaseException:
        cluster.stop()
        raise
    return cluster

"""HTTP lookups against a real `featurestore serve`: latency and throughput.

Starts a private redis-server (loopback, no persistence) and `featurestore serve` (uvicorn with
httptools and uvloop, 1 worker unless --workers) on a temporary copy of the example repo plus a
10-feature view, generated, applied and materialized. Then, per case, N sequential requests from
one keep-alive httpx client (p50/p99 and requests/s), the library's own lookup in process for
reference, and, if `wrk` is installed, a short wrk run per case (<= 10 s each).

    python -m bench.http [--requests 2000] [--wrk-seconds 5] [--connections 1,8] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
STATS = ["driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:avg_daily_trips"]
WIDE = [f"wide:f{i}" for i in range(10)]
DRIVERS = list(range(1001, 1051))
WIDE_MODULE = '''\
from datetime import timedelta

from driver_stats import driver

from featurestore import FeatureView, Field, ParquetSource
from featurestore.types import Float64, Int64, String

wide = FeatureView(
    name="wide", entities=[driver], ttl=timedelta(days=30),
    schema=[Field(name=f"f{i}", dtype=Float64 if i < 6 else Int64 if i < 8 else String) for i in range(10)],
    source=ParquetSource(path="data/wide.parquet"),
)
'''


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    body: dict[str, Any]
    accept: str = "application/json"


def cases() -> list[Case]:
    hundred = [DRIVERS[i % len(DRIVERS)] for i in range(100)]
    return [
        Case("feast 1 entity x 3 features", "/get-online-features",
             {"features": STATS, "entities": {"driver_id": [1001]}}),
        Case("feast 1 entity x 10 features", "/get-online-features",
             {"features": WIDE, "entities": {"driver_id": [1001]}}),
        Case("feast 100 entities x 3 features", "/get-online-features",
             {"features": STATS, "entities": {"driver_id": hundred}}),
        Case("native 1 x 3 (json)", "/v1/online", {"features": STATS, "entities": [{"driver_id": 1001}]}),
        Case("native 100 x 3 (json rows)", "/v1/online",
             {"features": STATS, "entities": [{"driver_id": d} for d in hundred]}),
        Case("native 100 x 3 (json columns)", "/v1/online",
             {"features": STATS, "entities": {"driver_id": hundred}, "orient": "columns"}),
        Case("native 100 x 3 (msgpack columns)", "/v1/online",
             {"features": STATS, "entities": {"driver_id": hundred}, "orient": "columns"}, "application/msgpack"),
        Case("native 100 x 3 (arrow)", "/v1/online", {"features": STATS, "entities": {"driver_id": hundred}},
             "application/vnd.apache.arrow.stream"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.TransportError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {seconds} s")


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def answers() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True

    try:
        wait_until(answers, 10, "redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


def cli(repo: Path, env: dict[str, str], *args: str) -> None:
    script = Path(sys.executable).parent / "featurestore"
    subprocess.run([str(script), "--repo", str(repo), *args], env=env, check=True, capture_output=True)


def make_repo(folder: Path, env: dict[str, str]) -> Path:
    repo = folder / "repo"
    shutil.copytree(ROOT / "definitions", repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    (repo / "wide.py").write_text(WIDE_MODULE)
    cli(repo, env, "generate-data")
    now = datetime.now(UTC)
    n = len(DRIVERS)
    pq.write_table(pa.table({
        "driver_id": pa.array(DRIVERS, pa.int64()),
        "event_timestamp": pa.array([now - timedelta(hours=1)] * n, pa.timestamp("us", tz="UTC")),
        **{f"f{i}": (pa.array([d * 0.5 + i for d in DRIVERS], pa.float64()) if i < 6
                     else pa.array([d + i for d in DRIVERS], pa.int64()) if i < 8
                     else pa.array([f"value-{d}-{i}" for d in DRIVERS])) for i in range(10)},
    }), repo / "data" / "wide.parquet")
    cli(repo, env, "apply")
    cli(repo, env, "materialize-incremental", "now")
    return repo


@contextmanager
def server(repo: Path, env: dict[str, str], workers: int) -> Iterator[str]:
    port = free_port()
    script = Path(sys.executable).parent / "featurestore"
    proc = subprocess.Popen([str(script), "serve", "--repo", str(repo), "--port", str(port), "--workers",
                             str(workers), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/ready", timeout=1).status_code == 200, 60, "featurestore serve")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def httpx_run(url: str, case: Case, n: int) -> tuple[float, float, float, int]:
    content = orjson.dumps(case.body)
    headers = {"Content-Type": "application/json", "Accept": case.accept}
    with httpx.Client(base_url=url, headers=headers) as client:
        for _ in range(min(200, n)):  # warm up: connection, plan caches
            client.post(case.path, content=content).raise_for_status()
        times = []
        start = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            r = client.post(case.path, content=content)
            times.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise RuntimeError(f"{case.name}: {r.status_code} {r.text[:300]}")
        total = time.perf_counter() - start
    p50, p99 = percentiles(times)
    return p50, p99, n / total, len(r.content)


def library_run(repo: Path, redis_url: str, case: Case, n: int) -> float:
    """The library's own lookup, in process (what HTTP adds to it is the rest)."""
    from featurestore import FeatureStore
    from featurestore.config import load_config

    store = FeatureStore(repo, config=load_config(repo, env={"FEATURESTORE_REDIS_URL": redis_url}))
    entities = case.body["entities"]
    try:
        for _ in range(200):
            store.get_online_features(case.body["features"], entities)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            store.get_online_features(case.body["features"], entities)
            times.append(time.perf_counter() - t0)
    finally:
        store.close()
    return percentiles(times)[0]


WRK_LINE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$")


def wrk_run(url: str, case: Case, seconds: int, connections: int, folder: Path) -> tuple[float, float, float] | None:
    binary = shutil.which("wrk")
    if binary is None:
        return None
    script = folder / "wrk.lua"
    body = orjson.dumps(case.body).decode().replace("\\", "\\\\").replace("'", "\\'")
    script.write_text(f"wrk.method = 'POST'\nwrk.body = '{body}'\nwrk.headers['Content-Type'] = 'application/json'\n"
                      f"wrk.headers['Accept'] = '{case.accept}'\n")
    out = subprocess.run([binary, "-t1", f"-c{connections}", f"-d{min(seconds, 10)}s", "--latency", "-s", str(script),
                          f"{url}{case.path}"], capture_output=True, text=True, check=True).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    found = {m.group(1): float(m.group(2)) * scale[m.group(3)] for m in map(WRK_LINE.match, out.splitlines()) if m}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if "Non-2xx" in out or not rate or set(found) != {"50", "99"}:
        raise RuntimeError(f"wrk failed for {case.name}:\n{out}")
    return found["50"], found["99"], float(rate.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="sequential httpx requests per case")
    parser.add_argument("--wrk-seconds", type=int, default=5, help="wrk duration per case (max 10); 0: no wrk")
    parser.add_argument("--connections", default="1,8", help="wrk connections, comma-separated")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fs-bench-http-") as tmp, redis_server(Path(tmp)) as redis_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
        env["FEATURESTORE_REDIS_URL"] = redis_url
        repo = make_repo(Path(tmp), env)
        rows: list[list[str]] = []
        with server(repo, env, args.workers) as url:
            for case in cases():
                p50, p99, rate, size = httpx_run(url, case, args.requests)
                lib = library_run(repo, redis_url, case, args.requests)
                rows.append([case.name, "httpx, 1 connection", f"{p50:.3f}", f"{p99:.3f}", f"{rate:,.0f}",
                             f"{lib:.3f}", f"{size:,}"])
                print(" | ".join(rows[-1]), flush=True)
            if args.wrk_seconds > 0 and shutil.which("wrk"):
                for case in [c for c in cases() if c.name.startswith(("feast 1 entity x 3", "native 1 x 3",
                                                                        "feast 100", "native 100 x 3 (json col"))]:
                    for conns in [int(c) for c in args.connections.split(",") if c]:
                        got = wrk_run(url, case, args.wrk_seconds, conns, Path(tmp))
                        if got:
                            rows.append([case.name, f"wrk, {conns} connection{'s' if conns > 1 else ''}",
                                         f"{got[0]:.3f}", f"{got[1]:.3f}", f"{got[2]:,.0f}", "", ""])
                            print(" | ".join(rows[-1]), flush=True)
            elif args.wrk_seconds > 0:
                print("(wrk not installed: apt-get install -y wrk)")
    headers = ["case", "client", "p50 ms", "p99 ms", "requests/s", "library p50 ms", "answer bytes"]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    print(f"\nHTTP lookups, `featurestore serve --workers {args.workers}` + Redis on loopback, {os.cpu_count()} cores:")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()

"""What every benchmark needs: workloads in fresh processes, servers on free ports, the machine's description."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_json(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv`` and parse the JSON object on its last stdout line; failures become ``{"error": ...}``."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"error": f"exit {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def best_of(runs: list[dict[str, Any]], key: str = "seconds") -> dict[str, Any]:
    """The fastest run, with the highest peak RSS and the fastest warm call of all runs; the first error if every
    run failed."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    best = dict(min(ok, key=lambda r: r[key]))
    if "peak_rss_mb" in best:
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    if all("warm_seconds" in r for r in ok):
        best["warm_seconds"] = min(r["warm_seconds"] for r in ok)
    best["runs"] = len(ok)
    return best


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def server(argv: list[str], port: int, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[str]:
    """Start a server process group listening on ``port``; yields its base URL, then kills the group."""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=log,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while not _answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    why = log.read()[-500:].strip()
                    raise RuntimeError(f"{' '.join(argv[:4])}... did not listen on port {port}: {why}")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(timeout=15)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue


def _first_line(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, str]:
    """CPU, cores, memory, OS and the versions that matter, for the results header."""
    cpu = "unknown"
    meminfo = {}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
        meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    except (OSError, StopIteration):
        pass
    mem_gb = int(meminfo.get("MemTotal", "0 kB").split()[0]) / 2**20
    import duckdb
    import pyarrow

    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{mem_gb:.0f} GB",
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "redis": _first_line(["redis-server", "--version"]),
        "wrk": _first_line(["wrk", "--version"]).split(" Copyright")[0] if shutil.which("wrk") else "not installed",
        "git": _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
    }

"""The loaded HTTP cases through ``wrk`` (a C load generator), when it is installed: ``make bench`` installs it.

``bench/loadgen.py`` is a Python client: on 2 cores shared with the server it cannot keep a fast server busy
(on a FastAPI hello world at 16 connections it reached 4,700-6,600 req/s where ``wrk -t2 -c16`` reached
7,600-9,800 in the same minute), so the runner uses wrk for every HTTP case when it is on ``PATH`` and says
which client measured each case. wrk runs closed-loop like loadgen: each connection sends the same POST and
waits for the answer. A Lua script sets the body and prints one JSON line with the counts and the
latency percentiles when wrk is done; :func:`run` turns it into loadgen's result keys.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local f = assert(io.open(%(body)s, "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "status": %%d, "timeout": %%d, "p50_us": %%f, "p99_us": %%f}\\n', summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50),
    latency:percentile(99)))
end
"""


def available() -> bool:
    """Whether ``wrk`` is on ``PATH``."""
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk(url: str, script: Path, connections: int, seconds: int, timeout: float) -> dict[str, Any]:
    threads = min(2, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        why = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1][:200]
        return {"error": f"wrk exit {proc.returncode}: {why}"}
    found: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    return found


def run(url: str, body_file: Path, connections: int, seconds: float, warmup: float) -> dict[str, Any]:
    """``wrk -t2 -c<connections>`` on ``url`` (after an unmeasured run of ``warmup`` s); loadgen's result keys.

    wrk counts whole seconds, so both durations are rounded up (a 0.3 s case runs 1 s). Non-2xx answers and
    socket errors count as errors; requests/s counts the good answers only.
    """
    script = body_file.with_suffix(".lua")
    script.write_text(SCRIPT % {"body": _lua_string(str(body_file.resolve()))})
    if warmup > 0:
        _wrk(url, script, connections, math.ceil(warmup), timeout=math.ceil(warmup) + 60)
    found = _wrk(url, script, connections, math.ceil(seconds), timeout=math.ceil(seconds) + 60)
    if "error" in found:
        return found
    errors = sum(found[k] for k in ("connect", "read", "write", "status", "timeout"))
    good = found["requests"] - found["status"]
    elapsed = found["duration_us"] / 1e6
    if good <= 0:
        return {"error": f"no successful answer from {url}: {found['status']} non-2xx, {errors} errors"}
    return {"requests": good, "errors": errors, "seconds": elapsed, "connections": connections,
            "rps": good / elapsed if elapsed else 0.0, "p50_ms": found["p50_us"] / 1000,
            "p99_ms": found["p99_us"] / 1000, "client": "wrk"}

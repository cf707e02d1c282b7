"""The demo's HTTP step: ``featurestore serve`` in the background, a lookup, and readable output.

Standard library only (``subprocess``, ``urllib``): the client side of the demo needs no extra
package. :func:`serving` starts the server on a free loopback port, waits for ``/ready`` and always
stops it (on success, error or Ctrl-C).

>>> print(format_json({"features": ["a:b"], "entities": {"id": [1, 2]}}))
{"features": ["a:b"], "entities": {"id": [1, 2]}}
>>> print(format_json({"values": [1, 2], "statuses": ["PRESENT", "PRESENT"]}, width=30))
{"values": [1, 2],
 "statuses": ["PRESENT",
              "PRESENT"]}
"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featurestore.errors import FeatureStoreError

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via an HTTP proxy


class DemoError(FeatureStoreError):
    """The demo's server could not be started or answered an error."""


@dataclass
class BackgroundServer:
    """A ``featurestore serve`` child process on ``url``; its output goes to ``log_path``."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_seconds: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT``) and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_command(repo: Path, port: int) -> list[str]:
    """``featurestore serve`` run by this same Python (no reliance on PATH or the console script).

    ``-P``: the current folder is not put on the import path, so a user's ``server.py`` (or
    ``featurestore.py``) there cannot shadow the package.
    """
    return [sys.executable, "-P", "-m", "featurestore.cli", "--repo", str(repo), "serve",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]


def _start(repo: Path, env: dict[str, str], log_path: Path) -> BackgroundServer:
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(serve_command(repo, port), env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    return BackgroundServer(f"http://127.0.0.1:{port}", proc, log_path)


def _wait_ready(server: BackgroundServer, timeout: float) -> bool:
    """True once ``/ready`` answers 200; False if the process exits; DemoError after ``timeout``."""
    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < timeout:
        if server.process.poll() is not None:
            return False
        try:
            with _OPENER.open(f"{server.url}/ready", timeout=2) as resp:
                if resp.status == 200:
                    server.ready_seconds = time.monotonic() - start
                    return True
        except urllib.error.HTTPError as err:  # 503 while the registry loads or the store is down
            last = err.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise DemoError(f"the server at {server.url} was not ready after {timeout:.0f}s: {last} "
                    f"(log: {server.log_path})")


@contextmanager
def serving(repo: Path, env: dict[str, str], log_path: Path,
            timeout: float = READY_TIMEOUT) -> Iterator[BackgroundServer]:
    """A ready ``featurestore serve`` over ``repo`` with environment ``env``; stopped on exit, always."""
    for _attempt in range(3):
        server = _start(repo, env, log_path)
        try:
            if _wait_ready(server, timeout):
                yield server
                return
        finally:
            server.stop()
        if "address already in use" not in server.log_tail(20).lower():
            break  # the free port was taken meanwhile: try another one; any other exit is an error
    tail = server.log_tail(3).replace("\n", " | ") or "no output"
    raise DemoError(f"featurestore serve exited with code {server.process.returncode}: {tail} "
                    f"(log: {log_path})")


def post_json(url: str, body: Any, timeout: float = 30.0) -> Any:
    """POST ``body`` as JSON and return the decoded answer; DemoError naming the status on failure."""
    return _json(urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                        headers={"Content-Type": "application/json"}), timeout)


def get_json(url: str, timeout: float = 30.0) -> Any:
    """GET ``url`` and return the decoded JSON; DemoError naming the status on failure."""
    return _json(urllib.request.Request(url, method="GET"), timeout)


def _json(request: urllib.request.Request, timeout: float) -> Any:
    what = f"{request.get_method()} {request.full_url}"
    try:
        with _OPENER.open(request, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise DemoError(f"{what} answered {err.code}: {err.read().decode(errors='replace')}") from None
    except (urllib.error.URLError, OSError) as err:
        raise DemoError(f"{what} failed: {err}") from None


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def format_json(value: Any, column: int = 0, width: int = 100) -> str:
    """JSON, indented only as much as needed to keep lines within ``width`` (``column``: where it starts).

    A value that fits stays on one line; otherwise an object puts one member per line and a list
    of scalars wraps, both aligned after their opening bracket. The result is valid JSON."""
    inline = json.dumps(value, ensure_ascii=False)
    if column + len(inline) <= width or _scalar(value) or not value:
        return inline
    sep = ",\n" + " " * (column + 1)
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            prefix = json.dumps(key, ensure_ascii=False) + ": "
            parts.append(prefix + format_json(item, column + 1 + len(prefix), width))
        return "{" + sep.join(parts) + "}"
    if all(_scalar(item) for item in value):
        lines: list[str] = []
        line = ""
        for text in (json.dumps(item, ensure_ascii=False) for item in value):
            if line and column + 1 + len(line) + len(text) + 2 > width:
                lines.append(line)
                line = ""
            line = f"{line}, {text}" if line else text
        return "[" + sep.join([*lines, line]) + "]"
    return "[" + sep.join(format_json(item, column + 1, width) for item in value) + "]"


def curl_command(url: str, body: Any) -> str:
    """The ``curl`` command line that sends ``body`` to ``url`` (a shell can run it as printed)."""
    data = format_json(body, column=8, width=92)
    quoted = f"'{data}'" if "'" not in data else shlex.quote(json.dumps(body))
    return (f"$ curl -s -X POST {url} \\\n"
            "    -H 'Content-Type: application/json' \\\n"
            f"    -d {quoted}")

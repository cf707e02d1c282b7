"""A real browser for the UI tests: Playwright for Python driving Debian's Chromium (``/usr/bin/chromium``, installed
by ``deploy/install-browser.sh``), never a browser Playwright downloads.

Playwright is pinned (pyproject.toml) to the release built for the Chromium major version Debian ships; a
mismatch is reported with the two versions (re-pin Playwright). Without a browser the tests skip, unless
``FEATURESTORE_REQUIRE_BROWSER=1`` (CI), where they fail.

Also here: a small reverse proxy serving the UI under a path prefix, as nginx would (``proxy_pass`` with the
prefix stripped and ``X-Forwarded-Prefix`` set), so the browser sees the UI exactly as behind a proxy.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REQUIRE = "FEATURESTORE_REQUIRE_BROWSER"
CHROMIUM = os.environ.get("FEATURESTORE_CHROMIUM", "/usr/bin/chromium")


def unavailable(reason: str) -> None:
    """Skip, or fail when the browser is required."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1: run deploy/install-browser.sh)")
    pytest.skip(reason)


def major(version: str) -> int | None:
    m = re.search(r"(\d+)\.\d+\.\d+", version)
    return int(m.group(1)) if m else None


def chromium_version(path: str = CHROMIUM) -> str:
    done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def playwright_chromium() -> str:
    """The Chromium version the installed Playwright was built for (its ``browsers.json``)."""
    import playwright

    data = json.loads((Path(playwright.__file__).parent / "driver" / "package" / "browsers.json").read_text())
    return next(b["browserVersion"] for b in data["browsers"] if b["name"] == "chromium")


def check_pair() -> tuple[str, str]:
    """``(Debian's chromium, Playwright's)``; skips or fails when either is missing or the majors differ."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("playwright is not installed (the dev extra pins it)")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        unavailable(f"no browser at {CHROMIUM}")
    installed, built_for = chromium_version(), playwright_chromium()
    if major(installed) != major(built_for):
        unavailable(f"Playwright {_playwright_version()} is built for Chromium {built_for}, but {installed} is "
                    "installed: pin the Playwright release built for this major version in pyproject.toml")
    return installed, built_for


def _playwright_version() -> str:
    from importlib.metadata import version

    return version("playwright")


@contextmanager
def launched() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright."""
    check_pair()
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        except Error as err:
            unavailable(f"Chromium did not start: {err}")
        try:
            yield browser
        finally:
            browser.close()


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Forwards ``<prefix>/...`` to the server with the prefix stripped and ``X-Forwarded-Prefix: <prefix>``."""

    upstream: tuple[str, int] = ("127.0.0.1", 0)
    prefix = "/features"
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        if not (self.path == self.prefix or self.path.startswith(self.prefix + "/")):
            self.send_error(404, "outside the proxied prefix")
            return
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        headers["X-Forwarded-Prefix"] = self.prefix
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            conn.request(self.command, self.path[len(self.prefix):] or "/", body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        finally:
            conn.close()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_HEAD = _forward  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def prefix_proxy(upstream_port: int, prefix: str = "/features") -> Iterator[str]:
    """A reverse proxy on a free port serving the server at ``upstream_port`` under ``prefix``; yields its URL."""
    handler = type("Proxy", (_Proxy,), {"upstream": ("127.0.0.1", upstream_port), "prefix": prefix})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()

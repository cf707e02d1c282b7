"""Serving under a path prefix: behind a reverse proxy (``--root-path /features`` or ``X-Forwarded-Prefix``).

A proxy that maps ``https://host/features/...`` to this server either strips the prefix and says so with
uvicorn's ``--root-path /features`` (``featurestore serve --root-path``), or sends the prefix in the
``X-Forwarded-Prefix`` header. uvicorn and Starlette read neither header (uvicorn's proxy support covers
``X-Forwarded-Proto`` and ``-For`` only), so :class:`ForwardedPrefix` does: from the trusted proxies
(``server.trusted_proxies``, default loopback) only, since a prefix ends up in every link of the UI.

With a prefix, ASGI's ``scope["path"]`` holds the prefix too (``root_path + path``, uvicorn's convention);
every middleware here matches :func:`route_path`, the path without it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$")
"""A path prefix: segments of URL path characters (no ``?``, ``#``, quotes that end an attribute, ``//``)."""


def clean_prefix(value: str) -> str | None:
    """``value`` as a prefix (``"/features"``; trailing slashes dropped, ``""`` for the root), or None when it is
    not a plain path (it would end up in links)."""
    value = value.strip().rstrip("/")
    if value == "":
        return ""
    if not PREFIX.match(value) or any(seg in (".", "..") for seg in value.split("/")[1:]) or '"' in value:
        return None
    return value


def route_path(scope: Scope) -> str:
    """The request path without the prefix (``scope["root_path"]``): what the routes match."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root):] or "/"
    return path


class ForwardedPrefix:
    """Pure ASGI: a trusted proxy's ``X-Forwarded-Prefix`` becomes ``root_path`` (and a path's prefix).

    ``trusted``: client addresses or networks (``"127.0.0.1"``, ``"10.0.0.0/8"``) or ``"*"`` for any. A bad
    prefix is refused with 400 rather than put into pages.
    """

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        items = [t.strip() for t in trusted if t.strip()]
        self.any = "*" in items
        self.networks = [ipaddress.ip_network(t, strict=False) for t in items if t != "*"]

    def _trusted(self, scope: Scope) -> bool:
        if self.any:
            return True
        client = scope.get("client")
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"x-forwarded-prefix"), None)
        if header is None or not self._trusted(scope):
            await self.app(scope, receive, send)
            return
        prefix = clean_prefix(header.decode("latin-1"))
        if prefix is None:
            body = b'{"detail":"bad X-Forwarded-Prefix: a path such as /features"}'
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        root = scope.get("root_path", "") + prefix
        path = route_path(scope)
        scope = {**scope, "root_path": root, "path": root + path,
                 "raw_path": (root + path).encode("latin-1", "replace")}
        await self.app(scope, receive, send)

"""Optional API keys: ``Authorization: Bearer <key>``.

Off unless a key is configured (``server.api_keys.read`` / ``.write`` in featurestore.yaml, or
``FEATURESTORE_READ_API_KEYS`` / ``FEATURESTORE_WRITE_API_KEYS``, comma-separated). Then every
path needs a key except the public ones (``/health``, ``/ready``, the docs); read keys may look
up (``/get-online-features``, ``/v1/online``, ``/features``, ``/metrics``), write keys may also
push, write and materialize. No or an unknown key: 401; a read key on a write endpoint: 403.
Keys are compared in constant time (every configured key is compared, whatever matches).

The web UI (``/ui``) checks keys itself (``server/ui/login.py``): a browser sends no header, so it also takes
the UI's session cookie, and answers a login page rather than JSON.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from .prefix import route_path

PUBLIC_PATHS = frozenset({"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
PUBLIC_PREFIX = "/docs-assets/"  # the docs pages' JavaScript and CSS (server/docs_ui.py)
UI_PREFIX = "/ui"  # the web UI enforces the same keys itself (server/ui/login.py)
WRITE_PATHS = frozenset({"/push", "/write-to-online-store", "/materialize", "/materialize-incremental",
                         "/materialize-offline"})

READ = "read"
WRITE = "write"


class ApiKeys:
    """The configured keys; :meth:`scope_of` tells which scope a presented key grants (None: unknown)."""

    def __init__(self, read: Iterable[str], write: Iterable[str]) -> None:
        self._keys = [(k.encode(), WRITE) for k in write if k] + [(k.encode(), READ) for k in read if k]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def all_keys(self) -> list[bytes]:
        """Every configured key (read and write)."""
        return [k for k, _ in self._keys]

    def scope_of(self, presented: bytes) -> str | None:
        granted = None
        for key, scope in self._keys:  # no early exit: the time does not depend on which key matched
            if hmac.compare_digest(key, presented) and granted is None:
                granted = scope
        return granted


def is_ui(path: str) -> bool:
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def bearer(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.partition(b" ")
            return token.strip() if kind.lower() == b"bearer" and token.strip() else None
    return None


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="featurestore"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ApiKeyMiddleware:
    """Pure ASGI middleware enforcing :class:`ApiKeys` (installed only when keys are configured)."""

    def __init__(self, app: ASGIApp, keys: ApiKeys) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX) or is_ui(path):
            await self.app(scope, receive, send)
            return
        token = bearer(scope)
        granted = self.keys.scope_of(token) if token is not None else None
        if granted is None:
            detail = "missing API key: send 'Authorization: Bearer <key>'" if token is None else "unknown API key"
            await _refuse(send, 401, detail)
            return
        if granted == READ and path in WRITE_PATHS:
            await _refuse(send, 403, f"a read API key cannot call {path}: use a write key")
            return
        await self.app(scope, receive, send)

"""API keys in the browser: the UI's login form and session cookie.

With keys configured, every UI page and its JSON need a key, as the HTTP API does (any key: the UI only
reads). A script sends ``Authorization: Bearer <key>``; a browser user types a key once into the login form
(``POST /ui/login``), which sets a cookie holding not the key but a session token derived from it:
``<expiry>.<HMAC-SHA256(key, "featurestore-ui:<expiry>")>``. So the cookie

* is valid only for the UI (it is never accepted by the API, so a page cannot be made to push or
  materialize with it), and only until its expiry (``server.ui.session_hours``, default 12);
* works in every worker and after a restart (no server-side sessions), and dies with its key;
* is ``HttpOnly`` (no script reads it), ``SameSite=Lax``, ``Path=<prefix>/ui`` and ``Secure`` over HTTPS.

A key in the URL (``?key=``) is not accepted: it would end up in access logs, browser history and
``Referer`` headers. A login form posted from another site is refused (403): the form checks ``Origin``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from server.auth import ApiKeys, bearer

COOKIE = "featurestore_ui"
MAX_FORM_BYTES = 8192


def token_for(key: bytes, expires: int) -> str:
    """The session token of ``key`` valid until ``expires`` (epoch seconds)."""
    mac = hmac.new(key, f"featurestore-ui:{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def valid_token(keys: ApiKeys, token: str, now: float | None = None) -> bool:
    """Whether ``token`` was made from a configured key and has not expired (every key compared)."""
    expires_text, _, _ = token.partition(".")
    if not expires_text.isdigit() or int(expires_text) < (time.time() if now is None else now):
        return False
    ok = False
    for key in keys.all_keys():
        if hmac.compare_digest(token_for(key, int(expires_text)).encode(), token.encode()):
            ok = True
    return ok


def who(keys: ApiKeys, request: Request) -> str | None:
    """How the request is allowed to read the UI: ``"open"`` (no keys configured), ``"key"`` (a valid bearer
    key), ``"session"`` (a valid cookie); None: it is not (an unknown bearer key is never overridden by a
    cookie)."""
    if not keys.enabled:
        return "open"
    token = bearer(request.scope)
    if token is not None:
        return "key" if keys.scope_of(token) is not None else None
    cookie = request.cookies.get(COOKIE)
    return "session" if cookie and valid_token(keys, cookie) else None


def same_origin(request: Request) -> bool:
    """A form post from this site: ``Origin`` (or, without it, ``Referer``) names this host, and the browser
    does not call the request cross-site."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (small; the first value of each field)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def safe_next(value: str | None, root: str, default: str) -> str:
    """Where to go after signing in: a UI path under this prefix, else ``default`` (no open redirect)."""
    if value and value.startswith(root + "/ui") and "//" not in value and "\\" not in value:
        return value
    return default


def cookie_header(token: str, root: str, max_age: int, secure: bool) -> str:
    return (f"{COOKIE}={token}; Path={root}/ui; Max-Age={max_age}; HttpOnly; SameSite=Lax"
            + ("; Secure" if secure else ""))

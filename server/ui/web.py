"""Rendering: the Jinja2 environment (templates and assets shipped in the package), prefix-aware URLs,
the page/JSON pair every route answers, and the headers every UI answer carries.

Every URL in a page is built by :class:`Urls` from the request's ``root_path`` (``--root-path`` or a trusted
``X-Forwarded-Prefix``, see ``server/prefix.py``), so links, assets and forms work behind a proxy path.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from featurestore import InputError
from featurestore.utc import from_epoch_us, parse_iso, to_utc
from server.prefix import route_path

UI = "/ui"
API = "/ui/api"
STATIC = "/ui/static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; connect-src 'self'")
"""No inline script, nothing from another host (the SVGs' ``style`` attributes need inline styles)."""
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
           "cache-control": "no-store", "x-frame-options": "DENY"}


def _assets() -> dict[str, bytes]:
    folder = files("server.ui") / "static"
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


_ASSET_BYTES = _assets()
ASSETS = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in _ASSET_BYTES.items()}
"""``name -> content hash``: asset URLs carry it (``?v=``), so a new release is never served a stale copy."""


def asset_bytes(name: str) -> bytes | None:
    """The content of a packaged asset (None: no such asset)."""
    return _ASSET_BYTES.get(name)


class Urls:
    """URLs of the UI for one request: every one starts with the request's prefix (``root_path``)."""

    def __init__(self, request: Request) -> None:
        self.root: str = request.scope.get("root_path", "")

    def page(self, path: str = "", **query: Any) -> str:
        """``/ui`` + ``path`` (segments already quoted) with the prefix, and ``query`` (None values left out)."""
        q = {k: v for k, v in query.items() if v is not None and v != ""}
        return self.root + UI + path + (("?" + urlencode(q)) if q else "")

    def api(self, path: str = "") -> str:
        return self.root + API + path

    def static(self, name: str) -> str:
        return f"{self.root}{STATIC}/{name}?v={ASSETS.get(name, '0')}"

    def obj(self, kind: str, name: str) -> str:
        """The page of an object of the registry (or a training set) by its lineage kind."""
        q = quote(name, safe="")
        if kind in ("feature_view", "aggregate_view", "on_demand_feature_view"):
            return self.page(f"/views/{q}")
        if kind == "entity":
            return self.page(f"/entities/{q}")
        if kind == "feature_service":
            return self.page(f"/services/{q}")
        if kind in ("source", "push_source", "request_source"):
            return self.page(f"/sources/{q}")
        if kind == "training_set":
            base, _, version = name.partition("@")
            return self.page(f"/training-sets/{quote(base, safe='')}" + (f"/v{version}" if version else ""))
        return self.page(f"/lineage/{q}", kind=kind)

    def lineage(self, kind: str, name: str) -> str:
        return self.page(f"/lineage/{quote(name, safe='')}", kind=kind)


def _when(value: Any) -> str:
    """A time as ``2026-11-28 09:30:00 UTC`` (ISO text, datetimes, epoch seconds; naive = UTC)."""
    if value is None or value == "":
        return "-"
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = from_epoch_us(int(value * 1_000_000))
        elif isinstance(value, str):
            value = parse_iso(value)
        if isinstance(value, datetime):
            return str(to_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC"))
    except InputError:
        pass  # not a time after all: shown as it is
    return str(value)


def _duration(value: Any) -> str:
    """Seconds or a timedelta as ``2d 3h``, ``45m``, ``12s``."""
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{int(seconds // size)}{unit}")
            seconds %= size
    if not parts or (seconds and len(parts) < 2):
        parts.append(f"{seconds:.0f}s" if seconds >= 1 or not parts else "")
    return sign + " ".join(p for p in parts[:2] if p)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class _Undefined(jinja2.StrictUndefined):
    """Strict (printing, iterating or comparing a missing value fails, so a typo fails a test) but falsy, so
    ``{% if x.optional %}`` tests a key that may be absent."""

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("server.ui", "templates"),
                             autoescape=jinja2.select_autoescape(default=True), trim_blocks=True,
                             lstrip_blocks=True, undefined=_Undefined, auto_reload=False)
    env.filters.update(when=_when, duration=_duration, number=_number, q=lambda s: quote(str(s), safe=""))
    return env


ENV = _environment()


@dataclass
class Page:
    """What a route answers: ``data`` (JSON-ready, also the JSON answer) rendered by ``template``; ``extra`` is
    for the HTML only (SVG markup); ``status`` for both."""

    template: str
    title: str
    data: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    nav: str = ""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | timedelta):
        return str(value)
    if isinstance(value, Markup):
        return str(value)
    raise TypeError(type(value).__name__)


def json_url(request: Request) -> str:
    """The JSON form of the page being shown (``/ui/x`` -> ``/ui/api/x``, query kept)."""
    root: str = request.scope.get("root_path", "")
    path = route_path(request.scope)
    rest = path[len(UI):] if path.startswith(UI) else ""
    query = request.url.query
    return root + API + rest.rstrip("/") + (f"?{query}" if query else "")


def answer(request: Request, page: Page, as_json: bool, base: Mapping[str, Any]) -> Response:
    """The page as HTML (``base``: what every page shows: project, registry version, signed in) or as JSON."""
    started = request.scope.get("featurestore.ui.started", time.perf_counter())
    if as_json:
        body = orjson.dumps(page.data, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
        response: Response = Response(body, status_code=page.status, media_type="application/json")
    else:
        html = ENV.get_template(page.template).render(
            **page.data, **page.extra, page_title=page.title, nav=page.nav, u=Urls(request), base=base,
            json_url=json_url(request))
        response = HTMLResponse(html, status_code=page.status)
    response.headers.update(HEADERS)
    response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response

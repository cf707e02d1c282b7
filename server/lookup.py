"""One online lookup as the routes need it: entities checked and converted, the store read without
blocking the event loop, per-view figures recorded.

The request is resolved by the library (``featurestore.resolve``, cached per registry snapshot and
feature list); the server only converts the join keys JSON cannot carry (Bytes from base64,
Timestamp from ISO 8601) and awaits ``OnlineReader.read_async``: an asyncio read for stores that
have one (Redis), the store's ``read`` in a thread otherwise (SQLite).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any

from featurestore import FeatureStore, InputError, OnlineReader, OnlineResponse, ResolvedRequest, resolve, utc

from .encoding import NOT_FOUND, OUTSIDE_MAX_AGE
from .metrics import Metrics
from .reload import RegistryWatcher


def _convert(values: list[Any], key: str, parse: Callable[[str], Any], what: str, kind: str = "join key") -> list[Any]:
    out = []
    for v in values:
        if isinstance(v, str):
            try:
                v = parse(v)
            except (ValueError, binascii.Error):
                fields = {"join_key": key} if kind == "join key" else {"field": key}
                raise InputError(f"{kind} {key!r} must be {what}, got {v!r}", **fields) from None
        out.append(v)
    return out


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def parse_time(text: str) -> datetime:
    """An ISO 8601 timestamp as aware UTC (naive means UTC); ValueError when the text is not one."""
    return utc.to_utc(datetime.fromisoformat(text))


def optional_time(value: str | None, what: str) -> datetime | None:
    """A body's optional time field: None stays None, a text is parsed (InputError naming ``what`` if not ISO 8601)."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not an ISO 8601 timestamp", field=what) from None


_CONVERSIONS: dict[str, tuple[Callable[[str], Any], str]] = {
    "Bytes": (_b64, "base64 bytes"),
    "Timestamp": (parse_time, "an ISO 8601 timestamp"),
}


def _conversions(resolved: ResolvedRequest) -> list[tuple[str, str, tuple[Callable[[str], Any], str]]]:
    """Per entity column JSON cannot carry as is (Bytes, Timestamp): its name, what it is, its conversion."""
    found: list[tuple[str, str, tuple[Callable[[str], Any], str]]] | None = resolved.derived.get("http")
    if found is None:
        typed = [(k, "join key", t) for v in resolved.views for k, t in zip(v.join_keys, v.key_types, strict=True)]
        typed += [(f.name, "request field", f.dtype) for o in resolved.on_demand for f, _ in o.request_fields]
        found = resolved.derived["http"] = [(k, what, _CONVERSIONS[t.name]) for k, what, t in typed
                                            if t.name in _CONVERSIONS]
    return found


def convert_keys(resolved: ResolvedRequest, entities: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The entity columns with Bytes and Timestamp join keys (and request fields of on-demand views) converted
    from their JSON text forms."""
    out = entities
    for key, what, conversion in _conversions(resolved):
        if key in entities:
            if out is entities:
                out = dict(entities)
            out[key] = _convert(entities[key], key, conversion[0], conversion[1], what)
    return out


class Lookups:
    """Runs lookups for the routes: one registry snapshot per request, the store read awaited."""

    def __init__(self, store: FeatureStore, watcher: RegistryWatcher, metrics: Metrics) -> None:
        self.store = store
        self.watcher = watcher
        self.metrics = metrics
        self._reader: OnlineReader | None = None

    @property
    def reader(self) -> OnlineReader:
        if self._reader is None:
            self._reader = OnlineReader(self.store.online, self.store.on_demand_runner)
        return self._reader

    async def lookup(self, features: list[str] | str, entities: dict[str, list[Any]], full: bool) -> OnlineResponse:
        """The library's answer; ``answer.views`` holds each view's statuses and event times.

        Served from the registry watcher's snapshot, so new definitions are served within
        ``server.registry_poll_seconds`` of an apply; while the watcher finds the registry
        unreadable (corrupt or missing), the last good snapshot goes on serving (``/ready`` says
        503). Only before any snapshot was loaded does the library read the file (or answer its error).
        """
        state = self.watcher.state  # the poll thread's snapshot: no file access in the request
        if state is None:
            state = self.store.state()  # never loaded: the library's answer (or its error, 503)
        resolved = resolve(features, state, full)
        answer = await self.reader.read_async(state, resolved, convert_keys(resolved, entities), full,
                                              now=self.store.clock())
        observe = self.metrics.observe_lookup
        now_us = answer.now_us if answer.now_us is not None else utc.now_us()  # the time the values were read at
        for view in answer.views:
            statuses = view.statuses
            if statuses:
                observe(view.name, len(statuses), statuses.count(NOT_FOUND), statuses.count(OUTSIDE_MAX_AGE))
                self.metrics.observe_served(view.name, now_us, statuses, view.event_times_us)
        self.store.log_served(features, answer, entities, full, state)  # services with logging=: queued, never I/O
        return answer

    async def shutdown(self) -> None:
        """Close the store's asyncio connections (the sync ones close with the store)."""
        aclose = getattr(self.reader.store, "aclose", None) if self._reader is not None else None
        if aclose is not None:
            await aclose()

"""What every route needs, built once per app: the store, the registry watcher, metrics, limits,
lookups, and the one-at-a-time materialization runner."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request

from featurestore import FeatureStore

from .lookup import Lookups
from .metrics import Metrics
from .reload import RegistryWatcher

T = TypeVar("T")


class Materializer:
    """Runs materializations in worker threads. One at a time is the library's rule, across processes
    (other workers, the CLI): a second one raises BusyError, answered 409."""

    def __init__(self) -> None:
        # a few threads: a second request must reach the library's lock (and fail fast), not queue here
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="featurestore-materialize")
        self._active: dict[int, str] = {}
        self._ids = itertools.count()

    @property
    def running(self) -> str | None:
        """What this process is materializing, if anything."""
        active = list(self._active.values())  # a copy: worker threads change the dict
        return active[0] if active else None

    async def run(self, what: str, fn: Callable[[], T]) -> T:
        token = next(self._ids)

        def work() -> T:
            self._active[token] = what
            try:
                return fn()
            finally:  # cleared by the worker thread even if the client went away
                self._active.pop(token, None)

        return await asyncio.wrap_future(self._executor.submit(work))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class ServerContext:
    store: FeatureStore
    watcher: RegistryWatcher
    metrics: Metrics
    lookups: Lookups
    max_entities: int
    max_body_bytes: int
    materializer: Materializer = field(default_factory=Materializer)
    catalog: tuple[Any, dict[str, Any], bytes] | None = None
    """``(snapshot, watermarks, /features answer)``: rebuilt when either changes."""


def get_context(request: Request) -> ServerContext:
    return request.app.state.featurestore  # type: ignore[no-any-return]

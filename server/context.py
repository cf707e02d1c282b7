"""What every route needs, built once per app: the store, the registry watcher, metrics, limits,
lookups, and the one-at-a-time materialization runner."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import HTTPException, Request

from featurestore import FeatureStore

from .lookup import Lookups
from .metrics import Metrics
from .reload import RegistryWatcher

T = TypeVar("T")


class Materializer:
    """Runs one materialization at a time in its own thread; a second one meanwhile is a 409."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="featurestore-materialize")
        self.running: str | None = None
        self.started: float | None = None

    async def run(self, what: str, fn: Callable[[], T]) -> T:
        if not self._lock.acquire(blocking=False):
            raise HTTPException(409, f"a materialization is already running ({self.running}, started "
                                     f"{time.time() - (self.started or time.time()):.1f} s ago); retry when it ends")
        self.running, self.started = what, time.time()

        def work() -> T:
            try:
                return fn()
            finally:  # released by the worker thread even if the client went away
                self.running = self.started = None
                self._lock.release()

        try:
            future = self._executor.submit(work)
        except BaseException:
            self.running = self.started = None
            self._lock.release()
            raise
        return await asyncio.wrap_future(future)

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

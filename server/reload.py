"""Live reload: a daemon thread polls the registry every ``server.registry_poll_seconds``.

A poll asks the registry for its version number only (``store.registry.version()``: one ``stat`` of a registry
file, one tiny query of a PostgreSQL registry) and loads the state only when that number differs from the
snapshot's. A new version is parsed in this thread, never in a request; requests read
:attr:`RegistryWatcher.state`, a reference swapped atomically. A registry that cannot be read
(e.g. a bad manual edit), or that vanished after a snapshot was loaded, keeps the last good
snapshot and is reported by ``/ready``: a missing file is unreadable, not "no definitions".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from featurestore import FeatureStore, FeatureStoreError, RegistryError

log = logging.getLogger("featurestore.server")


class RegistryWatcher:
    """Holds the latest registry snapshot and refreshes it in the background."""

    def __init__(self, store: FeatureStore, interval: float,
                 on_reload: Callable[[Any], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.store = store
        self.interval = interval
        self.state: Any = None
        self.error: str | None = None
        self.loaded_at: float | None = None
        self._on_reload = on_reload
        self._on_error = on_error
        self._stop = threading.Event()
        self._lock = threading.Lock()  # refresh runs in the poll thread, request threads and the event loop
        self._thread: threading.Thread | None = None

    def refresh(self) -> Any:
        """Check the registry's version now and load it when it changed; returns the current snapshot."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> Any:
        try:
            if self.state is not None and self.store.registry.version() == self.state.version:
                self.error = None
                return self.state
            state = self.store.state()
            if state.version == 0 and self.state is not None and self.state.version > 0:
                where = self.store.registry.describe()
                raise RegistryError(f"{where} is missing (was version {self.state.version})", path=where)
        except FeatureStoreError as err:
            if self.error != err.message:
                log.error("registry cannot be loaded (serving the last good version): %s", err.message)
            self.error = err.message
            if self._on_error:
                self._on_error(err)
            return self.state
        self.error = None
        if state is not self.state:
            previous = self.state
            self.state = state
            self.loaded_at = time.time()
            if previous is not None and previous.version != state.version:
                log.info("registry version %d loaded (was %d)", state.version, previous.version)
            if self._on_reload:
                self._on_reload(state)
        return state

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # never let the thread die: the next poll may work
                log.exception("registry poll failed")

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="featurestore-registry-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

"""What the UI's pages share, built once per app: the store, the registry snapshot (the server's watcher),
the keys, and the caches (the index per registry version, the lineage graph, statistics, re-creation checks,
diffs)."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from featurestore import (
    FeatureStore,
    LineageGraph,
    Recreation,
    RegistryDiff,
    RegistryError,
    RegistryState,
    ReproducibilityError,
)
from server.auth import ApiKeys

from . import index as ix
from .snippets import Snippets
from .statistics import StatisticsCache
from .web import ENV

log = logging.getLogger("featurestore.server.ui")

GRAPH_SECONDS = 10.0
"""The lineage graph (files and training sets included) is rebuilt at most this often, and on a new registry."""


@dataclass
class Check:
    """A training set's last re-creation check: the result or the error's fields, and when."""

    identical: bool
    result: dict[str, Any]
    at: float


@dataclass
class UiContext:
    """The UI's state in one app (see the module docstring). ``served``: this server answers lookups too
    (``featurestore serve``; False for ``featurestore ui``)."""

    store: FeatureStore
    current: Callable[[], RegistryState | None]
    keys: ApiKeys
    statistics_cache: int = 256
    session_hours: float = 12.0
    served: bool = True
    statistics: StatisticsCache = field(init=False)
    checks: dict[tuple[str, int], Check] = field(default_factory=dict)
    _index: ix.Index | None = None
    _graph: tuple[int, float, LineageGraph] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _graph_lock: threading.Lock = field(default_factory=threading.Lock)
    _refreshing: threading.Event = field(default_factory=threading.Event)
    _diffs: dict[tuple[int, int], RegistryDiff] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.statistics = StatisticsCache(self.store, self.statistics_cache)

    def state(self) -> RegistryState:
        state = self.current()
        if state is None:
            raise RegistryError("the registry cannot be read: see /ready")
        return state

    def index(self) -> ix.Index:
        """The index of the current registry snapshot (rebuilt when its version changes)."""
        state = self.state()
        cached = self._index
        if cached is not None and cached.state is state:
            return cached
        with self._lock:
            if self._index is None or self._index.state is not state:
                self._index = ix.build(state)
            return self._index

    def history(self) -> list[dict[str, Any]]:
        """The registry's history (the registry reads its file again only when it changed)."""
        return self.store.history()

    def graph(self) -> LineageGraph:
        """The whole lineage graph. Built on first use and on a new registry version; after
        :data:`GRAPH_SECONDS` the cached graph is still answered while a background thread rebuilds it (a
        page never waits for new files or training sets to be listed)."""
        state = self.state()
        cached = self._graph
        if cached is not None and cached[0] == state.version:
            if time.monotonic() - cached[1] >= GRAPH_SECONDS and not self._refreshing.is_set():
                self._refreshing.set()
                threading.Thread(target=self._refresh_graph, args=(state,), daemon=True,
                                 name="featurestore-ui-graph").start()
            return cached[2]
        with self._graph_lock:
            cached = self._graph
            if cached is not None and cached[0] == state.version:
                return cached[2]
            g = self.store.lineage_graph(state)
            self._graph = (state.version, time.monotonic(), g)
            return g

    def _refresh_graph(self, state: RegistryState) -> None:
        try:
            g = self.store.lineage_graph(state)
            with self._graph_lock:
                if self._graph is None or self._graph[0] <= state.version:
                    self._graph = (state.version, time.monotonic(), g)
        except Exception:
            log.warning("the UI's lineage graph could not be rebuilt", exc_info=True)
        finally:
            self._refreshing.clear()

    def history_diff(self, before: int, after: int) -> RegistryDiff:
        """The diff of two applied versions (immutable: kept)."""
        key = (before, after)
        found = self._diffs.get(key)
        if found is None:
            found = self._diffs[key] = self.store.history_diff(before, after)
        return found

    def warm(self) -> None:
        """Before serving: compile the templates, index the registry and read its history (a few hundred ms for
        500 views), then build the lineage graph in a background thread (it lists every source's files), so the
        first visitors do not wait for any of it."""
        try:
            for name in ENV.list_templates():
                ENV.get_template(name)
            self.index()
            self.history()
        except Exception:  # the pages build it again and report what fails
            log.debug("warming the UI failed", exc_info=True)
            return
        # what was built so far lives as long as the server: keep it out of the cyclic GC's full collections
        # (measured: a 500-view page's render went from 17 ms to 110 ms when one ran during it)
        gc.collect()
        gc.freeze()

        def work() -> None:
            try:
                self.graph()
            except Exception:  # the pages build it again and report what fails
                log.debug("warming the UI's lineage graph failed", exc_info=True)

        threading.Thread(target=work, daemon=True, name="featurestore-ui-warm").start()

    def snippets(self, request: Request) -> Snippets:
        base = str(request.base_url).rstrip("/")
        return Snippets(base, str(Path(self.store.repo_path).resolve()), self.keys.enabled, self.served)

    def recreate(self, name: str, version: int) -> Check:
        """Re-create a training set version now and keep the outcome (shown until checked again)."""
        try:
            rec: Recreation = self.store.recreate_training_set(name, version)
            check = Check(True, rec.to_dict(), time.time())
        except ReproducibilityError as err:
            check = Check(False, {"detail": err.message, **err.fields}, time.time())
        self.checks[(name, version)] = check
        return check

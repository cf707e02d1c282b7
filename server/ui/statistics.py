"""Statistics of a view's source rows, computed on demand and cached (never on a plain page view).

A profile (``FeatureStore.profile``: step 5's statistics over every source row) is kept per view and *source
state*: the view's registered definition and the size and modification time of every file it reads (pushed
rows included), so new data or a changed definition computes afresh, and an unchanged source is answered from
memory. Sources without files (DuckDB tables and queries) are kept for :data:`NO_FILES_SECONDS`. At most
``server.ui.statistics_cache`` profiles are kept (least recently used dropped). Computing takes a lock per
view, so concurrent first requests compute once.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from typing import Any

from featurestore import FeatureStore, FeatureStoreError, Profile, RegistryState

NO_FILES_SECONDS = 600.0


class StatisticsCache:
    """Profiles of views' source rows by source state (see the module docstring)."""

    def __init__(self, store: FeatureStore, size: int) -> None:
        self.store = store
        self.size = size
        self._cache: OrderedDict[tuple[str, str], tuple[Profile, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}

    def key(self, state: RegistryState, name: str) -> tuple[str, str]:
        """``(view, digest of its definition and source files)``."""
        definition = next((state.objects[k][name] for k in ("feature_views", "aggregate_views")
                           if name in state.objects.get(k, {})), None)
        parts: list[Any] = [definition]
        try:
            view = state.sourced_view(name)
            paths = list(self.store.offline.view_files(view, True))
        except FeatureStoreError:
            paths = []
        for path in paths:
            try:
                st = os.stat(path)
                parts.append((path, st.st_size, st.st_mtime_ns))
            except OSError:
                parts.append((path, None, None))
        if not paths:
            parts.append(int(time.time() // NO_FILES_SECONDS))
        digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]
        return name, digest

    def cached(self, state: RegistryState, name: str) -> tuple[Profile, float] | None:
        """The cached profile of view ``name`` and when it was computed (epoch seconds), if its source is
        unchanged since."""
        key = self.key(state, name)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
            return hit

    def get(self, state: RegistryState, name: str) -> tuple[Profile, float, bool]:
        """The profile of view ``name`` (cached or computed now), when it was computed and whether it was
        computed by this call."""
        hit = self.cached(state, name)
        if hit is not None:
            return hit[0], hit[1], False
        with self._lock:
            gate = self._computing.setdefault(name, threading.Lock())
        with gate:
            hit = self.cached(state, name)  # another request may have computed it meanwhile
            if hit is not None:
                return hit[0], hit[1], False
            key = self.key(state, name)
            profile = self.store.profile(name)
            at = time.time()
            if self.size > 0:
                with self._lock:
                    self._cache[key] = (profile, at)
                    self._cache.move_to_end(key)
                    for old in [k for k in self._cache if k[0] == name and k != key]:
                        del self._cache[old]  # an older state of the same view
                    while len(self._cache) > self.size:
                        self._cache.popitem(last=False)
            return profile, at, True

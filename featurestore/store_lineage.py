"""Registry history (old versions, diffs) and lineage of :class:`~featurestore.FeatureStore`.

A mixin of ``FeatureStore`` (kept in its own module so each stays small); the logic is in
:mod:`featurestore.registry.history` and :mod:`featurestore.lineage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.lineage.graph import Lineage, LineageGraph, build_graph, build_lineage
from featurestore.registry.file import RegistryState
from featurestore.registry.history import RegistryDiff, diff_states, state_at
from featurestore.store_parts import StoreParts
from featurestore.training.manifest import list_manifests


class LineageMethods(StoreParts):
    """Registry history and lineage on a feature store (mixed into :class:`~featurestore.FeatureStore`)."""

    if TYPE_CHECKING:
        def history(self) -> list[dict[str, Any]]: ...

    def registry_at(self, version: int | None = None) -> RegistryState:
        """The definitions as they were at registry ``version`` (None: now), from the registry's history.

        >>> store.registry_at(3).feature_view("driver_stats").ttl     # doctest: +SKIP
        datetime.timedelta(days=1)
        """
        if version is None:
            return self.state()
        return state_at(self.project, self.history(), int(version), self.state())

    def history_diff(self, before: int, after: int | None = None) -> RegistryDiff:
        """What changed in the definitions from registry version ``before`` to ``after`` (None: now): objects
        added, removed and changed, with each changed field's before and after.

        >>> print(store.history_diff(3, 4))                           # doctest: +SKIP
        registry version 3 -> 4
        ~ feature_view driver_stats
            ttl_seconds: 86400.0 -> 7200.0
        """
        entries, now = self.history(), self.state()
        old = state_at(self.project, entries, int(before), now)
        new = now if after is None else state_at(self.project, entries, int(after), now)
        return diff_states(old, new)

    def lineage(self, name: str, kind: str | None = None) -> Lineage:
        """What ``name`` (a service, view, entity, source or training set) depends on and what depends on it.

        ``kind`` picks among objects of several kinds with that name (``feature_view``, ``source``,
        ``training_set``, ...).

        >>> print(store.lineage("driver_activity"))                   # doctest: +SKIP
        """
        return build_lineage(self.state(), self.history(), name, kind, self.offline, self.training_sets_dir,
                             self.feature_tables_dir, self.repo_path)

    def lineage_graph(self, state: RegistryState | None = None) -> LineageGraph:
        """The whole lineage graph: every registered object, its sources and files, feature tables and training
        sets (``graph.lineage(name)`` is :meth:`lineage` without building it again).

        >>> len(store.lineage_graph().nodes)                          # doctest: +SKIP
        42
        """
        return build_graph(state if state is not None else self.state(), self.history(), self.offline,
                           list_manifests(self.training_sets_dir), self.feature_tables_dir, self.repo_path)

"""Offline feature tables (``materialize-offline``) of :class:`~featurestore.FeatureStore`.

A mixin of ``FeatureStore`` (kept in its own module so each stays small); the logic is in
:mod:`featurestore.materialize.offline_tables` and the engine (``OfflineStore.write_feature_table``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from featurestore.materialize import offline_tables
from featurestore.materialize import run as mat
from featurestore.store_parts import StoreParts


class FeatureTableMethods(StoreParts):
    """Offline feature tables on a feature store (mixed into :class:`~featurestore.FeatureStore`)."""

    def _offline_run(self, start: datetime | None, end: datetime, feature_views: list[str] | None,
                     incremental: bool) -> list[mat.ViewMaterialization]:
        state, live = self._code.with_transforms(self.state())
        views = offline_tables.views_of(state, feature_views)
        target = offline_tables.target_of(self.feature_tables_dir, self.repo_path)
        with self._code.explained(live):
            return offline_tables.run(self.offline, self.state_store, target, views, start, end, incremental,
                                      self.clock)

    def materialize_offline(self, start_date: datetime, end_date: datetime,
                            feature_views: list[str] | None = None) -> list[mat.ViewMaterialization]:
        """Append each feature view's rows with event time in ``[start_date, end_date]`` (after its batch
        transform) to its offline feature table, stamped with the time of the run; training sets then read the view
        from it (``feature_tables.use_for_training``). A range materialized again is appended as newer versions.

        >>> store.materialize_offline(datetime(2026, 1, 1), datetime(2026, 2, 1), ["driver_stats"])  # doctest: +SKIP
        """
        return self._offline_run(start_date, end_date, feature_views, False)

    def materialize_offline_incremental(self, end_date: datetime,
                                        feature_views: list[str] | None = None) -> list[mat.ViewMaterialization]:
        """:meth:`materialize_offline` from each view's offline watermark (a first run: every row) to ``end_date``.

        >>> store.materialize_offline_incremental(datetime.now(timezone.utc))  # doctest: +SKIP
        """
        return self._offline_run(None, end_date, feature_views, True)

    def feature_table_watermarks(self) -> dict[str, dict[str, Any]]:
        """Per view, its last ``materialize-offline`` run: ``watermark``, ``last_success``, ``last_rows``,
        ``total_rows``."""
        return mat.watermarks(self.state_store, offline_tables.target_of(self.feature_tables_dir, self.repo_path))

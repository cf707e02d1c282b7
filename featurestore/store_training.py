"""Reproducible, versioned training sets (create, get, list, recreate, diff) of :class:`~featurestore.FeatureStore`.

A mixin of ``FeatureStore`` (kept in its own module so each stays small); the logic is in
:mod:`featurestore.training`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from featurestore import utc
from featurestore.offline import retrieval
from featurestore.registry.file import RegistryState
from featurestore.store_parts import StoreParts
from featurestore.training import create as creation
from featurestore.training.compare import TrainingSetDiff, compare
from featurestore.training.manifest import check_training_set_name, list_manifests, read_manifest, version_dirs
from featurestore.training.recreate import Recreation, recreate
from featurestore.training.training_set import TrainingSet


class TrainingSetMethods(StoreParts):
    """Versioned training sets on a feature store (mixed into :class:`~featurestore.FeatureStore`)."""

    def _compute_at(self, state: RegistryState, entities: pa.Table, features: Any, full_feature_names: bool,
                    as_of_created: bool, as_of: datetime | None) -> pa.Table:
        """The training set of ``features`` over ``state`` (any snapshot: the registry now, or a manifest's)."""
        state, live = self._code.with_transforms(state)
        with self._code.explained(live):
            job = retrieval.get_historical_features(
                self.offline, state, entities, features, full_feature_names, as_of_created, None, None,
                lambda odfv: self.on_demand_runner(state, odfv), as_of)
            return job.to_arrow()

    def _training(self) -> creation.Context:
        return creation.Context(self.project, self.repo_path, self.training_sets_dir, self.offline, self._compute_at,
                                self.feature_tables_dir)

    def create_training_set(self, name: str, entity_df: Any, features: Any, *, as_of: datetime | str | None = None,
                            full_feature_names: bool = False, as_of_created: bool = False,
                            full_hash: bool = False) -> TrainingSet:
        """Compute a training set and keep it as the next version of ``name`` (1, 2, ...), with a manifest of
        everything it was made of (README "Versioned training sets"). ``features``: references or a
        FeatureService; ``as_of`` (not in the future): only rows known then are read, so the set re-creates
        identically after rows land later; ``full_hash``: fingerprint source files by their whole content.

        >>> ts = store.create_training_set("churn", entity_df, store.get_feature_service("ranking"),
        ...                                as_of="2026-11-01T00:00:00Z")         # doctest: +SKIP
        >>> ts.version, ts.fingerprint[:12]                                       # doctest: +SKIP
        (1, '5f0c2a7e91b4')
        """
        check_training_set_name(name)
        cutoff = utc.cutoff(as_of, self.clock())
        return creation.create(self._training(), self.state(), name, entity_df, features, cutoff, full_feature_names,
                               as_of_created, full_hash)

    def get_training_set(self, name: str, version: int | None = None) -> TrainingSet:
        """Version ``version`` of training set ``name`` (None: the latest); NotFoundError naming the versions.

        >>> store.get_training_set("churn", version=3).to_pandas()              # doctest: +SKIP
        """
        manifest = read_manifest(self.training_sets_dir, name, version)
        return TrainingSet(manifest, version_dirs(self.training_sets_dir, name)[manifest.version])

    def list_training_sets(self, name: str | None = None) -> list[TrainingSet]:
        """Every version of every training set (of ``name`` only, when given), by name then version.

        >>> [(t.name, t.version) for t in store.list_training_sets()]            # doctest: +SKIP
        [('churn', 1), ('churn', 2)]
        """
        if name is not None:
            check_training_set_name(name)
        root = self.training_sets_dir
        return [TrainingSet(m, version_dirs(root, m.name)[m.version]) for m in list_manifests(root)
                if name is None or m.name == name]

    def recreate_training_set(self, name: str, version: int | None = None) -> Recreation:
        """Recompute a version from its manifest (its definitions, entity frame and cutoff) and prove the content
        identical, or raise ReproducibilityError naming what differs (source files changed, gone or added, rows
        read after creation by a set without ``as_of``, a definition that no longer loads, engine versions).

        >>> print(store.recreate_training_set("churn", version=3))               # doctest: +SKIP
        training set churn version 3: re-created identically (100,000 rows, content hash 5f0c2a7e91b4...)
        """
        return recreate(self._training(), self.get_training_set(name, version))

    def diff_training_sets(self, name: str, before: int, after: int) -> TrainingSetDiff:
        """What differs between two versions of ``name``: definitions (field by field), features, source files,
        cutoff, rows, content and engine versions.

        >>> print(store.diff_training_sets("churn", 2, 3))                       # doctest: +SKIP
        """
        a = read_manifest(self.training_sets_dir, name, before)
        b = read_manifest(self.training_sets_dir, name, after)
        return compare(name, self.project, a, b)

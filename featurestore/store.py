"""FeatureStore: the entry point. It reads the repo config and delegates to the parts."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from featurestore import utc
from featurestore.code import StoreCode
from featurestore.config import RepoConfig, load_config, resolve
from featurestore.definitions import kinds
from featurestore.errors import CodeMismatchError, ConfigError, OnlineStoreError
from featurestore.materialize import agg_push, gated, writes
from featurestore.materialize import run as mat
from featurestore.materialize.executors import OnlineTarget
from featurestore.monitoring import feature_log
from featurestore.offline import retrieval
from featurestore.offline.factory import open_offline_store
from featurestore.offline.protocol import OfflineStore, RetrievalJob
from featurestore.online.factory import online_store_created, open_online_store
from featurestore.online.lookup import OnlineReader
from featurestore.online.protocol import OnlineStore
from featurestore.online.response import OnlineResponse
from featurestore.registry.checks import validate
from featurestore.registry.factory import data_dir_of, open_registry, open_registry_state
from featurestore.registry.file import RegistryState, RegistryUpdate
from featurestore.registry.layouts import kept_layouts
from featurestore.registry.live import LiveCode
from featurestore.registry.loader import load_definitions
from featurestore.registry.plan import Plan, applied, make_plan
from featurestore.registry.protocol import RegistryBackend
from featurestore.registry.references import check_references
from featurestore.resolution import ResolvedOnDemand
from featurestore.state import StateStore
from featurestore.store_catalog import CatalogMethods
from featurestore.store_feature_tables import FeatureTableMethods
from featurestore.store_lineage import LineageMethods
from featurestore.store_monitoring import MonitoringMethods
from featurestore.store_training import TrainingSetMethods
from featurestore.transform import OnDemandRunner


class FeatureStore(CatalogMethods, MonitoringMethods, TrainingSetMethods, FeatureTableMethods, LineageMethods):
    """A feature repo: its registry, offline store and online store.

    >>> store = FeatureStore(repo_path="definitions")          # doctest: +SKIP
    >>> store.apply()                                           # doctest: +SKIP
    >>> job = store.get_historical_features(entity_df, features=["driver_stats:conv_rate"])  # doctest: +SKIP
    >>> job.to_pandas()                                         # doctest: +SKIP

    The stores come from ``featurestore.yaml`` (``offline_store``, ``online_store``) unless
    passed in: ``FeatureStore(repo, offline=my_engine, online=my_online_store)`` uses those as
    they are (any :class:`~featurestore.offline.protocol.OfflineStore` /
    :class:`~featurestore.online.protocol.OnlineStore`), as ``httpx.Client(transport=...)`` does; ``registry=``
    and ``state=`` likewise take any :class:`~featurestore.registry.protocol.RegistryBackend` and
    :class:`~featurestore.state.protocol.StateStore` (default: those the ``registry`` setting names).
    ``clock``: what "now" is (a callable returning an aware UTC datetime; default :func:`featurestore.utc.now`):
    the time of online lookups, the created stamps of pushes to aggregate views and the cap of a materialize's
    snapshot. Tests inject one to read at chosen times; a server built from the store uses it too.
    Who closes what: :meth:`close` (or leaving a ``with`` block) closes the stores this object
    opened from the config; a store passed in belongs to the caller, who closes it.
    """

    def __init__(
        self,
        repo_path: str | Path = ".",
        config: RepoConfig | None = None,
        offline: OfflineStore | None = None,
        online: OnlineStore | None = None,
        clock: Callable[[], datetime] | None = None,
        registry: RegistryBackend | None = None,
        state: StateStore | None = None,
    ) -> None:
        self.repo_path = Path(repo_path).resolve()
        self.config = config if config is not None else load_config(self.repo_path)
        self.project = self.config.project
        for given, protocol, what in ((offline, OfflineStore, "offline"), (online, OnlineStore, "online"),
                                      (registry, RegistryBackend, "registry"), (state, StateStore, "state")):
            if given is not None and not isinstance(given, protocol):
                raise ConfigError(f"FeatureStore({what}=...) takes a featurestore.{protocol.__name__} (an object with "
                                  f"its methods), got {type(given).__name__}: {given!r:.80}")
        # the registry setting picks the registry, its state store and the data folder (registry.factory)
        self._owns_registry, self._owns_state = registry is None, state is None
        self.registry: RegistryBackend = (registry if registry is not None
                                          else open_registry(self.config.registry, self.repo_path, self.project))
        self.state_store: StateStore = (state if state is not None
                                        else open_registry_state(self.config.registry, self.repo_path, self.project))
        self._data_dir = data_dir_of(self.config.registry, self.repo_path)
        self._owns_offline = offline is None
        self._offline: OfflineStore | None = offline
        self._owns_online = online is None
        self._online: OnlineStore | None = online
        self._reader: OnlineReader | None = None
        self._code = StoreCode(self.repo_path)  # the live code of its transformations
        self.clock: Callable[[], datetime] = clock if clock is not None else utc.now
        """The current time of this store: lookups, push stamps, materialize snapshots (see the class)."""
        # pushes through the default clock share the process's stamps (strictly increasing in the process)
        self._stamper = agg_push.PROCESS_STAMPER if clock is None else agg_push.Stamper(clock)
        self._feature_logger = feature_log.FeatureLogger()  # its writer thread starts with the first logged lookup

    @property
    def data_dir(self) -> Path:
        """The repo's data folder (quarantined rows and feature logs go under it): the registry file's folder, or
        ``<repo>/data`` when the registry is in PostgreSQL."""
        return self._data_dir

    @property
    def training_sets_dir(self) -> Path:
        """Where versioned training sets are written: ``training_sets.path`` of the config, else
        ``training_sets`` in the data folder."""
        path = self.config.training_sets.path
        return resolve(self.repo_path, path) if path else self.data_dir / "training_sets"

    @property
    def feature_tables_dir(self) -> Path:
        """Where ``materialize-offline`` appends feature tables: ``feature_tables.path`` of the config, else
        ``feature_tables`` in the data folder."""
        path = self.config.feature_tables.path
        return resolve(self.repo_path, path) if path else self.data_dir / "feature_tables"

    @property
    def offline(self) -> OfflineStore:
        """The offline engine: the one passed in, else the config's (opened on first use)."""
        if self._offline is None:
            self._offline = open_offline_store(self.config.offline_store, self.repo_path, self.feature_tables_dir,
                                               self.config.feature_tables.use_for_training)
        return self._offline

    @property
    def online(self) -> OnlineStore:
        """The online store: the one passed in, else the config's (opened on first use)."""
        if self._online is None:
            self._online = open_online_store(self.config.online_store, self.repo_path, self.project)
        return self._online

    def close(self) -> None:
        """Close the stores opened from the config (they reopen on next use).

        Stores passed to the constructor are left open: their owner closes them.
        """
        self._reader = None
        self._feature_logger.flush()  # the queued feature-log rows are written (its thread ends with the store)
        if self._owns_online and self._online is not None:
            self._online.close()
            self._online = None
        if self._owns_offline and self._offline is not None:
            self._offline.close()
            self._offline = None
        if self._owns_registry:
            self.registry.close()  # a database registry's connections (reopened on next use)
        if self._owns_state:
            self.state_store.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- registry -----------------------------------------------------------------------------------
    def state(self) -> RegistryState:
        """The registry as last written (re-read when the file changes)."""
        return self.registry.load()

    def _desired(self, objects: list[Any] | None, state: RegistryState) -> tuple[dict[str, Any], bool, list[Any]]:
        partial = objects is not None
        found = load_definitions(self.repo_path) if objects is None else list(objects)
        return validate(found, state, self.offline, partial), partial, found

    def plan(self, objects: list[Any] | None = None) -> Plan:
        """What ``apply`` would change (``objects=None``: the repo's definitions, removals included)."""
        state = self.state()
        desired, partial, _ = self._desired(objects, state)
        return make_plan(state, desired, remove_missing=not partial)

    def apply(self, objects: list[Any] | None = None, objects_to_delete: list[Any] | None = None) -> Plan:
        """Validate and register definitions.

        Without ``objects``: every definition module of the repo, and objects no
        longer defined are removed. With ``objects``: those are added or updated,
        and only ``objects_to_delete`` are removed. Re-applying the same
        definitions is a no-op. Removed views lose their online data.
        """
        desired, partial, found = self._desired(objects, self.state())
        to_delete = tuple((kinds.key_of(o), o.name) for o in objects_to_delete or ())
        result: dict[str, Any] = {}

        def change(state: RegistryState) -> RegistryUpdate:
            plan = make_plan(state, desired, remove_missing=not partial, to_delete=to_delete)
            if partial:
                check_references(state, plan)
            new = applied(state, plan)
            result["plan"] = plan
            if new is None:
                return None
            return replace(new[0], online_layouts=kept_layouts(state, plan)), new[1]

        self.registry.update(change)
        # transforms applied here run as they are in this process (the repo may not define them: a notebook)
        self._code.applied(found)
        plan: Plan = result["plan"]
        reshaped = [e.view for e in plan.online_effects if not e.deletes]
        if reshaped:  # rows stay readable, but materialize-incremental must reload the changed features
            mat.forget(self.state_store, reshaped)
        self._clear_online([e.view for e in plan.online_effects if e.deletes])
        return plan

    def _clear_online(self, views: list[str]) -> None:
        """Delete the online data and watermarks of removed views and of views with other join keys
        (best effort: warns on failure)."""
        if not views:
            return
        mat.forget(self.state_store, views)
        if self._owns_online and not online_store_created(self.config.online_store, self.repo_path):
            return  # nothing was ever written: don't create the database just to clean it
        try:
            for name in views:
                self.online.delete_view(name)
        except OnlineStoreError as err:
            warnings.warn(f"applied, but the online data of {views} could not be deleted ({err.message}); "
                          "stale rows are never served (their schema checksum no longer matches) and expire "
                          "with their ttl", stacklevel=3)

    def history(self) -> list[dict[str, Any]]:
        """Every applied registry version, oldest first."""
        return self.registry.history()

    def live_code(self, state: RegistryState | None = None) -> LiveCode:
        """The on-demand views of ``state`` (default: the registry now) as the repo's modules define them,
        matched by fingerprint with the applied code; computed once per registry snapshot (the modules are
        imported then, and only when on-demand views are registered)."""
        return self._code.live_code(state if state is not None else self.state())

    def on_demand_runner(self, state: RegistryState, odfv: ResolvedOnDemand) -> OnDemandRunner:
        """The runner of an on-demand view of ``state`` from the repo's live code (CodeMismatchError when that
        code differs from what was applied); built once per registry snapshot and view."""
        return self._code.on_demand_runner(state, odfv)

    def code_status(self, state: RegistryState | None = None) -> list[CodeMismatchError]:
        """The transformations of ``state`` (default: the registry now) whose code in the repo differs from what
        was applied, or is missing: on-demand views and feature views' batch transforms. Empty when every one
        matches; a server answers ``/ready`` 503 while it is not."""
        state = state if state is not None else self.state()
        found = self.live_code(state).mismatches() if state.objects.get("on_demand_feature_views") else []
        _, transforms = self._code.with_transforms(state)
        return found + [err for err in transforms.values() if isinstance(err, CodeMismatchError)]

    # -- offline --------------------------------------------------------------------------------------
    def get_historical_features(
        self,
        entity_df: Any = None,
        features: Any = None,
        full_feature_names: bool = False,
        as_of_created: bool = False,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        validate: bool = False,
        as_of: datetime | str | None = None,
    ) -> RetrievalJob:
        """A point-in-time-correct training set (see the README for the exact rules).

        ``entity_df``: pandas, polars, pyarrow Table or a Parquet path; ``features``:
        ``["view:feature", ...]`` or a FeatureService. Without ``entity_df``, every
        distinct (join keys, event time) of the views' sources in
        ``[start_date, end_date]`` is the spine. ``validate=True``: each requested feature view with expectations
        is first checked over its source rows in [earliest entity time − ttl, latest entity time]
        (ExpectationError under reject/quarantine, a warning under warn). ``as_of`` (a datetime, naive = UTC, or
        ISO-8601 text; not in the future): a global cutoff, only rows known then are read (event time and, when
        the source has one, created time at or before it): rows landing later never change the result.
        """
        cutoff = utc.cutoff(as_of, self.clock())
        state, live = self._code.with_transforms(self.state())
        with self._code.explained(live):
            if validate:
                gated.check_training(self._gate(record=False), self.offline, state, entity_df, features,
                                     start_date, end_date)
            return retrieval.get_historical_features(
                self.offline, state, entity_df, features, full_feature_names, as_of_created,
                start_date, end_date, lambda odfv: self.on_demand_runner(state, odfv), cutoff,
            )


    # -- online ---------------------------------------------------------------------------------------
    def materialize(self, start_date: datetime, end_date: datetime, feature_views: list[str] | None = None,
                    progress: mat.ProgressCallback | None = None) -> list[mat.ViewMaterialization]:
        """Load, per entity, the latest row with event time in [start_date, end_date] into the online store.

        Naive datetimes are UTC. Each view's watermark becomes ``end_date`` (if later).
        """
        state, live = self._code.with_transforms(self.state())
        views = mat.online_views(state, feature_views)
        with self._code.explained(live):
            return mat.run(self.offline, self.online, self.state_store, mat.target_of(self.online, self.repo_path),
                           views, start_date, end_date, False, progress, clock=self.clock, gate=self._gate(),
                           target_config=self._online_target())

    def materialize_incremental(self, end_date: datetime, feature_views: list[str] | None = None,
                                progress: mat.ProgressCallback | None = None) -> list[mat.ViewMaterialization]:
        """Materialize from each view's watermark (first run: ``end_date - ttl``, or everything) to ``end_date``."""
        state, live = self._code.with_transforms(self.state())
        views = mat.online_views(state, feature_views)
        with self._code.explained(live):
            return mat.run(self.offline, self.online, self.state_store, mat.target_of(self.online, self.repo_path),
                           views, None, end_date, True, progress, clock=self.clock, gate=self._gate(),
                           target_config=self._online_target())

    def _online_target(self) -> OnlineTarget | None:
        """How an engine's executors open the online store: its config (None when given to the constructor)."""
        return OnlineTarget(self.config.online_store, str(self.repo_path), self.project) if self._owns_online else None

    def get_online_features(self, features: Any, entity_rows: Any, full_feature_names: bool = False) -> OnlineResponse:
        """Latest values for entity rows (a list of dicts or a dict of lists): one online-store round trip.

        >>> store.get_online_features(["driver_stats:conv_rate"], [{"driver_id": 1001}]).to_dict()  # doctest: +SKIP
        {'driver_id': [1001], 'conv_rate': [0.53]}
        """
        if self._reader is None:
            self._reader = OnlineReader(self.online, self.on_demand_runner)
        # one registry snapshot per call: a service name is resolved against the same snapshot
        state = self.state()
        answer = self._reader.read(state, features, entity_rows, full_feature_names, now=self.clock())
        self.log_served(features, answer, entity_rows, full_feature_names, state)
        return answer

    def write_to_online_store(self, feature_view_name: str, df: Any) -> mat.OnlineWrite:
        """Write rows (join keys, event timestamp, features) straight to the online store.

        Returns the rows ``written`` and those ``skipped`` because the store held a row of the entity at
        least as new (never older: see :meth:`delete_online` to remove a wrong newer row).
        """
        return writes.write_to_online_store(self.online, self.state(), feature_view_name, df, self._max_future(),
                                            now=self.clock(), gate=self._gate())

    def push(self, push_source_name: str, df: Any, to: str = "online") -> writes.PushResult:
        """Push rows to the views of a PushSource: ``to`` is "online", "offline" or "online_and_offline".

        Returns the rows pushed and, per online view, the rows written and skipped (as
        :meth:`write_to_online_store`). A push source feeding an aggregate view stamps the created column with
        the arrival time and always appends the rows offline (``to="offline"``: offline only); each online
        aggregate view gets one record per row (``written``); see the README's "Pushing events to aggregate
        views".
        """
        state, live = self._code.with_transforms(self.state())
        with self._code.explained(live):
            return writes.push(self.online, self.offline, state, push_source_name, df, to, self._max_future(),
                               states=self.state_store, stamper=self._stamper, gate=self._gate())

    def delete_online(self, feature_view_name: str, entity_rows: Any) -> int:
        """Delete the online values of some entities of one view; returns how many were stored.

        ``entity_rows`` as for :meth:`get_online_features` (the view's join keys). The way out of a wrong
        row that is newer than the right one (never older keeps it): delete it, then push or write the right
        row, or materialize its time range again. Watermarks stay as they are.
        """
        state = self.state()
        view = state.feature_view(feature_view_name)
        prepared = OnlineReader(self.online).prepare(state, [f"{view.name}:{view.feature_names[0]}"], entity_rows)
        spec, keys = prepared.requests[0]
        return self.online.delete(spec, keys) if keys else 0

    def reset_online(self, feature_view_name: str) -> None:
        """Delete every online value of one view and its watermark in this online store (other views stay).

        The next ``materialize_incremental`` starts as a first run does. Holds the materialization lock
        (``BusyError`` while one runs).
        """
        self.state().feature_view(feature_view_name)  # NotFoundError when not registered
        with self.state_store.exclusive(f"reset-online {feature_view_name}"):
            self.online.delete_view(feature_view_name)
            mat.forget(self.state_store, [feature_view_name], mat.target_of(self.online, self.repo_path))

    def _max_future(self) -> timedelta | None:
        seconds = self.config.max_future_event_seconds
        return None if seconds is None else timedelta(seconds=seconds)

    def teardown(self) -> None:
        """Delete every online value of this project (nothing of other projects); definitions stay."""
        self.online.teardown()
        mat.forget(self.state_store, None, mat.target_of(self.online, self.repo_path))

    def watermarks(self) -> dict[str, dict[str, Any]]:
        """Per view, its last materialization into this online store: ``watermark`` (end of the loaded range),
        ``last_success``, ``last_rows`` and ``total_rows``."""
        return mat.watermarks(self.state_store, lambda: mat.target_of(self.online, self.repo_path))

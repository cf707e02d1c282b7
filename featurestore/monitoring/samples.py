"""What statistics and drift read: a view's (or a service's views') source rows over a time range, a service's
logged served values, or a training set (an Arrow/pandas/polars table, a RetrievalJob, a Parquet file).

Features are named as the user sees them: a view's by feature name; a service's ``<projection>__<feature>``
(the feature log's and ``full_feature_names=True`` names). Aggregate views have no rows of their own before
aggregation: over a time range they are refused with a clear error (profile their training set or served
values instead); on-demand features likewise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from featurestore.definitions.feature_view import FeatureView
from featurestore.errors import InputError, NotFoundError
from featurestore.frames import to_arrow
from featurestore.monitoring.histograms import NumericBins
from featurestore.monitoring.log_files import log_dir, read_log
from featurestore.monitoring.profile import Profile
from featurestore.monitoring.profiler import Scan, compute_profile, table_scan
from featurestore.naming import sql_string
from featurestore.offline.protocol import OfflineStore, RetrievalJob
from featurestore.registry.file import RegistryState
from featurestore.utc import time_bound


@dataclass(frozen=True)
class Served:
    """A feature service's logged served values with log time in ``[start, end]`` (either open): the
    ``current`` (or ``reference``) of :meth:`FeatureStore.drift`; ``"served"`` means ``Served()``.

    >>> Served("2026-11-01").start
    '2026-11-01'
    """

    start: datetime | str | None = None
    end: datetime | str | None = None


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Column:
    """One feature of a target: its report name, the projection and view it comes from, the feature."""

    name: str
    projection: str
    view: str
    feature: str


@dataclass(frozen=True)
class Target:
    """A view or a service, and the features of it that are read."""

    name: str
    kind: str  # "view" or "service"
    columns: tuple[Column, ...]


def target(state: RegistryState, what: str, features: list[str] | None = None) -> Target:
    """The view or service ``what`` and its features (``features``: report names, a subset)."""
    if not isinstance(what, str):
        raise InputError(f"expected the name of a feature view or a feature service, got {type(what).__name__}")
    objects = state.objects
    if what in objects.get("feature_services", {}):
        service = state.feature_service(what)
        cols = []
        for p in service.features:
            names = p.features
            if not names:
                names = tuple(state.get(_kind_of(state, p.view), p.view).feature_names)
            cols += [Column(f"{p.name}__{f}", p.name, p.view, f) for f in names]
        found = Target(what, "service", tuple(cols))
    elif what in objects.get("feature_views", {}) or what in objects.get("aggregate_views", {}):
        view = state.sourced_view(what)
        found = Target(what, "view", tuple(Column(f, what, what, f) for f in view.feature_names))
    else:
        raise NotFoundError(f"{what!r} is neither a feature view nor a feature service in the registry",
                            kind="feature_view", name=what)
    if features is not None:
        known = {c.name: c for c in found.columns}
        unknown = [f for f in features if f not in known]
        if unknown:
            label = "feature service" if found.kind == "service" else "feature view"
            raise InputError(f"{label} {what!r} has no feature {unknown[0]!r} (features: "
                             f"{', '.join(known)})", feature=unknown[0])
        found = Target(what, found.kind, tuple(known[f] for f in features))
    return found


def _kind_of(state: RegistryState, view: str) -> str:
    for kind in ("feature_views", "aggregate_views", "on_demand_feature_views"):
        if view in state.objects.get(kind, {}):
            return kind
    return "feature_views"


def _renamed(scan: Scan, names: list[str]) -> Scan:
    def run(sample_rows: int | None) -> Iterator[pa.RecordBatch]:
        for batch in scan(sample_rows):
            yield pa.RecordBatch.from_arrays(batch.columns, names=names)
    return run


def merge(what: str, parts: list[Profile], start: str | None = None, end: str | None = None) -> Profile:
    """One profile of the features of several (the rows: the largest part's)."""
    features = {k: f for p in parts for k, f in p.features.items()}
    return Profile(what, max((p.rows for p in parts), default=0), features, start, end)


def source_profile(offline: OfflineStore, state: RegistryState, tgt: Target, start: datetime | None,
                   end: datetime | None, bins: dict[str, NumericBins] | None = None,
                   quantiles: bool = True) -> Profile:
    """The profile of a target's source rows with event time in ``[start, end]``, view by view."""
    parts = []
    by_view: dict[str, list[Column]] = {}
    for c in tgt.columns:
        by_view.setdefault(c.view, []).append(c)
    for view_name, cols in by_view.items():
        kind = _kind_of(state, view_name)
        if kind != "feature_views":
            label = "aggregate view" if kind == "aggregate_views" else "on-demand feature view"
            raise InputError(
                f"{tgt.kind} {tgt.name!r}: {label} {view_name!r} has no source rows to compute statistics over "
                "(its values exist only after aggregation): use a training set (get_historical_features) or "
                "the logged served values, or pass features= without it", name=view_name)
        view: FeatureView = state.feature_view(view_name)
        feats = [c.feature for c in cols]
        schema = pa.schema([pa.field(c.name, view.feature(c.feature).dtype.to_arrow()) for c in cols])

        def scan(sample_rows: int | None, v: FeatureView = view, f: list[str] = feats) -> Iterator[pa.RecordBatch]:
            return iter(offline.view_rows(v, start, end, f, sample_rows))

        parts.append(compute_profile(tgt.name, schema, _renamed(scan, schema.names), None, bins,
                                     quantiles=quantiles))
    return merge(tgt.name, parts, iso(start), iso(end))


def served_table(repo_path: Path, data_dir: Path, state: RegistryState, tgt: Target, served: Served) -> pa.Table:
    """The logged served values of a service target (its feature columns), log time in range."""
    if tgt.kind != "service":
        raise InputError(f"served values are logged per feature service; {tgt.name!r} is a feature view",
                         name=tgt.name)
    service = state.feature_service(tgt.name)
    destination = service.logging.destination if service.logging else None
    folder = log_dir(repo_path, data_dir, tgt.name, destination)
    log = read_log(folder, time_bound(served.start, "start"), time_bound(served.end, "end"))
    if log.num_columns == 0:
        raise InputError(f"feature service {tgt.name!r} has no logged values in {folder}"
                         + ("" if service.logging else " (it has no logging=LoggingConfig(...))"), name=tgt.name)
    return _pick(log, tgt, f"the feature log of {tgt.name!r}")


def table_of(data: Any, columns: list[str] | None = None) -> pa.Table:
    """A training set (table-like, RetrievalJob or Parquet path) as a table (``columns``: only those, when there;
    a Parquet file is read with DuckDB, only those columns)."""
    if isinstance(data, RetrievalJob):
        table = data.to_arrow()
    elif isinstance(data, (str, Path)):
        table = parquet_table(Path(data), columns)
    else:
        table = to_arrow(data, "the training set", ", a RetrievalJob or a Parquet path")
    if columns is not None:
        missing = [c for c in columns if c not in table.column_names]
        if missing and not isinstance(data, (str, Path)):
            raise InputError(f"the training set has no column {missing[0]!r} (columns: "
                             f"{', '.join(table.column_names)})", column=missing[0])
        table = table.select([c for c in columns if c in table.column_names])
    return table


def training_table(data: Any, tgt: Target) -> pa.Table:
    """A training set as a table of the target's feature columns (see :func:`_pick` for the names)."""
    wanted = [n for c in tgt.columns for n in (c.name, f"{c.projection}__{c.feature}", c.feature)]
    table = data if isinstance(data, (str, Path)) else None
    table = table_of(data, list(dict.fromkeys(wanted))) if table is not None else table_of(data)
    return _pick(table, tgt, "the training set")


def _pick(table: pa.Table, tgt: Target, where: str) -> pa.Table:
    """The target's columns of ``table`` under report names: ``<proj>__<feature>`` first, then ``<feature>``."""
    arrays, names = [], []
    for c in tgt.columns:
        for candidate in (c.name, f"{c.projection}__{c.feature}", c.feature):
            if candidate in table.column_names:
                arrays.append(table.column(candidate))
                names.append(c.name)
                break
        else:
            raise InputError(f"{where} has no column for feature {c.name!r} (columns: "
                             f"{', '.join(table.column_names)})", feature=c.name)
    return pa.table(arrays, names=names)


def parquet_table(path: Path, wanted: list[str] | None) -> pa.Table:
    """The columns of a Parquet file (or folder of files) among ``wanted`` (None: all), read with DuckDB."""
    files = sorted(str(p) for p in path.glob("**/*.parquet")) if path.is_dir() else [str(path)]
    if not files or not Path(files[0]).exists():
        raise InputError(f"training set {str(path)!r}: no such Parquet file", path=str(path))
    con = duckdb.connect()
    try:
        rel = con.sql(f"SELECT * FROM read_parquet([{', '.join(sql_string(f) for f in files)}], union_by_name=true)")
        cols = [c for c in dict.fromkeys(wanted) if c in rel.columns] if wanted is not None else list(rel.columns)
        return rel.select(*[duckdb.ColumnExpression(c) for c in cols]).to_arrow_table() if cols else \
            pa.table({})
    except duckdb.Error as err:
        raise InputError(f"training set {str(path)!r} cannot be read: {err}", path=str(path)) from None
    finally:
        con.close()


def table_profile(table: pa.Table, what: str, bins: dict[str, NumericBins] | None = None,
                  start: str | None = None, end: str | None = None, quantiles: bool = True) -> Profile:
    """The profile of every column of ``table``."""
    p = compute_profile(what, table.schema, table_scan(table), None, bins, quantiles=quantiles)
    return Profile(what, p.rows, p.features, start, end)


__all__ = ["Served", "Target"]

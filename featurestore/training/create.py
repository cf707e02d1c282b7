"""Creating a training set version: compute it, then pin everything it was made of in its manifest."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.kinds import KEYS
from featurestore.errors import InputError
from featurestore.monitoring.samples import table_profile
from featurestore.offline.entity_input import load
from featurestore.offline.protocol import OfflineStore
from featurestore.registry.file import RegistryState
from featurestore.resolution import ResolvedRequest, request
from featurestore.training.content_hash import table_hash
from featurestore.training.fingerprint import source_file
from featurestore.training.manifest import ENTITIES, OUTPUT, EntityFrame, Manifest, SourceFile
from featurestore.training.training_set import TrainingSet
from featurestore.training.versions import write_version
from featurestore.utc import now_iso

Compute = Callable[[RegistryState, pa.Table, Any, bool, bool, "datetime | None"], pa.Table]
"""``(state, entity table, features, full_feature_names, as_of_created, as_of) -> training set table``."""
ROW_GROUP = 1 << 20
STATS_ROWS = 10_000
"""Statistics are computed over at most this many rows of the output (evenly spaced): a drift reference (its PSI
bins and quantiles) needs thousands of values, not every row; the full output stays at hand for more."""


@dataclass(frozen=True)
class Context:
    """What creating and re-creating training sets needs of a store."""

    project: str
    repo_path: Path
    root: Path
    offline: OfflineStore
    compute: Compute
    feature_tables: Path | None = None


def entity_table(entity_df: Any) -> tuple[pa.Table, str]:
    """The entity frame as a table (a Parquet path is read whole: it is stored beside the output), and its
    timestamp column."""
    entity = load(entity_df)
    if entity.table is not None:
        return entity.table, entity.timestamp_column
    assert entity.path is not None
    return pq.read_table(entity.path), entity.timestamp_column


def features_of(features: Any) -> tuple[list[str], str | None]:
    """(feature references as given, service name) of a training set request."""
    if isinstance(features, FeatureService):
        refs = [f"{p.view}:{f}" for p in features.features for f in p.features]
        return refs, features.name
    if isinstance(features, str):
        raise InputError("features must be a list of 'view:feature' references or a FeatureService, not a string "
                         f"({features!r}); wrap one reference in a list, or pass store.get_feature_service(name)",
                         feature=features)
    if not isinstance(features, list | tuple) or not all(isinstance(f, str) for f in features):
        raise InputError("features must be a list of 'view:feature' references or a FeatureService")
    return list(features), None


def snapshot(state: RegistryState, resolved: ResolvedRequest, service: str | None) -> dict[str, dict[str, Any]]:
    """The registry form of every object the request uses: views, on-demand views and their inputs, entities,
    the service."""
    out: dict[str, dict[str, Any]] = {k: {} for k in KEYS}
    views = [r.view for r in resolved.views]
    for view in views:
        key = "aggregate_views" if isinstance(view, AggregateView) else "feature_views"
        out[key][view.name] = state.objects[key][view.name]
        for entity in view.entities:
            if entity.name in state.objects["entities"]:
                out["entities"][entity.name] = state.objects["entities"][entity.name]
    for odfv in resolved.on_demand:
        out["on_demand_feature_views"][odfv.view.name] = state.objects["on_demand_feature_views"][odfv.view.name]
    if service is not None:
        out["feature_services"][service] = state.objects["feature_services"][service]
    return out


def definitions_hash(definitions: dict[str, dict[str, Any]]) -> str:
    return hashlib.blake2b(json.dumps(definitions, sort_keys=True, default=str).encode(), digest_size=20).hexdigest()


def engine_versions(polars: bool) -> dict[str, str]:
    """The versions of what computes and writes a training set."""
    names = ["featurestore", "duckdb", "pyarrow"] + (["polars"] if polars else [])
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    out["python"] = platform.python_version()
    return out


def uses_polars(state: RegistryState) -> bool:
    """Whether computing over ``state`` runs Polars (a batch transform or an on-demand view)."""
    return bool(state.objects.get("on_demand_feature_views")) or any(
        v.get("transform") for v in state.objects.get("feature_views", {}).values())


def sourced_views(state: RegistryState) -> list[FeatureView | AggregateView]:
    return [*state.feature_views(), *state.aggregate_views()]


def files_of(ctx: Context, state: RegistryState, full: bool) -> tuple[list[SourceFile], list[str]]:
    """The files every sourced view of ``state`` reads now, fingerprinted; and the views read from a feature
    table (their files lie under the feature tables' folder)."""
    files: list[SourceFile] = []
    tables: list[str] = []
    for view in sourced_views(state):
        paths = ctx.offline.view_files(view)
        files += [source_file(view.name, p, ctx.repo_path, full) for p in paths]
        if ctx.feature_tables is not None and paths and all(
                Path(p).resolve().is_relative_to(ctx.feature_tables.resolve()) for p in paths):
            tables.append(view.name)
    return files, tables


def write_output(table: pa.Table, path: Path) -> str:
    """Write the output as Parquet with fixed settings (one chunk per column, fixed row groups: the same table
    gives the same bytes with the same pyarrow); returns the hash of the bytes written."""
    sink = pa.BufferOutputStream()
    pq.write_table(table.combine_chunks(), sink, row_group_size=ROW_GROUP, compression="snappy")
    data = sink.getvalue()
    path.write_bytes(memoryview(data))
    return hashlib.blake2b(memoryview(data), digest_size=20).hexdigest()


def statistics(table: pa.Table, entity_columns: list[str], label: str) -> dict[str, Any]:
    """The profile of the output's feature columns over at most :data:`STATS_ROWS` evenly spaced rows."""
    features = [c for c in table.column_names if c not in set(entity_columns)]
    sample = table.select(features)
    if sample.num_rows > STATS_ROWS:
        step = sample.num_rows / STATS_ROWS
        sample = sample.take(pa.array((np.arange(STATS_ROWS) * step).astype(np.int64)))
    found = table_profile(sample, label).to_dict()
    found["sampled_rows"] = sample.num_rows
    return found


def create(ctx: Context, state: RegistryState, name: str, entity_df: Any, features: Any, as_of: datetime | None,
           full_feature_names: bool, as_of_created: bool, full_hash: bool) -> TrainingSet:
    """A new version of training set ``name`` (see ``FeatureStore.create_training_set``)."""
    refs, service = features_of(features)
    entities, timestamp = entity_table(entity_df)
    resolved = request(features, state, full_feature_names, entities.schema.names)
    definitions = snapshot(state, resolved, service)
    used = RegistryState(ctx.project, state.version, definitions)
    files, tables = files_of(ctx, used, full_hash)  # before computing: a file changing meanwhile shows later
    table = ctx.compute(state, entities, features, full_feature_names, as_of_created, as_of)

    def fill(folder: Path) -> Callable[[int], Manifest]:
        # the profile and the content hashes run beside the writes (numpy, blake2b and Parquet release the GIL)
        with ThreadPoolExecutor(2) as pool:
            profiled = pool.submit(statistics, table, entities.column_names, f"training set {name}")
            hashed = pool.submit(lambda: (table_hash(table), table_hash(entities)))
            written = write_output(table, folder / OUTPUT)
            pq.write_table(entities, folder / ENTITIES, compression="zstd")
            content, entity_hash = hashed.result()
            stats = profiled.result()
        frame = EntityFrame(content_hash=entity_hash, rows=entities.num_rows, columns=entities.column_names,
                            timestamp_column=timestamp)

        def manifest(version: int) -> Manifest:
            return Manifest(
                name=name, version=version, created_at=now_iso(), registry_version=state.version, features=refs,
                service=service, full_feature_names=full_feature_names,
                as_of=as_of.isoformat() if as_of is not None else None, as_of_created=as_of_created,
                definitions=definitions, definitions_hash=definitions_hash(definitions), entity=frame,
                sources=files, feature_tables=tables, engine=engine_versions(uses_polars(used)), rows=table.num_rows,
                content_hash=content, file_hash=written, statistics=stats)

        return manifest

    return write_version(ctx.root, name, fill)

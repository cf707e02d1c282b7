"""Re-creating a training set version from its manifest, and naming what differs when the result does.

The definitions are the manifest's snapshot (as they were at its registry version, not as they are now); the
entity frame is the stored one; the cutoff and flags are the manifest's. The output's content hash decides.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.definitions.kinds import KEYS
from featurestore.errors import (
    CodeMismatchError,
    DataSourceError,
    DefinitionError,
    FeatureStoreError,
    ReproducibilityError,
)
from featurestore.registry.file import RegistryState
from featurestore.training.content_hash import table_hash
from featurestore.training.create import (
    Context,
    engine_versions,
    files_of,
    uses_polars,
    write_output,
)
from featurestore.training.fingerprint import changes
from featurestore.training.manifest import Manifest
from featurestore.training.training_set import TrainingSet
from featurestore.utc import time_bound


@dataclass(frozen=True)
class Recreation:
    """A successful re-creation: the output's content is the one recorded (``content_hash``)."""

    name: str
    version: int
    content_hash: str
    rows: int
    bytes_identical: bool | None
    """Whether the re-created Parquet file has the recorded bytes (None: another pyarrow wrote the original)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """What changed since without changing the result (source files, engine versions)."""

    @property
    def identical(self) -> bool:
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "identical": True, "content_hash": self.content_hash,
                "rows": self.rows, "bytes_identical": self.bytes_identical, "notes": list(self.notes)}

    def __str__(self) -> str:
        same = {True: ", byte-identical Parquet", False: " (the Parquet bytes differ)", None: ""}[self.bytes_identical]
        lines = [f"training set {self.name} version {self.version}: re-created identically ({self.rows:,} rows, "
                 f"content hash {self.content_hash[:16]}{same})"]
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])


def snapshot_state(project: str, manifest: Manifest) -> RegistryState:
    """The manifest's definitions as a registry snapshot (every object parsed now: DefinitionError if one no
    longer loads)."""
    objects = {k: dict(manifest.definitions.get(k, {})) for k in KEYS}
    state = RegistryState(project, manifest.registry_version, objects)
    for key in KEYS:
        state.all(key)
    return state


def features_at(state: RegistryState, manifest: Manifest) -> Any:
    return state.feature_service(manifest.service) if manifest.service else list(manifest.features)


def _fail(manifest: Manifest, differences: list[dict[str, object]], why: str) -> ReproducibilityError:
    causes = "; ".join(_describe(d) for d in differences)
    return ReproducibilityError(
        f"training set {manifest.name!r} version {manifest.version} cannot be re-created identically: {why}"
        + (f". What differs: {causes}" if causes else ""),
        name=manifest.name, version=manifest.version, differences=differences)


def _describe(d: dict[str, object]) -> str:
    kind = d["kind"]
    obj = d.get("object")
    if kind == "source_changed":
        return f"source file {obj} of view {d.get('view')} changed ({d['before']} -> {d['after']})"
    if kind == "source_missing":
        return f"source file {obj} of view {d.get('view')} is gone"
    if kind == "source_added":
        return f"view {d.get('view')} reads a new file {obj}"
    if kind == "rows_after_creation":
        return str(d["detail"])
    if kind == "engine":
        return f"{obj} is {d['after']} (was {d['before']})"
    return f"{kind} {obj}: {d.get('detail', '')}".rstrip(": ")


def _plain_set_note(manifest: Manifest, found: list[dict[str, object]]) -> list[dict[str, object]]:
    """For a set created without ``as_of``, appended or rewritten sources mean rows it now reads that it did not."""
    if manifest.as_of is not None or not any(d["kind"] in ("source_added", "source_changed") for d in found):
        return []
    return [{"kind": "rows_after_creation", "object": manifest.name, "detail": (
        f"the set was created without as_of, so rows that landed in its sources after it was created "
        f"({manifest.created_at}) are read now; create it with as_of to pin what it reads")}]


def recreate(ctx: Context, ts: TrainingSet) -> Recreation:
    """Re-create ``ts`` and prove its content identical, or raise ReproducibilityError naming each cause."""
    manifest = ts.manifest
    found: list[dict[str, object]] = []
    try:
        entities = pq.read_table(ts.entities_path)
    except (OSError, pa.ArrowException):
        raise _fail(manifest, [{"kind": "entity_frame", "object": str(ts.entities_path),
                                "detail": "the stored entity frame is gone or unreadable"}],
                    f"its entity frame {str(ts.entities_path)!r} is gone") from None
    if manifest.entity is not None and table_hash(entities) != manifest.entity.content_hash:
        raise _fail(manifest, [{"kind": "entity_frame", "object": str(ts.entities_path),
                                "detail": "the stored entity frame was changed"}], "its entity frame was changed")
    try:
        state = snapshot_state(ctx.project, manifest)
    except FeatureStoreError as err:
        raise _fail(manifest, [{"kind": "definition", "object": "definitions", "detail": err.message}],
                    f"a definition no longer loads ({err.message})") from None
    engine = engine_versions(uses_polars(state))
    engine_changes: list[dict[str, object]] = [
        {"kind": "engine", "object": k, "before": manifest.engine.get(k), "after": v}
        for k, v in engine.items() if manifest.engine.get(k) not in (None, v)]
    full = any(f.full and not f.path.endswith(".csv") for f in manifest.sources)  # fingerprinted as at creation
    with contextlib.suppress(FeatureStoreError):  # a file that cannot be read now shows as a source error below
        found += changes(manifest.sources, files_of(ctx, state, full)[0])
    cutoff = time_bound(manifest.as_of, "as_of")
    try:
        table = ctx.compute(state, entities, features_at(state, manifest), manifest.full_feature_names,
                            manifest.as_of_created, cutoff)
    except (CodeMismatchError, DefinitionError) as err:
        raise _fail(manifest, [{"kind": "definition", "object": err.view or "definitions", "detail": err.message},
                               *found], f"a definition no longer loads ({err.message})") from None
    except DataSourceError as err:
        raise _fail(manifest, [*found, {"kind": "source_error", "object": err.source or err.view,
                                        "detail": err.message}], f"a source cannot be read ({err.message})") from None
    content = table_hash(table)
    if content != manifest.content_hash:
        found = found + _plain_set_note(manifest, found) + engine_changes
        if not found:
            found = [{"kind": "output", "object": manifest.name, "detail": (
                "the output differs though no source file, definition or engine version changed (a DuckDB source "
                "has no files to fingerprint: its tables may have changed)")}]
        raise _fail(manifest, found, f"its content hash is {content[:16]}, not {manifest.content_hash[:16]}")
    same_writer = engine.get("pyarrow") == manifest.engine.get("pyarrow")
    with tempfile.TemporaryDirectory(dir=ts.folder.parent) as tmp:
        written = write_output(table, Path(tmp) / "out.parquet")
    notes = [_describe(d) + " (the rows read are the same)" for d in found]
    notes += [_describe(d) + " (the output is the same)" for d in engine_changes]
    return Recreation(manifest.name, manifest.version, content, table.num_rows,
                      (written == manifest.file_hash) if same_writer else None, tuple(notes))


__all__ = ["Recreation", "recreate", "snapshot_state"]

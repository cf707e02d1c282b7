"""The manifest of a training set version: everything needed to say what it was made of and to re-create it.

On disk, each version is a folder ``<root>/<name>/v<version>/`` holding ``manifest.json``, the output
(``data.parquet``) and the entity frame it was computed for (``entities.parquet``). A version is written under a
temporary name and renamed at the end, so a folder ``v<N>`` is always complete, and no version is ever rewritten.

>>> m = Manifest(name="churn", version=1, created_at="2026-11-01T00:00:00+00:00", registry_version=3)
>>> Manifest.from_json(m.to_json()) == m
True
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from featurestore.errors import InputError, NotFoundError, RegistryError

MANIFEST = "manifest.json"
OUTPUT = "data.parquet"
ENTITIES = "entities.parquet"
FORMAT = 1
"""The manifest format this version writes, and the newest it reads."""
_VERSION_DIR = re.compile(r"v([1-9][0-9]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_training_set_name(name: object) -> str:
    """``name`` when it is a valid training-set name (an identifier: letters, digits, ``_``), else InputError.

    >>> check_training_set_name("churn_v2")
    'churn_v2'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 128:
        raise InputError(f"training set name {name!r} is not valid: use an identifier (ASCII letters, digits and "
                         "'_', not starting with a digit, at most 128 characters)", name=str(name))
    return name


@dataclass(frozen=True)
class SourceFile:
    """One file a training set read, as it was when the set was created."""

    view: str
    """The view (feature or aggregate view) that read it."""
    path: str
    """Its path (relative to the repo when inside it, else absolute)."""
    size: int
    mtime_ns: int
    fingerprint: str
    """``blake2b`` of its size and Parquet footer (metadata: row groups, statistics), or of its whole content
    when ``full`` (CSV files are always hashed whole)."""
    full: bool = False


@dataclass(frozen=True)
class EntityFrame:
    """The entity frame a training set was computed for (stored beside the output as ``entities.parquet``)."""

    content_hash: str
    rows: int
    columns: list[str]
    timestamp_column: str


@dataclass(frozen=True)
class Manifest:
    """A training set version (see the README's "Reproducible training sets" for every field)."""

    name: str
    version: int
    created_at: str
    """When it was created (ISO-8601, UTC)."""
    registry_version: int
    features: list[str] = field(default_factory=list)
    """The feature references as requested (``view:feature``), in order."""
    service: str | None = None
    """The feature service requested, when one was."""
    full_feature_names: bool = False
    as_of: str | None = None
    """The cutoff on created time (ISO-8601 UTC), or None (every row read at creation)."""
    as_of_created: bool = False
    definitions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Registry key (``feature_views``, ...) -> name -> the registry form of every object the set used."""
    definitions_hash: str = ""
    entity: EntityFrame | None = None
    sources: list[SourceFile] = field(default_factory=list)
    feature_tables: list[str] = field(default_factory=list)
    """The views read from their offline feature table rather than their source."""
    engine: dict[str, str] = field(default_factory=dict)
    """Package -> version: featurestore, duckdb, pyarrow, polars (when used), python."""
    rows: int = 0
    content_hash: str = ""
    """A hash of the output's content (its logical values, independent of Parquet writer and chunking)."""
    file_hash: str = ""
    """A hash of ``data.parquet``'s bytes (comparable only with the same writer versions)."""
    statistics: dict[str, Any] = field(default_factory=dict)
    """The output's feature statistics (a :class:`~featurestore.monitoring.profile.Profile` as JSON)."""
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        found = data.get("format", FORMAT)
        if not isinstance(found, int) or found > FORMAT:
            raise RegistryError(f"training set manifest format {found!r} is newer than this featurestore reads "
                                f"({FORMAT}): upgrade to read it", format=found, supported=FORMAT)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("entity"), dict):
            values["entity"] = EntityFrame(**values["entity"])
        values["sources"] = [SourceFile(**s) for s in values.get("sources", [])]
        return cls(**values)

    def views(self) -> list[str]:
        """The names of the feature, aggregate and on-demand views the set used, by name."""
        keys = ("feature_views", "aggregate_views", "on_demand_feature_views")
        return sorted(n for k in keys for n in self.definitions.get(k, {}))


def version_dirs(root: Path, name: str) -> dict[int, Path]:
    """The complete versions of training set ``name`` under ``root``: version -> its folder."""
    folder = root / name
    if not folder.is_dir():
        return {}
    out = {}
    for child in folder.iterdir():
        match = _VERSION_DIR.fullmatch(child.name)
        if match and (child / MANIFEST).is_file():
            out[int(match.group(1))] = child
    return dict(sorted(out.items()))


def read_manifest(root: Path, name: str, version: int | None = None) -> Manifest:
    """The manifest of ``name``'s ``version`` (None: the latest); NotFoundError naming what exists when absent."""
    check_training_set_name(name)
    versions = version_dirs(root, name)
    if not versions:
        raise NotFoundError(f"training set {name!r} does not exist (no version under {str(root)!r})",
                            kind="training_set", name=name)
    if version is None:
        version = max(versions)
    if version not in versions:
        raise NotFoundError(f"training set {name!r} has no version {version} (versions: "
                            f"{', '.join(map(str, versions))})", kind="training_set", name=name)
    path = versions[version] / MANIFEST
    try:
        return Manifest.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as err:
        raise RegistryError(f"training set {name!r} version {version}: manifest {str(path)!r} is unreadable: "
                            f"{err}", path=str(path)) from None


def list_manifests(root: Path) -> list[Manifest]:
    """Every version of every training set under ``root``, by name then version (unreadable ones skipped)."""
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and _NAME.fullmatch(p.name)):
        for version in version_dirs(root, folder.name):
            try:
                out.append(read_manifest(root, folder.name, version))
            except RegistryError:
                continue
    return out

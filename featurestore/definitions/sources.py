"""Batch sources (Parquet, CSV, DuckDB) and push sources.

Paths are relative to the feature repo folder unless absolute.

>>> src = ParquetSource(path="data/driver_stats.parquet", timestamp_field="event_timestamp")
>>> src.kind
'parquet'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from featurestore.errors import DefinitionError
from featurestore.naming import check_name


def _check_common(src: Any, what: str) -> None:
    if not isinstance(src.timestamp_field, str) or not src.timestamp_field:
        raise DefinitionError(f"{what} needs a timestamp_field (the event time column)", source=what)
    mapping = dict(src.field_mapping or {})
    for col, name in mapping.items():
        if not isinstance(col, str) or not isinstance(name, str):
            raise DefinitionError(f"{what} field_mapping must map column names to names: {col!r}: {name!r}")
        check_name(name, f"{what} field_mapping target")
    if len(set(mapping.values())) != len(mapping):
        raise DefinitionError(f"{what} field_mapping maps two columns to one name: {mapping}")
    object.__setattr__(src, "field_mapping", mapping)
    if src.name:
        check_name(src.name, "source")


@dataclass(frozen=True)
class _BatchSource:
    kind: ClassVar[str] = ""
    timestamp_field: str = "event_timestamp"
    created_timestamp_field: str | None = None
    field_mapping: dict[str, str] = field(default_factory=dict)
    name: str = ""
    description: str = ""

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def describe(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        for key in self.__dataclass_fields__:
            d[key] = getattr(self, key)
        return d


@dataclass(frozen=True, kw_only=True)
class ParquetSource(_BatchSource):
    """Parquet file, folder of Parquet files, or glob."""

    kind: ClassVar[str] = "parquet"
    path: str

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise DefinitionError("ParquetSource needs a path")
        _check_common(self, f"ParquetSource {self.path!r}")

    def describe(self) -> str:
        return f"parquet:{self.path}"

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))


@dataclass(frozen=True, kw_only=True)
class CsvSource(_BatchSource):
    """CSV file (with a header row) or glob of CSV files."""

    kind: ClassVar[str] = "csv"
    path: str
    delimiter: str = ","

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise DefinitionError("CsvSource needs a path")
        _check_common(self, f"CsvSource {self.path!r}")

    def describe(self) -> str:
        return f"csv:{self.path}"

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))


@dataclass(frozen=True, kw_only=True)
class DuckDBSource(_BatchSource):
    """A table or a SQL query in a DuckDB database.

    ``database`` is a DuckDB file (relative to the repo); without it the offline
    store's database (``offline_store.path``) is used.
    """

    kind: ClassVar[str] = "duckdb"
    table: str | None = None
    query: str | None = None
    database: str | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise DefinitionError("DuckDBSource needs exactly one of table= or query=")
        _check_common(self, f"DuckDBSource {self.table or 'query'!r}")

    def describe(self) -> str:
        """``duckdb:TABLE`` (``duckdb:FILE:TABLE`` with ``database``) or ``duckdb-query:`` and the query's start,
        on one line (errors and listings name the source briefly)."""
        if self.table:
            return f"duckdb:{self.database}:{self.table}" if self.database else f"duckdb:{self.table}"
        text = " ".join(str(self.query).split())
        return f"duckdb-query:{text if len(text) <= 60 else text[:57] + '...'}"

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))


BatchSource = ParquetSource | CsvSource | DuckDBSource


@dataclass(frozen=True)
class PushSource:
    """A source rows are pushed to (``FeatureStore.push``), backed by a batch source.

    >>> PushSource(name="stats_push", batch_source=ParquetSource(path="data/x.parquet")).name
    'stats_push'
    """

    name: str
    batch_source: BatchSource
    description: str = ""
    kind: ClassVar[str] = "push"

    def __post_init__(self) -> None:
        check_name(self.name, "push source")
        if not isinstance(self.batch_source, (ParquetSource, CsvSource, DuckDBSource)):
            raise DefinitionError(f"push source {self.name!r} needs a batch_source", name=self.name)

    @property
    def timestamp_field(self) -> str:
        return self.batch_source.timestamp_field

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "push", "name": self.name, "description": self.description,
                "batch_source": self.batch_source.to_dict()}


_KINDS: dict[str, type] = {"parquet": ParquetSource, "csv": CsvSource, "duckdb": DuckDBSource}


def source_from_dict(d: dict[str, Any]) -> BatchSource | PushSource:
    d = dict(d)
    kind = d.pop("kind")
    if kind == "push":
        return PushSource(name=d["name"], description=d.get("description", ""),
                          batch_source=source_from_dict(d["batch_source"]))  # type: ignore[arg-type]
    return _KINDS[kind](**d)  # type: ignore[no-any-return]


def batch_of(source: BatchSource | PushSource) -> BatchSource:
    return source.batch_source if isinstance(source, PushSource) else source

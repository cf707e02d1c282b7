"""Feature views: a set of typed features of some entities, read from one source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from featurestore.definitions.entity import Entity
from featurestore.definitions.expect import Expectation, check_for_view, parse_staleness
from featurestore.definitions.field import Field, fields_of
from featurestore.definitions.sources import (
    BatchSource,
    CsvSource,
    DuckDBSource,
    ParquetSource,
    PushSource,
    source_from_dict,
)
from featurestore.definitions.transform_code import check_transform
from featurestore.errors import DefinitionError, NotFoundError
from featurestore.naming import check_name

if TYPE_CHECKING:
    import polars as pl


class Projectable:
    """What feature views and aggregate views share: a feature by name, and the projections of the view that
    feature services use (``view[["a"]]``, ``with_name``, ``with_join_key_map``)."""

    label: ClassVar[str] = "feature view"
    """The kind of view, in messages."""

    if TYPE_CHECKING:
        name: str
        source: BatchSource | PushSource
        entities: tuple[Entity, ...]
        schema: tuple[Field, ...]

        @property
        def features(self) -> tuple[Field, ...]: ...

        @property
        def feature_names(self) -> tuple[str, ...]: ...

    @property
    def join_keys(self) -> tuple[str, ...]:
        return tuple(k for e in self.entities for k in e.join_keys)

    @property
    def key_fields(self) -> tuple[Field, ...]:
        """Join keys declared in the schema (the registry fills in the rest from the source)."""
        keys = set(self.join_keys)
        return tuple(f for f in self.schema if f.name in keys)

    def source_column(self, name: str) -> str:
        """The source column that feeds ``name`` (the inverse of ``field_mapping``; an aggregate view maps only its
        join keys: its aggregations and ``where`` name source columns as they are)."""
        batch = self.source.batch_source if isinstance(self.source, PushSource) else self.source
        for col, mapped in batch.field_mapping.items():
            if mapped == name:
                return col
        return name

    def _no_feature(self, name: str) -> NotFoundError:
        return NotFoundError(f"{self.label} {self.name!r} has no feature {name!r}", kind="feature",
                             name=f"{self.name}:{name}")

    def feature(self, name: str) -> Field:
        for f in self.features:
            if f.name == name:
                return f
        raise self._no_feature(name)

    def __getitem__(self, names: list[str]) -> FeatureViewProjection:
        """``view[["a", "b"]]``: a subset of the view's features, for feature services."""
        if isinstance(names, str):
            names = [names]
        for n in names:
            if n not in self.feature_names:
                raise self._no_feature(n)
        return FeatureViewProjection(self.name, tuple(names))

    def projection(self) -> FeatureViewProjection:
        """Every feature of the view, under its own name and join keys."""
        return FeatureViewProjection(self.name)

    def with_name(self, name: str) -> FeatureViewProjection:
        """The view under another name in a feature service (``name:feature``, ``name__feature``)."""
        return self.projection().with_name(name)

    def with_join_key_map(self, join_key_map: dict[str, str]) -> FeatureViewProjection:
        """The view looked up by other entity columns: ``{"location_id": "origin_id"}`` reads the
        view's join key ``location_id`` from the entity column ``origin_id``.

        >>> from featurestore import Entity, Field, ParquetSource
        >>> from featurestore.types import Float64
        >>> loc = FeatureView(name="location", entities=[Entity(name="location", join_keys=["location_id"])],
        ...                   schema=[Field(name="temp", dtype=Float64)], source=ParquetSource(path="l.parquet"))
        >>> p = loc.with_name("origin").with_join_key_map({"location_id": "origin_id"})
        >>> p.name, p.entity_column("location_id")
        ('origin', 'origin_id')
        """
        unknown = [k for k in join_key_map if k not in self.join_keys]
        if unknown:
            raise DefinitionError(f"{self.label} {self.name!r} has no join key {unknown[0]!r} to map; its join keys "
                                  f"are {list(self.join_keys)}", name=self.name, field=unknown[0])
        return self.projection().with_join_key_map(join_key_map)


@dataclass(frozen=True)
class FeatureView(Projectable):
    """Features of one or more entities, with a source and an optional ttl.

    ``ttl=None`` or ``timedelta(0)`` means values never expire. A field whose name
    is a join key declares that key's type instead of a feature. ``entities=[]``
    makes a view without entities (global features, such as a platform-wide daily
    rate): offline it is joined to every entity row by time only, online every
    entity row gets its one latest row.

    ``expectations``: data-quality checks (:mod:`featurestore.expect`) every batch written online (materialize,
    push, ``write_to_online_store``) must pass; ``on_invalid`` says what a failing batch does: ``"reject"``
    (nothing written, :class:`~featurestore.errors.ExpectationError`), ``"quarantine"`` (bad rows set aside in
    Parquet, good ones written) or ``"warn"`` (everything written, the failure recorded). ``max_staleness``: the
    freshness SLA of the view's online data (``"2h"`` or a timedelta), exported to Prometheus.

    ``transform``: a Polars batch transform, a function of a ``pl.LazyFrame`` of source rows
    (source column names) returning one; it runs wherever the view's source rows are read
    (training sets, spines, materialize, push) and the view's columns are read from its output
    (see the README, "Polars batch transforms"). The registry keeps its code text
    (:attr:`transform_code`) and fingerprint; a view read back from the registry has
    ``transform=None`` and :attr:`has_transform` true.

    >>> from datetime import timedelta
    >>> from featurestore import Entity, Field, ParquetSource
    >>> from featurestore.types import Float32
    >>> fv = FeatureView(name="driver_stats", entities=[Entity(name="driver", join_keys=["driver_id"])],
    ...                  schema=[Field(name="conv_rate", dtype=Float32)], ttl=timedelta(days=2),
    ...                  source=ParquetSource(path="data/driver_stats.parquet"))
    >>> fv.join_keys, fv.feature_names
    (('driver_id',), ('conv_rate',))
    """

    name: str
    entities: tuple[Entity, ...]
    schema: tuple[Field, ...]
    source: BatchSource | PushSource
    ttl: timedelta | None = None
    online: bool = True
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    expectations: tuple[Expectation, ...] = ()
    on_invalid: str = "reject"
    max_staleness: timedelta | str | None = None
    transform: Callable[[pl.LazyFrame], pl.LazyFrame] | None = field(default=None, compare=False)
    _transform_code: str | None = field(default=None, repr=False)
    _transform_fingerprint: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_name(self.name, "feature view")
        if self.transform is not None:
            code, fp = check_transform(self.transform, self.name)
            object.__setattr__(self, "_transform_code", code)
            object.__setattr__(self, "_transform_fingerprint", fp)
        elif (self._transform_code is None) != (self._transform_fingerprint is None):
            raise DefinitionError(f"feature view {self.name!r}: a registered transform needs both its code and "
                                  "its fingerprint", name=self.name)
        entities = tuple(self.entities or ())
        if not all(isinstance(e, Entity) for e in entities):
            raise DefinitionError(f"feature view {self.name!r}: entities must be a list of Entity objects "
                                  "(an empty list for a view without entities)", name=self.name)
        schema = fields_of(f"feature view {self.name!r}", self.schema)
        if not isinstance(self.source, (ParquetSource, CsvSource, DuckDBSource, PushSource)):
            raise DefinitionError(f"feature view {self.name!r} needs a source", name=self.name)
        ttl = self.ttl
        if ttl is not None and not isinstance(ttl, timedelta):
            raise DefinitionError(f"feature view {self.name!r} ttl must be a timedelta, got {ttl!r}", name=self.name)
        if ttl is not None and ttl < timedelta(0):
            raise DefinitionError(f"feature view {self.name!r} ttl must not be negative", name=self.name)
        object.__setattr__(self, "entities", entities)
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "ttl", ttl or None)
        object.__setattr__(self, "tags", dict(self.tags or {}))
        keys = self.join_keys
        if len(set(keys)) != len(keys):
            raise DefinitionError(f"feature view {self.name!r}: two entities share a join key", name=self.name)
        if not self.features:
            raise DefinitionError(f"feature view {self.name!r} has no features", name=self.name)
        columns: dict[str, Any] = {k: None for k in keys}  # a key's type may come from the source at apply
        columns.update({f.name: f.dtype for f in self.schema})
        object.__setattr__(self, "expectations", check_for_view(self.name, self.expectations, columns,
                                                                self.on_invalid))
        object.__setattr__(self, "max_staleness", parse_staleness(self.max_staleness,
                                                                  f"feature view {self.name!r}"))

    def __hash__(self) -> int:
        return hash(("FeatureView", self.name))

    @property
    def has_transform(self) -> bool:
        """Whether the view has a batch transform (live, or registered: its code known, the function not)."""
        return self._transform_fingerprint is not None

    @property
    def transform_code(self) -> str | None:
        """The transform's code text as the registry stores it (None without a transform)."""
        return self._transform_code

    @property
    def transform_fingerprint(self) -> str | None:
        """sha256 of :attr:`transform_code` (None without a transform)."""
        return self._transform_fingerprint

    @property
    def features(self) -> tuple[Field, ...]:
        keys = set(self.join_keys)
        return tuple(f for f in self.schema if f.name not in keys)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": [e.to_dict() for e in self.entities],
            "schema": [f.to_dict() for f in self.schema],
            "source": self.source.to_dict(),
            "ttl_seconds": self.ttl.total_seconds() if self.ttl else None,
            "online": self.online,
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
            **({"expectations": [e.to_dict() for e in self.expectations], "on_invalid": self.on_invalid}
               if self.expectations else {}),
            **({"max_staleness": self.max_staleness} if self.max_staleness else {}),
            **({"transform": {"code": self._transform_code, "fingerprint": self._transform_fingerprint}}
               if self.has_transform else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureView:
        """The view as registered: a transform's code and fingerprint are kept, the function is not (None)."""
        transform = d.get("transform") or {}
        return cls(
            name=d["name"],
            entities=tuple(Entity.from_dict(e) for e in d["entities"]),
            schema=tuple(Field.from_dict(f) for f in d["schema"]),
            source=source_from_dict(d["source"]),
            ttl=timedelta(seconds=d["ttl_seconds"]) if d.get("ttl_seconds") else None,
            online=d.get("online", True),
            description=d.get("description", ""),
            owner=d.get("owner", ""),
            tags=d.get("tags", {}),
            expectations=tuple(Expectation.from_dict(e) for e in d.get("expectations") or ()),
            on_invalid=d.get("on_invalid", "reject"),
            max_staleness=d.get("max_staleness"),
            _transform_code=transform.get("code"),
            _transform_fingerprint=transform.get("fingerprint"),
        )


@dataclass(frozen=True)
class FeatureViewProjection:
    """Some features of one view, as a feature service uses them.

    ``features=()`` means all. ``alias`` names the projection in references,
    output names and statuses (default: the view's name), so one view can serve
    twice in a service; ``join_key_map`` maps a join key of the view to the
    entity column holding its values.

    >>> p = FeatureViewProjection("location", ("temp",)).with_name("dest").with_join_key_map({"location_id": "dest_id"})
    >>> p.name, p.entity_column("location_id"), p.entity_column("other")
    ('dest', 'dest_id', 'other')
    """

    view: str
    features: tuple[str, ...] = ()
    alias: str | None = None
    join_key_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features or ()))
        mapping = dict(self.join_key_map or {})
        for key, column in mapping.items():
            check_name(key, f"projection {self.name!r} join_key_map key")
            check_name(column, f"projection {self.name!r} join_key_map column")
        if len(set(mapping.values())) != len(mapping):
            raise DefinitionError(f"projection {self.name!r}: join_key_map maps two join keys to one column: "
                                  f"{mapping}", name=self.name)
        object.__setattr__(self, "join_key_map", mapping)
        if self.alias is not None:
            check_name(self.alias, "projection")

    def __hash__(self) -> int:
        return hash((self.view, self.features, self.alias, tuple(sorted(self.join_key_map.items()))))

    @property
    def name(self) -> str:
        """The name references, output names and statuses use."""
        return self.alias or self.view

    def entity_column(self, join_key: str) -> str:
        """The entity column that holds ``join_key``'s values."""
        return self.join_key_map.get(join_key, join_key)

    def with_name(self, name: str) -> FeatureViewProjection:
        return replace(self, alias=name)

    def with_join_key_map(self, join_key_map: dict[str, str]) -> FeatureViewProjection:
        return replace(self, join_key_map=dict(join_key_map))

    def __getitem__(self, names: list[str]) -> FeatureViewProjection:
        """``projection[["a"]]``: fewer features of the same projection."""
        return replace(self, features=(names,) if isinstance(names, str) else tuple(names))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"view": self.view, "features": list(self.features)}
        if self.alias is not None:
            d["alias"] = self.alias
        if self.join_key_map:
            d["join_key_map"] = dict(self.join_key_map)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureViewProjection:
        return cls(d["view"], tuple(d.get("features", ())), d.get("alias"), dict(d.get("join_key_map") or {}))

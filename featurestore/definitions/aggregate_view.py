"""Aggregate views: windowed aggregations of a source's events per entity, exact offline and online.

An event counts for an entity row ``(k, T)`` iff its join keys equal ``k``, ``T - w <= event time < T`` and the
aggregation's ``where`` holds (a DuckDB SQL predicate on source columns; null excludes). The end is exclusive:
a training row never counts its own event (plain views include ``T``). With ``resolution=r`` the start of every
window is rounded down to a multiple of ``r`` (epoch microseconds), offline and online alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from featurestore import types
from featurestore.definitions.durations import parse_duration, spelled
from featurestore.definitions.entity import Entity
from featurestore.definitions.expect import parse_staleness
from featurestore.definitions.feature_view import FeatureView, Projectable
from featurestore.definitions.field import Field, fields_of
from featurestore.definitions.sources import (
    BatchSource,
    CsvSource,
    DuckDBSource,
    ParquetSource,
    PushSource,
    source_from_dict,
)
from featurestore.errors import DefinitionError
from featurestore.naming import check_name

FUNCTIONS = ("count", "sum", "mean", "min", "max", "stddev", "count_distinct", "last", "first")
"""The aggregation functions."""
NUMERIC_FUNCTIONS = ("sum", "mean", "stddev")
"""The functions that need a numeric column."""
DEFAULT_SERVING_HORIZON = timedelta(days=2)


@dataclass(frozen=True)
class Aggregation:
    """One function of one source column (none for ``count`` of rows) over some windows.

    ``windows``: durations (``"1h"``, ``"7d"``, a timedelta); none means one lifetime aggregate. Feature
    names: ``{column}_{function}_{window}`` (``count_{window}`` without a column, no ``_{window}`` for a
    lifetime aggregate); ``name=`` overrides it (with several windows it is a prefix: ``{name}_{window}``).
    ``where``: a DuckDB SQL predicate on source columns; rows where it is false or null do not count.

    >>> Aggregation(column="amount", function="sum", windows=["1d", "7d"]).feature_names
    ('amount_sum_1d', 'amount_sum_7d')
    >>> Aggregation(function="count", windows=["1h"]).feature_names
    ('count_1h',)
    >>> Aggregation(column="merchant_id", function="last").feature_names
    ('merchant_id_last',)
    """

    function: str
    column: str | None = None
    windows: tuple[str, ...] = ()
    where: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        what = f"aggregation {self.name or self.function!r}"
        if self.function not in FUNCTIONS:
            raise DefinitionError(f"{what}: unknown function {self.function!r}; use one of {', '.join(FUNCTIONS)}",
                                  value=str(self.function))
        if self.column is not None and (not isinstance(self.column, str) or not self.column):
            raise DefinitionError(f"{what}: column must be a source column name, got {self.column!r}",
                                  value=self.function)
        if self.column is None and self.function != "count":
            raise DefinitionError(f"{what}: function {self.function!r} needs a column (only count counts rows)",
                                  value=self.function)
        windows = self.windows
        if isinstance(windows, (str, timedelta)):
            windows = (windows,)
        spelled_windows = tuple(spelled(w, "window", what) for w in (windows or ()))
        if len(set(map(_us, spelled_windows))) != len(spelled_windows):
            raise DefinitionError(f"{what} lists a window twice: {list(spelled_windows)}",
                                  value=list(spelled_windows))
        object.__setattr__(self, "windows", spelled_windows)
        if self.where is not None and (not isinstance(self.where, str) or not self.where.strip()):
            raise DefinitionError(f"{what}: where must be a DuckDB SQL predicate (text), got {self.where!r}",
                                  value=self.function)
        if self.name is not None:
            check_name(self.name, "aggregation")
        for out in self.feature_names:
            check_name(out, f"{what}: feature (set name= to choose another)")

    @property
    def window_us(self) -> tuple[int | None, ...]:
        """Per feature, its window in microseconds (None: lifetime)."""
        return tuple(_us(w) for w in self.windows) or (None,)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Per window, the feature name."""
        base = self.name or (f"{self.column}_{self.function}" if self.column is not None else self.function)
        if not self.windows:
            return (base,)
        if self.name is not None and len(self.windows) == 1:
            return (self.name,)
        return tuple(f"{base}_{w}" for w in self.windows)

    def to_dict(self) -> dict[str, Any]:
        return {"function": self.function, "column": self.column, "windows": list(self.windows),
                "where": self.where, "name": self.name}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Aggregation:
        return cls(function=d["function"], column=d.get("column"), windows=tuple(d.get("windows") or ()),
                   where=d.get("where"), name=d.get("name"))


def _us(window: str) -> int:
    return parse_duration(window, "window")


@dataclass(frozen=True)
class AggInput:
    """What one or more aggregations read per event: a source column (None: the row itself, for ``count``)
    and a ``where`` predicate (None: every row). Offline and online it is one value per event, null when the
    event does not count (``where`` false or null, the value null or NaN)."""

    column: str | None
    where: str | None


@dataclass(frozen=True)
class AggOutput:
    """One feature of an aggregate view: its name, function, input (index into
    :attr:`AggregateView.inputs`), window in microseconds (None: lifetime) and value type."""

    name: str
    function: str
    input: int
    window_us: int | None
    dtype: types.ValueType


@dataclass(frozen=True)
class AggregateView(Projectable):
    """Windowed aggregations of a source's events per entity (see the module docstring for the window rule).

    ``schema`` declares the types of join keys and aggregated columns; ``apply`` fills in the rest from the
    source. ``serving_horizon``: how long after a materialize online values stay exact (later, their status is
    ``OUTSIDE_MAX_AGE``). ``max_staleness``: the freshness SLA of its online data (as a feature view's).
    ``resolution``: round every window's start down to a multiple of it (both paths),
    which bounds what a busy entity stores online. A ``ttl`` is refused: the windows define the lookback.

    >>> from featurestore import Entity, ParquetSource
    >>> v = AggregateView(name="card_txn", entities=[Entity(name="card", join_keys=["card_id"])],
    ...                   source=ParquetSource(path="data/txns.parquet"),
    ...                   aggregations=[Aggregation(function="count", windows=["1h", "1d"]),
    ...                                 Aggregation(column="amount", function="sum", windows=["7d"])])
    >>> v.feature_names, v.join_keys
    (('count_1h', 'count_1d', 'amount_sum_7d'), ('card_id',))
    """

    name: str
    entities: tuple[Entity, ...]
    source: BatchSource | PushSource
    aggregations: tuple[Aggregation, ...]
    schema: tuple[Field, ...] = ()
    serving_horizon: timedelta | str = DEFAULT_SERVING_HORIZON
    resolution: timedelta | str | None = None
    online: bool = True
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    max_staleness: timedelta | str | None = None
    ttl: None = None

    def __post_init__(self) -> None:
        check_name(self.name, "aggregate view")
        what = f"aggregate view {self.name!r}"
        if self.ttl is not None:
            raise DefinitionError(f"{what}: a ttl is not allowed on an aggregate view (its windows define the "
                                  "lookback; serving_horizon bounds how long online values stay exact)",
                                  name=self.name)
        entities = tuple(self.entities or ())
        if not all(isinstance(e, Entity) for e in entities):
            raise DefinitionError(f"{what}: entities must be a list of Entity objects", name=self.name)
        object.__setattr__(self, "max_staleness", parse_staleness(self.max_staleness, what))
        object.__setattr__(self, "entities", entities)
        if not isinstance(self.source, (ParquetSource, CsvSource, DuckDBSource, PushSource)):
            raise DefinitionError(f"{what} needs a source", name=self.name)
        if isinstance(self.source, PushSource) and not self.source.batch_source.created_timestamp_field:
            raise DefinitionError(
                f"{what}: its push source {self.source.name!r} needs a created_timestamp_field on its batch source: "
                "a push stamps each row's created time with the time it arrived, which keeps materialize and the "
                "online aggregates from counting a pushed row twice", name=self.name)
        aggs = tuple(self.aggregations or ())
        if not aggs:
            raise DefinitionError(f"{what} has no aggregations", name=self.name)
        if not all(isinstance(a, Aggregation) for a in aggs):
            raise DefinitionError(f"{what}: aggregations must be a list of Aggregation objects", name=self.name)
        object.__setattr__(self, "aggregations", aggs)
        object.__setattr__(self, "schema", fields_of(what, self.schema))
        object.__setattr__(self, "serving_horizon", spelled(self.serving_horizon, "serving_horizon", what))
        if self.resolution is not None:
            object.__setattr__(self, "resolution", spelled(self.resolution, "resolution", what))
        object.__setattr__(self, "tags", dict(self.tags or {}))
        keys = self.join_keys
        if len(set(keys)) != len(keys):
            raise DefinitionError(f"{what}: two entities share a join key", name=self.name)
        seen: dict[str, Aggregation] = {}
        for agg in aggs:
            for out in agg.feature_names:
                if out in seen:
                    raise DefinitionError(f"{what}: two aggregations make feature {out!r} ({seen[out].function} and "
                                          f"{agg.function}); give one a name=", name=self.name, feature=out)
                if out in keys:
                    raise DefinitionError(f"{what}: feature {out!r} has the name of a join key; give it a name=",
                                          name=self.name, feature=out)
                seen[out] = agg

    def __hash__(self) -> int:
        return hash(("AggregateView", self.name))

    label: ClassVar[str] = "aggregate view"
    # what the rest of the library reads of any view
    has_transform = False
    transform_code = None
    transform_fingerprint = None

    @property
    def input_fields(self) -> tuple[Field, ...]:
        """The aggregated source columns' fields declared in the schema (``apply`` fills in every one)."""
        keys = set(self.join_keys)
        return tuple(f for f in self.schema if f.name not in keys)

    @property
    def serving_horizon_us(self) -> int:
        return parse_duration(self.serving_horizon, "serving_horizon")

    @property
    def resolution_us(self) -> int | None:
        return None if self.resolution is None else parse_duration(self.resolution, "resolution")

    @property
    def columns(self) -> tuple[str, ...]:
        """The aggregated source columns, first-seen order."""
        return tuple(dict.fromkeys(a.column for a in self.aggregations if a.column is not None))

    @property
    def inputs(self) -> tuple[AggInput, ...]:
        """The distinct (column, where) pairs the aggregations read, first-seen order."""
        return tuple(dict.fromkeys(AggInput(a.column, a.where) for a in self.aggregations))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(n for a in self.aggregations for n in a.feature_names)

    def column_type(self, column: str) -> types.ValueType:
        """The declared (or, once applied, the source's) type of an aggregated column."""
        for f in self.schema:
            if f.name == column:
                return f.dtype
        raise DefinitionError(f"aggregate view {self.name!r}: the type of column {column!r} is known once the view "
                              "is applied (or declare it in schema=)", name=self.name, column=column)

    @property
    def outputs(self) -> tuple[AggOutput, ...]:
        """Every feature with its function, input, window and type (needs the columns' types, see
        :meth:`column_type`)."""
        index = {inp: i for i, inp in enumerate(self.inputs)}
        out = []
        for agg in self.aggregations:
            dtype = _output_type(agg, self.column_type(agg.column) if agg.column is not None else None)
            for name, window in zip(agg.feature_names, agg.window_us, strict=True):
                out.append(AggOutput(name, agg.function, index[AggInput(agg.column, agg.where)], window, dtype))
        return tuple(out)

    @property
    def features(self) -> tuple[Field, ...]:
        return tuple(Field(name=o.name, dtype=o.dtype) for o in self.outputs)

    def window_start(self, at_us: int, window_us: int) -> int:
        """The first microsecond of a window ending (exclusively) at ``at_us``: ``at - w``, rounded down to a
        multiple of :attr:`resolution` when there is one (toward minus infinity, before 1970 too)."""
        lo = at_us - window_us
        r = self.resolution_us
        return lo if r is None else (lo // r) * r

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": [e.to_dict() for e in self.entities],
            "source": self.source.to_dict(),
            "aggregations": [a.to_dict() for a in self.aggregations],
            "schema": [f.to_dict() for f in self.schema],
            "serving_horizon": self.serving_horizon,
            "resolution": self.resolution,
            "online": self.online,
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
            **({"max_staleness": self.max_staleness} if self.max_staleness else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AggregateView:
        return cls(
            name=d["name"],
            entities=tuple(Entity.from_dict(e) for e in d["entities"]),
            source=source_from_dict(d["source"]),
            aggregations=tuple(Aggregation.from_dict(a) for a in d["aggregations"]),
            schema=tuple(Field.from_dict(f) for f in d.get("schema") or ()),
            serving_horizon=d.get("serving_horizon") or DEFAULT_SERVING_HORIZON,
            resolution=d.get("resolution"),
            max_staleness=d.get("max_staleness"),
            online=d.get("online", True),
            description=d.get("description", ""),
            owner=d.get("owner", ""),
            tags=d.get("tags", {}),
        )


SourcedView = FeatureView | AggregateView
"""A view read from a source (a feature view or an aggregate view)."""


def source_columns(view: SourcedView, features: tuple[str, ...] | None = None) -> dict[str, types.ValueType]:
    """Source column -> declared type of what a view reads besides its time columns: join keys, then the
    features in ``features`` (None: all) of a feature view or every aggregated column of an aggregate view."""
    out = {view.source_column(f.name): f.dtype for f in view.key_fields}
    if isinstance(view, AggregateView):
        out.update({f.name: f.dtype for f in view.input_fields})
    else:
        out.update({view.source_column(f.name): f.dtype for f in view.features
                    if features is None or f.name in features})
    return out


def view_label(view: SourcedView) -> str:
    """``feature view`` or ``aggregate view``, for messages."""
    return "aggregate view" if isinstance(view, AggregateView) else "feature view"


def _output_type(agg: Aggregation, column: types.ValueType | None) -> types.ValueType:
    """counts Int64; sum of integers Int64, of floats Float64; mean and stddev Float64; the rest the column's."""
    if agg.function in ("count", "count_distinct"):
        return types.Int64
    assert column is not None
    if agg.function == "sum":
        return types.Int64 if column in (types.Int32, types.Int64) else types.Float64
    if agg.function in ("mean", "stddev"):
        return types.Float64
    return column

"""On-demand feature views: features computed per row from feature views and request data, by Polars
expressions or a Python function of one row, with the same code offline and online.

An object built in code is *live* (it holds the expressions or the function); one read back from the
registry is *registered*: it keeps the code text, mode and fingerprint only (``is_live`` is False).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.feature_view import FeatureView, FeatureViewProjection
from featurestore.definitions.field import Field
from featurestore.definitions.purity import lint_udf
from featurestore.definitions.request_source import RequestSource
from featurestore.definitions.rowlocal import check_row_local
from featurestore.errors import DefinitionError, NotFoundError
from featurestore.naming import check_name

if TYPE_CHECKING:
    import polars as pl

MODES = ("polars", "python")
"""``polars``: a Polars expression per feature; ``python``: a function of one row (a dict) returning a dict."""


def _polars_version() -> str:
    import polars

    return ".".join(polars.__version__.split(".")[:2])


def fingerprint_of(mode: str, code: str, schema: Sequence[Field]) -> str:
    """The sha256 (hex) of what decides the outputs: mode, code, output names and types, and for Polars
    expressions the Polars ``major.minor`` (serialized expressions are not stable across versions)."""
    payload = [mode, code, [[f.name, f.dtype.name] for f in schema], _polars_version() if mode == "polars" else ""]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class OnDemandFeatureView:
    """Features computed per row from the features of feature views (or aggregate views) and the fields of
    request sources.

    Give exactly one of ``expressions`` (a Polars expression per feature of ``schema``; only row-local
    operations) or ``udf`` (a function of one row, a dict of the inputs by bare name, returning a dict
    of the outputs; see also the :func:`on_demand_feature_view` decorator). The inputs are every feature
    of the source views (of a projection ``view[["a"]]``: those listed) and every request field.

    >>> import polars as pl
    >>> from featurestore import Entity, ParquetSource
    >>> from featurestore.types import Bool, Float64
    >>> stats = FeatureView(name="driver_stats", entities=[Entity(name="driver", join_keys=["driver_id"])],
    ...                     schema=[Field(name="avg_speed_kmh", dtype=Float64)],
    ...                     source=ParquetSource(path="data/driver_stats.parquet"))
    >>> trip = RequestSource(name="trip", schema=[Field(name="distance_km", dtype=Float64)])
    >>> eta = OnDemandFeatureView(
    ...     name="eta", sources=[stats, trip],
    ...     schema=[Field(name="eta_min", dtype=Float64), Field(name="long_trip", dtype=Bool)],
    ...     expressions={"eta_min": pl.col("distance_km") / pl.col("avg_speed_kmh") * 60,
    ...                  "long_trip": pl.col("distance_km") > 20})
    >>> eta.mode, eta.feature_names, [p.view for p in eta.view_sources], eta.is_live
    ('polars', ('eta_min', 'long_trip'), ['driver_stats'], True)
    >>> registered = OnDemandFeatureView.from_dict(eta.to_dict())
    >>> registered.is_live, registered.fingerprint == eta.fingerprint, registered == eta
    (False, True, True)
    """

    name: str
    sources: Sequence[FeatureView | AggregateView | FeatureViewProjection | RequestSource]
    schema: Sequence[Field]
    expressions: Mapping[str, pl.Expr] | None = None
    udf: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    _code: str | None = field(default=None, repr=False, compare=False)
    _fingerprint: str | None = field(default=None, repr=False, compare=False)
    _mode: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name(self.name, "on-demand feature view")
        what = f"on-demand feature view {self.name!r}"
        object.__setattr__(self, "sources", self._sources(what))
        schema = tuple(self.schema or ())
        if not schema or not all(isinstance(f, Field) for f in schema):
            raise DefinitionError(f"{what}: schema must be a non-empty list of Field (its outputs)", name=self.name)
        names = [f.name for f in schema]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DefinitionError(f"{what} declares feature {dupes[0]!r} twice", name=self.name, feature=dupes[0])
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "tags", dict(self.tags or {}))
        if self.expressions is not None and self.udf is not None:
            raise DefinitionError(f"{what}: give expressions= or udf=, not both", name=self.name)
        if self.expressions is not None:
            self._set_code("polars", self._expressions_code(what))
        elif self.udf is not None:
            if not callable(self.udf):
                raise DefinitionError(f"{what}: udf must be a function of one row (a dict), got {self.udf!r}",
                                      name=self.name)
            lint_udf(self.name, self.udf)
            self._set_code("python", textwrap.dedent(inspect.getsource(self.udf)))  # lint_udf read it
        elif self._code is None or self._mode not in MODES or not self._fingerprint:
            raise DefinitionError(f"{what} needs expressions= (Polars expressions per feature) or udf= (a function "
                                  "of one row)", name=self.name)

    def _set_code(self, mode: str, code: str) -> None:
        object.__setattr__(self, "_mode", mode)
        object.__setattr__(self, "_code", code)
        object.__setattr__(self, "_fingerprint", fingerprint_of(mode, code, self.features))

    def _sources(self, what: str) -> tuple[FeatureViewProjection | RequestSource, ...]:
        items = ([self.sources] if isinstance(self.sources, FeatureView | AggregateView | RequestSource)
                 else list(self.sources or ()))
        out: list[FeatureViewProjection | RequestSource] = []
        seen: set[tuple[str, str]] = set()
        for item in items:
            if isinstance(item, FeatureView | AggregateView):
                item = item.projection()
            elif isinstance(item, OnDemandFeatureView):
                raise DefinitionError(f"{what}: source {item.name!r} is an on-demand feature view; sources are "
                                      "feature views, aggregate views and request sources", name=self.name,
                                      source=item.name)
            elif not isinstance(item, FeatureViewProjection | RequestSource):
                raise DefinitionError(f"{what}: sources must be FeatureView, view[[...]] or RequestSource objects "
                                      f"(or AggregateView), got {item!r:.80}", name=self.name)
            if isinstance(item, FeatureViewProjection) and item.alias is not None:
                raise DefinitionError(f"{what}: source {item.view!r} is renamed ({item.alias!r}); inputs are keyed "
                                      "by bare feature names, so a source view takes no other name",
                                      name=self.name, source=item.view)
            key = ("view", item.view) if isinstance(item, FeatureViewProjection) else ("request", item.name)
            if key in seen:
                raise DefinitionError(f"{what} lists source {key[1]!r} twice", name=self.name, source=key[1])
            seen.add(key)
            out.append(item)
        if not out:
            raise DefinitionError(f"{what} has no sources (feature views, aggregate views and/or request sources)",
                                  name=self.name)
        return tuple(out)

    def _expressions_code(self, what: str) -> str:
        import polars as pl

        if not isinstance(self.expressions, Mapping):
            raise DefinitionError(f"{what}: expressions must be a dict of feature name -> Polars expression",
                                  name=self.name)
        wanted = [f.name for f in self.schema]
        for key, expr in self.expressions.items():
            if key not in wanted:
                raise DefinitionError(f"{what}: expression {key!r} is not a feature of its schema "
                                      f"({', '.join(wanted)})", name=self.name, feature=str(key))
            if not isinstance(expr, pl.Expr):
                raise DefinitionError(f"{what}: expression {key!r} is {expr!r:.60}, not a Polars expression "
                                      "(pl.col(...), pl.lit(...), ...)", name=self.name, feature=key)
        missing = [n for n in wanted if n not in self.expressions]
        if missing:
            raise DefinitionError(f"{what}: feature {missing[0]!r} of its schema has no expression",
                                  name=self.name, feature=missing[0])
        ordered = {n: self.expressions[n] for n in wanted}
        check_row_local(self.name, ordered)
        object.__setattr__(self, "expressions", ordered)
        return json.dumps({n: json.loads(e.meta.serialize(format="json")) for n, e in ordered.items()})

    def __hash__(self) -> int:
        return hash(("OnDemandFeatureView", self.name))

    def __eq__(self, other: object) -> bool:
        """Equal definitions: the same registry dict (code and fingerprint included)."""
        return isinstance(other, OnDemandFeatureView) and self.to_dict() == other.to_dict()

    @property
    def mode(self) -> str:
        """``"polars"`` (expressions) or ``"python"`` (a row function)."""
        return self._mode or ""

    @property
    def code(self) -> str:
        """The code applied: for expressions a JSON text ``{feature: serialized expression}`` in schema order;
        for a function its dedented source."""
        return self._code or ""

    @property
    def fingerprint(self) -> str:
        """The sha256 of mode, code, outputs (and Polars ``major.minor``): what tells changed code."""
        return self._fingerprint or ""

    @property
    def is_live(self) -> bool:
        """True when it holds the expressions or function (built in code); False when read from the registry."""
        return self.expressions is not None or self.udf is not None

    @property
    def module(self) -> str | None:
        """The module of the row function (None without one)."""
        return getattr(self.udf, "__module__", None) if self.udf is not None else None

    @property
    def qualname(self) -> str | None:
        """The qualified name of the row function (None without one)."""
        return getattr(self.udf, "__qualname__", None) if self.udf is not None else None

    @property
    def view_sources(self) -> tuple[FeatureViewProjection, ...]:
        """The source views (``features=()``: every feature of the view)."""
        return tuple(s for s in self.sources if isinstance(s, FeatureViewProjection))

    @property
    def request_sources(self) -> tuple[RequestSource, ...]:
        return tuple(s for s in self.sources if isinstance(s, RequestSource))

    @property
    def features(self) -> tuple[Field, ...]:
        """The outputs (the schema)."""
        return tuple(self.schema)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.schema)

    def feature(self, name: str) -> Field:
        for f in self.schema:
            if f.name == name:
                return f
        raise NotFoundError(f"on-demand feature view {self.name!r} has no feature {name!r}", kind="feature",
                            name=f"{self.name}:{name}")

    def __getitem__(self, names: list[str]) -> FeatureViewProjection:
        """``odfv[["a"]]``: some of its features, for feature services."""
        names = [names] if isinstance(names, str) else list(names)
        for n in names:
            self.feature(n)
        return FeatureViewProjection(self.name, tuple(names))

    def projection(self) -> FeatureViewProjection:
        """Every feature of the view, for feature services."""
        return FeatureViewProjection(self.name, self.feature_names)

    def to_dict(self) -> dict[str, Any]:
        sources: list[dict[str, Any]] = []
        for s in self.sources:
            if isinstance(s, RequestSource):
                sources.append({"request": s.to_dict()})
            else:
                sources.append({k: v for k, v in s.to_dict().items() if v or k == "view"})
        return {
            "name": self.name,
            "sources": sources,
            "schema": [f.to_dict() for f in self.schema],
            "mode": self.mode,
            "code": self.code,
            "fingerprint": self.fingerprint,
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OnDemandFeatureView:
        """A registered view (``is_live`` False): code, mode and fingerprint as applied."""
        sources = [RequestSource.from_dict(s["request"]) if "request" in s else FeatureViewProjection.from_dict(s)
                   for s in d["sources"]]
        return cls(name=d["name"], sources=sources, schema=tuple(Field.from_dict(f) for f in d["schema"]),
                   description=d.get("description", ""), owner=d.get("owner", ""), tags=d.get("tags", {}),
                   _code=d["code"], _fingerprint=d["fingerprint"], _mode=d["mode"])


def on_demand_feature_view(
    *,
    sources: Sequence[FeatureView | AggregateView | FeatureViewProjection | RequestSource],
    schema: Sequence[Field],
    name: str | None = None,
    description: str = "",
    owner: str = "",
    tags: dict[str, str] | None = None,
) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], OnDemandFeatureView]:
    """Make an on-demand feature view of a function of one row (named after the function by default).

    The function gets a dict of the inputs by bare name (``None`` where a value is missing) and returns
    a dict of the outputs. It must not read the wall clock or random numbers (checked when defined).

    >>> from featurestore.types import Float64
    >>> trip = RequestSource(name="trip", schema=[Field(name="distance_km", dtype=Float64)])
    >>> @on_demand_feature_view(sources=[trip], schema=[Field(name="fare", dtype=Float64)])
    ... def fare(row: dict) -> dict:
    ...     return {"fare": 2.5 + 1.2 * row["distance_km"]}
    >>> fare.name, fare.mode, fare.udf({"distance_km": 10.0})
    ('fare', 'python', {'fare': 14.5})
    """

    def wrap(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> OnDemandFeatureView:
        return OnDemandFeatureView(name=name or str(getattr(fn, "__name__", "")), sources=sources, schema=schema,
                                   udf=fn, description=description, owner=owner, tags=dict(tags or {}))

    return wrap

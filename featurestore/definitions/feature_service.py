"""Feature services: a named group of features, usually what one model consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.feature_view import FeatureView, FeatureViewProjection
from featurestore.definitions.logging_config import LoggingConfig
from featurestore.definitions.on_demand import OnDemandFeatureView
from featurestore.errors import DefinitionError
from featurestore.naming import check_name


@dataclass(frozen=True)
class FeatureService:
    """A named list of feature views, aggregate views, on-demand feature views, or projections of them
    (``view[["a"]]``). ``logging``: log the vectors it serves (:class:`LoggingConfig`), for drift and
    consistency checks.

    >>> from featurestore.definitions.feature_view import FeatureViewProjection
    >>> FeatureService(name="svc", features=[FeatureViewProjection("driver_stats", ("conv_rate",))]).refs()
    ['driver_stats:conv_rate']
    """

    name: str
    features: tuple[FeatureViewProjection, ...]
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    logging: LoggingConfig | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "feature service")
        if self.logging is not None and not isinstance(self.logging, LoggingConfig):
            raise DefinitionError(f"feature service {self.name!r}: logging must be a LoggingConfig, got "
                                  f"{self.logging!r:.80}", name=self.name)
        projections = []
        for item in self.features or ():
            if isinstance(item, FeatureView | AggregateView | OnDemandFeatureView):
                projections.append(FeatureViewProjection(item.name, item.feature_names))
            elif isinstance(item, FeatureViewProjection):
                projections.append(item)
            else:
                raise DefinitionError(
                    f"feature service {self.name!r}: features must be FeatureView, AggregateView, "
                    "OnDemandFeatureView or "
                    f"view[[...]], got {item!r:.80}",
                    name=self.name,
                )
        if not projections:
            raise DefinitionError(f"feature service {self.name!r} has no features", name=self.name)
        seen: dict[str, FeatureViewProjection] = {}
        for p in projections:
            first = seen.setdefault(p.name, p)
            if (first.view, first.join_key_map) != (p.view, p.join_key_map):
                raise DefinitionError(f"feature service {self.name!r} uses the name {p.name!r} for two different "
                                      "projections: give one of them another name with .with_name(...)",
                                      name=self.name, feature=p.name)
        object.__setattr__(self, "features", tuple(projections))
        object.__setattr__(self, "tags", dict(self.tags or {}))

    def __hash__(self) -> int:
        return hash(("FeatureService", self.name))

    def refs(self) -> list[str]:
        """The service's features as ``name:feature`` references (``name:*`` for a whole view); ``name``
        is the projection's name (the view's, unless renamed with ``with_name``)."""
        out: list[str] = []
        for p in self.features:
            out += [f"{p.name}:{f}" for f in p.features] if p.features else [f"{p.name}:*"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "features": [p.to_dict() for p in self.features],
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
            **({"logging": self.logging.to_dict()} if self.logging else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureService:
        return cls(
            name=d["name"],
            features=tuple(FeatureViewProjection.from_dict(p) for p in d["features"]),
            description=d.get("description", ""),
            owner=d.get("owner", ""),
            tags=d.get("tags", {}),
            logging=LoggingConfig.from_dict(d["logging"]) if d.get("logging") else None,
        )

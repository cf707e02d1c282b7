"""The kinds of definitions the registry holds: one record per kind, the only table of them.

A new kind of definition is its class (with ``name``, ``to_dict`` and ``from_dict``) plus one
:class:`Kind` in :data:`KINDS`; the registry, plans, apply-time checks and the CLI read this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.entity import Entity
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.on_demand import OnDemandFeatureView
from featurestore.errors import DefinitionError


@dataclass(frozen=True)
class Kind:
    """One kind of definition.

    >>> of_key("feature_views").singular, by_class(FeatureView).label, of_key("entities").cli_name
    ('feature view', 'feature_view', 'entities')
    """

    key: str
    """Its key in the registry file and in history entries (``feature_views``)."""
    cls: type[Any]
    """The definition class: has ``name``, ``to_dict()`` and ``from_dict()``."""
    singular: str
    """One object, in messages (``feature view``)."""
    plural: str
    """Several objects, in messages (``feature views``)."""
    label: str
    """One object, in plans and history entries (``feature_view``)."""

    @property
    def cli_name(self) -> str:
        """The plural as a CLI word (``feature-views``)."""
        return self.plural.replace(" ", "-")

    @property
    def cli_singular(self) -> str:
        """The singular as a CLI word (``feature-view``)."""
        return self.singular.replace(" ", "-")

    def from_dict(self, data: dict[str, Any]) -> Any:
        """The definition object of a registry dict."""
        return self.cls.from_dict(data)


ENTITIES = Kind("entities", Entity, "entity", "entities", "entity")
FEATURE_VIEWS = Kind("feature_views", FeatureView, "feature view", "feature views", "feature_view")
ON_DEMAND_FEATURE_VIEWS = Kind("on_demand_feature_views", OnDemandFeatureView, "on-demand feature view",
                               "on-demand feature views", "on_demand_feature_view")
AGGREGATE_VIEWS = Kind("aggregate_views", AggregateView, "aggregate view", "aggregate views", "aggregate_view")
FEATURE_SERVICES = Kind("feature_services", FeatureService, "feature service", "feature services", "feature_service")

KINDS: tuple[Kind, ...] = (ENTITIES, FEATURE_VIEWS, AGGREGATE_VIEWS, ON_DEMAND_FEATURE_VIEWS, FEATURE_SERVICES)
"""Every kind, in apply order (what a later kind refers to comes first)."""
VIEW_KINDS: tuple[Kind, ...] = (FEATURE_VIEWS, AGGREGATE_VIEWS, ON_DEMAND_FEATURE_VIEWS)
"""The kinds that share one name space (a service's projection names one of them)."""
KEYS: tuple[str, ...] = tuple(k.key for k in KINDS)

_BY_KEY = {k.key: k for k in KINDS}
_BY_CLASS = {k.cls: k for k in KINDS}


def of_key(key: str) -> Kind:
    """The kind with registry key ``key`` (KeyError if none)."""
    return _BY_KEY[key]


def by_class(cls: type[Any]) -> Kind | None:
    """The kind of a definition class, or None when it is not a definition."""
    return _BY_CLASS.get(cls)


def of(obj: Any) -> Kind | None:
    """The kind of a definition object, or None when it is not a definition."""
    return _BY_CLASS.get(type(obj))


def key_of(obj: Any) -> str:
    """The registry key of a definition object's kind; DefinitionError when it is not a definition."""
    kind = of(obj)
    if kind is None:
        names = ", ".join(k.cls.__name__ for k in KINDS)
        raise DefinitionError(f"{obj!r} is not a definition (one of {names})")
    return kind.key

"""The registered definitions of a feature store, read from its registry: :class:`FeatureStore`'s ``list_*`` and
``get_*`` methods (a mixin; each reads the current registry snapshot)."""

from __future__ import annotations

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.entity import Entity
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView
from featurestore.store_parts import StoreParts


class CatalogMethods(StoreParts):
    """What is registered: entities, feature views, aggregate views and feature services, by name."""

    def list_entities(self) -> list[Entity]:
        return self.state().entities()

    def list_feature_views(self) -> list[FeatureView]:
        return self.state().feature_views()

    def list_aggregate_views(self) -> list[AggregateView]:
        """The registered aggregate views, by name."""
        return self.state().aggregate_views()

    def list_feature_services(self) -> list[FeatureService]:
        return self.state().feature_services()

    def get_entity(self, name: str) -> Entity:
        return self.state().entity(name)

    def get_feature_view(self, name: str) -> FeatureView:
        return self.state().feature_view(name)

    def get_aggregate_view(self, name: str) -> AggregateView:
        """The registered aggregate view ``name`` (NotFoundError if absent)."""
        return self.state().aggregate_view(name)

    def get_feature_service(self, name: str) -> FeatureService:
        return self.state().feature_service(name)

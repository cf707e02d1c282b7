"""The one table of definition kinds: lookups, and every consumer reads it."""

from __future__ import annotations

import pytest

from featurestore import AggregateView, DefinitionError, Entity, FeatureService, FeatureView, OnDemandFeatureView
from featurestore.cli.repo_commands import DESCRIBE_KINDS, LIST_KINDS
from featurestore.definitions import kinds
from featurestore.registry.file import RegistryState
from featurestore.registry.loader import DEFINITION_TYPES
from featurestore.registry.plan import PlanChange


def test_each_kind_is_found_by_key_and_by_class() -> None:
    assert [k.cls for k in kinds.KINDS] == [Entity, FeatureView, AggregateView, OnDemandFeatureView, FeatureService]
    for kind in kinds.KINDS:
        assert kinds.of_key(kind.key) is kind and kinds.by_class(kind.cls) is kind
        assert kind.label == kind.singular.replace(" ", "_").replace("-", "_")
        assert kind.key == kind.plural.replace(" ", "_").replace("-", "_")
    assert kinds.of(Entity(name="driver")) is kinds.ENTITIES and kinds.by_class(str) is None
    with pytest.raises(DefinitionError, match="'x' is not a definition"):
        kinds.key_of("x")


def test_the_registry_plans_loader_and_cli_read_the_table() -> None:
    assert tuple(RegistryState(project="p").objects) == kinds.KEYS
    assert tuple(k.cls for k in kinds.KINDS) == DEFINITION_TYPES
    assert LIST_KINDS == ("entities", "feature-views", "aggregate-views", "on-demand-feature-views",
                          "feature-services")
    assert DESCRIBE_KINDS == ("entity", "feature-view", "aggregate-view", "on-demand-feature-view", "feature-service")
    assert kinds.VIEW_KINDS == (kinds.FEATURE_VIEWS, kinds.AGGREGATE_VIEWS, kinds.ON_DEMAND_FEATURE_VIEWS)
    assert PlanChange("feature_services", "svc").label == "feature_service svc"

"""featurestore: point-in-time-correct training sets and fast online lookups.

>>> from featurestore import Entity
>>> Entity(name="driver", join_keys=["driver_id"]).join_keys
('driver_id',)
"""

from featurestore.config import RepoConfig
from featurestore.definitions import expect
from featurestore.definitions.aggregate_view import AggInput, AggOutput, AggregateView, Aggregation, SourcedView
from featurestore.definitions.entity import Entity
from featurestore.definitions.expect import Expectation
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView, FeatureViewProjection
from featurestore.definitions.field import Field
from featurestore.definitions.logging_config import LoggingConfig
from featurestore.definitions.on_demand import OnDemandFeatureView, on_demand_feature_view
from featurestore.definitions.request_source import RequestSource
from featurestore.definitions.sources import BatchSource, CsvSource, DuckDBSource, ParquetSource, PushSource
from featurestore.errors import (
    BusyError,
    CodeMismatchError,
    ConfigError,
    DataSourceError,
    DefinitionError,
    ExpectationError,
    FeatureStoreError,
    InputError,
    NotFoundError,
    OfflineStoreError,
    OnlineLayoutError,
    OnlineStoreError,
    OnlineStoreUnavailableError,
    RegistryError,
    ReproducibilityError,
    TransformError,
)
from featurestore.lineage.graph import Lineage, LineageGraph, Node
from featurestore.materialize.run import OnlineWrite, Progress, ProgressCallback, ViewMaterialization
from featurestore.materialize.writes import PushResult
from featurestore.monitoring.consistency import ConsistencyReport, FeatureConsistency, Mismatch
from featurestore.monitoring.drift_report import DriftReport, FeatureDrift
from featurestore.monitoring.freshness import ViewFreshness
from featurestore.monitoring.histograms import NumericBins
from featurestore.monitoring.profile import FeatureProfile, Histogram, Profile
from featurestore.monitoring.samples import Served
from featurestore.monitoring.status import MonitoringStatus
from featurestore.offline.entity_input import EntityInput
from featurestore.offline.protocol import OfflineStore, RetrievalJob
from featurestore.online.lookup import OnlineReader, PreparedLookup, StoreRequests, StoreRows
from featurestore.online.protocol import OnlineStore, ViewSpec
from featurestore.online.response import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, OnlineResponse, ViewResult
from featurestore.quality.checks import RowFilter
from featurestore.quality.policy import ExpectationWarning
from featurestore.quality.report import Evaluation, ExpectationResult, ValidationReport
from featurestore.registry.file import RegistryState, RegistryUpdate
from featurestore.registry.history import FieldChange, ObjectChange, RegistryDiff
from featurestore.registry.live import LiveCode
from featurestore.registry.plan import OnlineEffect, Plan, PlanChange
from featurestore.registry.protocol import RegistryBackend
from featurestore.resolution import ResolvedOnDemand, ResolvedRequest, ResolvedView, resolve
from featurestore.state import Record, StateStore
from featurestore.store import FeatureStore
from featurestore.training.compare import TrainingSetDiff
from featurestore.training.manifest import EntityFrame, Manifest, SourceFile
from featurestore.training.recreate import Recreation
from featurestore.training.training_set import TrainingSet
from featurestore.transform import OnDemandRunner

__version__ = "0.1.0"

__all__ = [
    "NOT_FOUND",
    "OUTSIDE_MAX_AGE",
    "PRESENT",
    "AggInput",
    "AggOutput",
    "AggregateView",
    "Aggregation",
    "BatchSource",
    "BusyError",
    "CodeMismatchError",
    "ConfigError",
    "ConsistencyReport",
    "CsvSource",
    "DataSourceError",
    "DefinitionError",
    "DriftReport",
    "DuckDBSource",
    "Entity",
    "EntityFrame",
    "EntityInput",
    "Evaluation",
    "Expectation",
    "ExpectationError",
    "ExpectationResult",
    "ExpectationWarning",
    "FeatureConsistency",
    "FeatureDrift",
    "FeatureProfile",
    "FeatureService",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureView",
    "FeatureViewProjection",
    "Field",
    "FieldChange",
    "Histogram",
    "InputError",
    "Lineage",
    "LineageGraph",
    "LiveCode",
    "LoggingConfig",
    "Manifest",
    "Mismatch",
    "MonitoringStatus",
    "Node",
    "NotFoundError",
    "NumericBins",
    "ObjectChange",
    "OfflineStore",
    "OfflineStoreError",
    "OnDemandFeatureView",
    "OnDemandRunner",
    "OnlineEffect",
    "OnlineLayoutError",
    "OnlineReader",
    "OnlineResponse",
    "OnlineStore",
    "OnlineStoreError",
    "OnlineStoreUnavailableError",
    "OnlineWrite",
    "ParquetSource",
    "Plan",
    "PlanChange",
    "PreparedLookup",
    "Profile",
    "Progress",
    "ProgressCallback",
    "PushResult",
    "PushSource",
    "Record",
    "Recreation",
    "RegistryBackend",
    "RegistryDiff",
    "RegistryError",
    "RegistryState",
    "RegistryUpdate",
    "RepoConfig",
    "ReproducibilityError",
    "RequestSource",
    "ResolvedOnDemand",
    "ResolvedRequest",
    "ResolvedView",
    "RetrievalJob",
    "RowFilter",
    "Served",
    "SourceFile",
    "SourcedView",
    "StateStore",
    "StoreRequests",
    "StoreRows",
    "TrainingSet",
    "TrainingSetDiff",
    "TransformError",
    "ValidationReport",
    "ViewFreshness",
    "ViewMaterialization",
    "ViewResult",
    "ViewSpec",
    "__version__",
    "expect",
    "on_demand_feature_view",
    "resolve",
]

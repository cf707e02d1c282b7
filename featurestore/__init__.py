"""featurestore: point-in-time-correct training sets and fast online lookups.

>>> from featurestore import Entity
>>> Entity(name="driver", join_keys=["driver_id"]).join_keys
('driver_id',)
"""

from featurestore.entity import Entity
from featurestore.errors import (
    BusyError,
    ConfigError,
    DataSourceError,
    DefinitionError,
    FeatureStoreError,
    InputError,
    NotFoundError,
    OfflineStoreError,
    OnlineStoreError,
    OnlineStoreUnavailableError,
    RegistryError,
)
from featurestore.feature_refs import ResolvedRequest, ResolvedView, resolve
from featurestore.feature_service import FeatureService
from featurestore.feature_view import FeatureView
from featurestore.field import Field
from featurestore.offline.protocol import OfflineStore, RetrievalJob
from featurestore.online.protocol import OnlineStore
from featurestore.online_lookup import OnlineReader
from featurestore.online_response import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, OnlineResponse, ViewResult
from featurestore.plan import Plan
from featurestore.sources import CsvSource, DuckDBSource, ParquetSource, PushSource
from featurestore.store import FeatureStore

__version__ = "0.1.0"

__all__ = [
    "NOT_FOUND",
    "OUTSIDE_MAX_AGE",
    "PRESENT",
    "BusyError",
    "ConfigError",
    "CsvSource",
    "DataSourceError",
    "DefinitionError",
    "DuckDBSource",
    "Entity",
    "FeatureService",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureView",
    "Field",
    "InputError",
    "NotFoundError",
    "OfflineStore",
    "OfflineStoreError",
    "OnlineReader",
    "OnlineResponse",
    "OnlineStore",
    "OnlineStoreError",
    "OnlineStoreUnavailableError",
    "ParquetSource",
    "Plan",
    "PushSource",
    "RegistryError",
    "ResolvedRequest",
    "ResolvedView",
    "RetrievalJob",
    "ViewResult",
    "__version__",
    "resolve",
]

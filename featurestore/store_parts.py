"""What the mixins of :class:`~featurestore.FeatureStore` use of the store, declared once for type checkers.

``FeatureStore`` defines every one of these; the mixins (``store_monitoring``, ``store_training``,
``store_feature_tables``, ``store_lineage``) inherit the declarations so each needs only its own extras.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from featurestore.code import StoreCode
from featurestore.offline.protocol import OfflineStore
from featurestore.online.protocol import OnlineStore
from featurestore.registry.file import RegistryState
from featurestore.registry.protocol import RegistryBackend
from featurestore.resolution import ResolvedOnDemand
from featurestore.state import StateStore
from featurestore.transform import OnDemandRunner


class StoreParts:
    """The attributes and methods of a feature store that its mixins use (no behaviour of its own)."""

    if TYPE_CHECKING:
        project: str
        repo_path: Path
        registry: RegistryBackend
        state_store: StateStore
        clock: Callable[[], datetime]
        _code: StoreCode

        @property
        def offline(self) -> OfflineStore: ...

        @property
        def online(self) -> OnlineStore: ...

        @property
        def data_dir(self) -> Path: ...

        @property
        def training_sets_dir(self) -> Path: ...

        @property
        def feature_tables_dir(self) -> Path: ...

        def state(self) -> RegistryState: ...

        def on_demand_runner(self, state: RegistryState, odfv: ResolvedOnDemand) -> OnDemandRunner: ...

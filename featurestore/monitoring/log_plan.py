"""What a logged lookup of a feature service writes: per resolved request, the log columns and where their
values are in the answer (built once per registry snapshot and request, kept with the resolved request).

The columns follow :mod:`featurestore.monitoring.log_files`: the entity columns (join keys, then the request
fields of on-demand views), per feature ``<projection>__<feature>`` and its ``__status``, per view
``<projection>__event_timestamp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from featurestore import types
from featurestore.definitions.feature_service import FeatureService
from featurestore.registry.file import RegistryState
from featurestore.resolution import ResolvedRequest

DERIVED = "feature_log"
"""The key of a resolved request's log plan in ``ResolvedRequest.derived`` (None: the request is not logged)."""
EVENT = "event_timestamp"
TIMESTAMP = types.Timestamp.to_arrow()


@dataclass(frozen=True)
class LogPlan:
    """The log of one resolved request of a logging service."""

    service: str
    rate: float
    folder: Path
    keys: tuple[tuple[str, pa.DataType], ...]
    """Entity columns (as the answer names them) and their types."""
    request_fields: tuple[tuple[str, pa.DataType], ...]
    """Request fields of the on-demand views (taken from the entity rows) and their types."""
    features: tuple[tuple[str, str, pa.DataType], ...]
    """Per feature: its log column ``<projection>__<feature>``, its answer column, its type."""
    views: tuple[tuple[str, str], ...]
    """Per view: its log column ``<projection>__event_timestamp`` and its name in ``answer.views``."""

    @property
    def signature(self) -> tuple[object, ...]:
        """Plans with equal signatures write the same columns (their rows share a file)."""
        return (self.folder, self.keys, self.request_fields, self.features, self.views)


def service_of(features: object, state: RegistryState) -> FeatureService | None:
    """The feature service a lookup asked for (a service object, or a registered service's name), else None."""
    if isinstance(features, FeatureService):
        return features
    if isinstance(features, str) and features in state.objects.get("feature_services", {}):
        return state.feature_service(features)
    return None


def plan_of(service: FeatureService, resolved: ResolvedRequest, folder: Path) -> LogPlan | None:
    """The log plan of ``resolved`` (a request of ``service``), None when the service does not log."""
    if service.logging is None:
        return None
    keys: dict[str, pa.DataType] = {}
    outs: dict[str, tuple[str, pa.DataType]] = {}
    views: list[tuple[str, str]] = []
    for v in resolved.views:
        for col, t in zip(v.entity_keys, v.key_types, strict=True):
            keys.setdefault(col, t.to_arrow())
        shown = [(f, o) for f, o in zip(v.features, v.out_names, strict=True) if o not in resolved.hidden]
        for f, o in shown:
            outs[o] = (f"{v.name}__{f}", v.view.feature(f).dtype.to_arrow())
        if shown:
            views.append((f"{v.name}__{EVENT}", v.name))
    fields: dict[str, pa.DataType] = {}
    for od in resolved.on_demand:
        for f, o in zip(od.features, od.out_names, strict=True):
            outs[o] = (f"{od.name}__{f}", od.view.feature(f).dtype.to_arrow())
        views.append((f"{od.name}__{EVENT}", od.name))
        for field, _ in od.request_fields:
            if field.name not in keys:
                fields.setdefault(field.name, field.dtype.to_arrow())
    features = tuple((outs[o][0], o, outs[o][1]) for o in resolved.columns if o in outs)
    return LogPlan(service.name, service.logging.sample_rate, folder, tuple(keys.items()), tuple(fields.items()),
                   features, tuple(views))


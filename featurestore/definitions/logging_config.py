"""Feature logging: which served vectors of a feature service are kept (for drift and consistency checks)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from featurestore.errors import DefinitionError


@dataclass(frozen=True)
class LoggingConfig:
    """Log the vectors a feature service serves: entity keys, request time, values and statuses.

    ``sample_rate``: the share of entities logged (0 < rate ≤ 1), chosen by a stable hash of the entity key,
    so every lookup of a sampled entity is kept, in every process. ``destination``: the folder of the log's
    Parquet files (relative to the repo; default ``<data folder>/logs/<service>``, the data folder being the
    registry file's folder).

    >>> LoggingConfig(sample_rate=0.1).to_dict()
    {'sample_rate': 0.1}
    """

    sample_rate: float = 1.0
    destination: str | None = None

    def __post_init__(self) -> None:
        rate = self.sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) \
                or not 0 < rate <= 1:
            raise DefinitionError(f"LoggingConfig sample_rate must be a number in (0, 1], got {rate!r}",
                                  value=repr(rate))
        object.__setattr__(self, "sample_rate", float(rate))
        if self.destination is not None and (not isinstance(self.destination, str) or not self.destination):
            raise DefinitionError(f"LoggingConfig destination must be a folder path, got {self.destination!r}",
                                  value=repr(self.destination))

    def to_dict(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, **({"destination": self.destination} if self.destination else {})}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggingConfig:
        return cls(sample_rate=d.get("sample_rate", 1.0), destination=d.get("destination"))

"""Request sources: typed fields an on-demand feature view reads from the request (online) or from the
entity frame (offline), not from a feature view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from featurestore.definitions.field import Field, fields_of
from featurestore.errors import DefinitionError
from featurestore.naming import check_name


@dataclass(frozen=True)
class RequestSource:
    """Fields supplied with each request: ``request_context`` or extra entity columns online, extra columns of
    the entity frame offline.

    >>> from featurestore.types import Float64
    >>> trip = RequestSource(name="trip", schema=[Field(name="distance_km", dtype=Float64)])
    >>> trip.field_names
    ('distance_km',)
    >>> RequestSource.from_dict(trip.to_dict()) == trip
    True
    """

    name: str
    schema: Sequence[Field]
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "request source")
        schema = fields_of(f"request source {self.name!r}", self.schema)
        if not schema:
            raise DefinitionError(f"request source {self.name!r} has no fields", name=self.name)
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "tags", dict(self.tags or {}))

    def __hash__(self) -> int:
        return hash(("RequestSource", self.name))

    @property
    def field_names(self) -> tuple[str, ...]:
        """The names of its fields, in order."""
        return tuple(f.name for f in self.schema)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "schema": [f.to_dict() for f in self.schema], "description": self.description,
                "tags": dict(self.tags)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RequestSource:
        return cls(name=d["name"], schema=tuple(Field.from_dict(f) for f in d["schema"]),
                   description=d.get("description", ""), tags=d.get("tags", {}))

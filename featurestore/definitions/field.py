"""A named, typed column of a feature view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from featurestore import types
from featurestore.errors import DefinitionError
from featurestore.naming import check_name


@dataclass(frozen=True)
class Field:
    """A feature: a name and a value type.

    >>> from featurestore.types import Float32
    >>> Field(name="conv_rate", dtype=Float32).dtype.name
    'Float32'
    """

    name: str
    dtype: types.ValueType
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "field")
        if not isinstance(self.dtype, types.ValueType):
            raise DefinitionError(
                f"field {self.name!r} has dtype {self.dtype!r}; use a type from featurestore.types",
                name=self.name,
            )
        object.__setattr__(self, "tags", dict(self.tags or {}))

    def __hash__(self) -> int:
        return hash((self.name, self.dtype))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype.name, "description": self.description, "tags": self.tags}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Field:
        return cls(name=d["name"], dtype=types.parse(d["dtype"]), description=d.get("description", ""),
                   tags=d.get("tags", {}))

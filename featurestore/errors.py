"""The error tree. Every error the library raises is a :class:`FeatureStoreError`.

Errors carry the offending names as attributes so callers (the CLI, the HTTP
server) can map them without parsing messages. The library knows nothing of
HTTP status codes; ``server/`` maps these classes to them.
"""

from __future__ import annotations

from typing import Any


class FeatureStoreError(Exception):
    """Root of every error raised by featurestore."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)


class ConfigError(FeatureStoreError):
    """``featurestore.yaml`` or an environment override is invalid."""


class DefinitionError(FeatureStoreError):
    """A definition (entity, view, source, service) is invalid."""


class RegistryError(FeatureStoreError):
    """The registry file cannot be read or written."""


class NotFoundError(FeatureStoreError):
    """A named object (view, feature, service, entity, push source) does not exist.

    Fields: ``kind`` and ``name``.
    """


class InputError(FeatureStoreError):
    """Caller-supplied data is wrong: a missing join key, a wrong type, a bad frame."""


class DataSourceError(FeatureStoreError):
    """A batch source cannot be read (missing file, unreadable query)."""


class OnlineStoreError(FeatureStoreError):
    """The online store failed."""


class OnlineStoreUnavailableError(OnlineStoreError):
    """The online store cannot be reached (connection refused, timeout)."""


class BusyError(FeatureStoreError):
    """Another exclusive operation (e.g. a materialization) is already running."""

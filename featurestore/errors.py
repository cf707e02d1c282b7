"""The error tree. Every error the library raises is a :class:`FeatureStoreError`.

Each class declares the fields it carries (the names at fault) as typed attributes, so callers
(the CLI, the HTTP server) map them without parsing messages, and a misspelt field is a
``TypeError`` where the error is raised, not a silently missing attribute. The library knows
nothing of HTTP status codes; ``server/`` maps these classes to them.

>>> err = NotFoundError("feature view 'nope' is not in the registry", kind="feature_view", name="nope")
>>> err.name, err.fields
('nope', {'kind': 'feature_view', 'name': 'nope'})
>>> err
NotFoundError("feature view 'nope' is not in the registry", kind='feature_view', name='nope')
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar


class FeatureStoreError(Exception):
    """Root of every error raised by featurestore.

    Fields: ``view``, the feature view concerned (when there is one).
    """

    view: str | None = None
    _declared: ClassVar[tuple[str, ...]] = ("view",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [n for n in inspect.get_annotations(cls) if not n.startswith("_")]
        cls._declared = tuple(dict.fromkeys([*cls._declared, *own]))

    def __init__(self, message: str, **fields: Any) -> None:
        unknown = sorted(set(fields) - set(self._declared))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {unknown[0]!r}; its fields are "
                            f"{list(self._declared)}")
        super().__init__(message)
        self.message = message
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def declared_fields(cls) -> tuple[str, ...]:
        """The names of the fields this class carries (its own and its ancestors')."""
        return cls._declared

    @property
    def fields(self) -> dict[str, Any]:
        """The fields that are set, in declaration order."""
        return {n: getattr(self, n) for n in self._declared if getattr(self, n) is not None}

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.fields.items())
        return f"{type(self).__name__}({self.message!r}{args})"


class ConfigError(FeatureStoreError):
    """``featurestore.yaml`` or an environment override is invalid.

    Fields: ``path``, the file; ``variable``, the environment variable at fault (when one is).
    """

    path: str | None = None
    variable: str | None = None


class DefinitionError(FeatureStoreError):
    """A definition (entity, view, source, service) is invalid."""

    name: str | None = None
    entity: str | None = None
    column: str | None = None
    feature: str | None = None
    field: str | None = None
    source: str | None = None
    file: str | None = None
    value: Any = None
    views: list[str] | None = None


class RegistryError(FeatureStoreError):
    """The registry (or the state store beside it) cannot be read or written."""

    path: str | None = None
    format: int | None = None
    supported: int | None = None


class NotFoundError(FeatureStoreError):
    """A named object (view, feature, service, entity, push source) does not exist."""

    kind: str | None = None
    name: str | None = None


class InputError(FeatureStoreError):
    """Caller-supplied data is wrong: a missing join key, a wrong type, a bad frame."""

    name: str | None = None
    join_key: str | None = None
    column: str | None = None
    feature: str | None = None
    field: str | None = None
    key: str | None = None
    path: str | None = None
    to: str | None = None
    columns: list[str] | None = None
    """Every column (or join key) at fault, when there are several: all missing, or all unknown."""
    rows: list[int] | None = None
    """The entity rows at fault (0-based), e.g. the rows without a value for a join key."""


class OfflineStoreError(FeatureStoreError):
    """The offline engine failed to run a query."""


class DataSourceError(OfflineStoreError):
    """A batch source cannot be read (missing file, unreadable query, a column whose type drifted)."""

    source: str | None = None
    column: str | None = None


class CodeMismatchError(FeatureStoreError):
    """A transformation's code in the repo (an on-demand view's expressions or function, a feature view's
    batch transform) is not the code that was applied, or is missing: nothing runs unapplied code.

    Fields: ``view``; ``applied``, the registered fingerprint; ``found``, the fingerprint of the code
    found now (None when the repo no longer defines the view or its code does not import).
    """

    applied: str | None = None
    found: str | None = None


class OnlineStoreError(FeatureStoreError):
    """The online store failed."""

    url: str | None = None
    path: str | None = None


class OnlineStoreUnavailableError(OnlineStoreError):
    """The online store cannot be reached (connection refused, timeout)."""


class OnlineLayoutError(OnlineStoreError):
    """The online store holds the project's rows in a key layout this version does not read (``layout``; this version
    reads ``supported``): migrate by re-materializing (the message says how)."""

    layout: int | str | None = None
    supported: int | None = None


class TransformError(FeatureStoreError):
    """An on-demand transformation failed: user code raised, or an output is missing or of the wrong type.

    Fields: ``view``, the on-demand view; ``feature``, the output at fault (when one is); ``row``, the
    entity row (offline, when one is known), e.g. ``"row 12 (driver_id=3, event_timestamp=...)"``.
    """

    feature: str | None = None
    row: str | None = None


class BusyError(FeatureStoreError):
    """Another exclusive operation (e.g. a materialization) is already running."""

    running: str | None = None
    since: str | None = None
    pid: int | None = None
    lock: str | None = None


class ExpectationError(FeatureStoreError):
    """A batch failed its feature view's expectations under ``on_invalid="reject"``: nothing of it was written,
    online or offline.

    Fields: ``view``; ``failures``, one dict per failed expectation (``expectation``, its label such as
    ``between(conv_rate, 0, 1)``; ``column``; ``bad_rows``; ``examples``, a few bad values; ``observed`` for
    batch checks, e.g. the null ratio or the row count); ``rows``, the rows of the batch.
    """

    failures: list[dict[str, object]] | None = None
    rows: int | None = None


class ReproducibilityError(FeatureStoreError):
    """A training set could not be re-created identically from its manifest (or not at all).

    Fields: ``name`` and ``version`` of the training set; ``differences``, one dict per cause found (``kind``:
    ``source_changed``, ``source_missing``, ``source_added``, ``rows_after_as_of``, ``definition``, ``engine``,
    ``entity_frame`` or ``output``; ``object``, the file, definition or package concerned; ``before`` and
    ``after``, what the manifest recorded and what is there now).
    """

    name: str | None = None
    version: int | None = None
    differences: list[dict[str, object]] | None = None

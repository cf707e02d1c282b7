"""The narrow interface every online store implements, and the view description it is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from featurestore.types import ValueType


@dataclass(frozen=True)
class ViewSpec:
    """What an online store needs to know of a feature view: its name, keys and features, with types.

    ``ttl_seconds=None`` means rows never expire (Redis keys get no expiry). ``previous``: earlier layouts of
    the view's rows, ``(features, feature type names)`` with the same join keys, newest first: a row written
    under one of them reads with its unchanged features (see ``featurestore/online/codec.py``).

    >>> from featurestore.types import Float32, Int64
    >>> ViewSpec("driver_stats", ("driver_id",), (Int64,), ("conv_rate",), (Float32,), None).join_keys
    ('driver_id',)
    """

    name: str
    join_keys: tuple[str, ...]
    key_types: tuple[ValueType, ...]
    features: tuple[str, ...]
    feature_types: tuple[ValueType, ...]
    ttl_seconds: float | None
    previous: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    aggregate: bool = False
    """An aggregate view: its entities hold an aggregate state and pushed records (see
    :meth:`OnlineStore.write_aggregates`), not rows; ``features`` and ``feature_types`` are its outputs'."""


@runtime_checkable
class OnlineStore(Protocol):
    """Latest feature values per entity and view: :class:`SqliteOnlineStore`, :class:`RedisOnlineStore`.

    Times are integer microseconds since the epoch (UTC). A row is one source row of a view:
    ``(event_us, created_us, values)`` where ``values`` follows ``view.features``.
    """

    def write(
        self,
        view: ViewSpec,
        keys: list[tuple[Any, ...]],
        event_us: list[int],
        created_us: list[int],
        values: list[tuple[Any, ...]],
    ) -> int:
        """Upsert rows, never replacing a stored row by an older one; return how many rows were stored.

        A stored row is replaced only when ``(event_us, created_us)`` of the new row is ``>=`` the
        stored one. When a key appears several times, the newest row wins.
        """
        ...

    def read(
        self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
    ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        """For each ``(view, keys)`` request and each key: ``None`` or ``(event_us, values)``.

        For an aggregate view (``view.aggregate``): ``None`` when the key has neither a state nor a record, else
        ``(snapshot_us, (state, records))``: the stored state (None without one; ``snapshot_us`` is then
        :data:`featurestore.utc.MIN_US`) and its records as ``((created_us, record), ...)`` in append order.
        """
        ...

    def write_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], snapshot_us: int,
                         states: list[bytes], newest_us: int | None = None) -> int:
        """Store the aggregate states one materialize computed at ``snapshot_us`` (``view.aggregate``).

        Per key, ``states[i]`` replaces the stored state unless that one's snapshot is newer (``>``); then,
        whether or not it did, the key's pushed records created before ``snapshot_us`` are dropped (the
        materialize read them from the offline store). Returns how many states were stored. ``newest_us``: the
        newest event time in the states, for :meth:`data_timestamps` (None: read from the states' bytes).
        """
        ...

    def append_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], created_us: list[int],
                          records: list[bytes], newest_us: int | None = None) -> int:
        """Append pushed records to the keys' record lists, in order (``view.aggregate``); returns how many.
        ``newest_us``: the records' newest event time (None: read from the records' bytes)."""
        ...

    def data_timestamps(self) -> dict[str, int]:
        """Per view of this project, the newest event time (epoch µs) ever written to this store, by any process.

        Advanced with an atomic maximum by every :meth:`write` (the rows' event times), :meth:`write_aggregates`
        (the newest event time in the states) and :meth:`append_aggregates` (the records'); dropped by
        :meth:`delete_view` and :meth:`teardown`, untouched by :meth:`delete` (``featurestore/online/freshness.py``).
        """
        ...

    def delete(self, view: ViewSpec, keys: list[tuple[Any, ...]]) -> int:
        """Remove the rows of these entities of one view; return how many were stored (and are now gone)."""
        ...

    def delete_view(self, view_name: str) -> None:
        """Remove all online rows of one view of this project."""
        ...

    def teardown(self) -> None:
        """Remove all online rows of this project, and nothing else."""
        ...

    @property
    def identity(self) -> str:
        """What names the stored data whatever the spelling of the config, without secrets: state such as
        materialization watermarks is kept per identity (``redis://127.0.0.1:6379/0``, ``sqlite:<abs path>``)."""
        ...

    def ping(self) -> None:
        """Raise :class:`~featurestore.errors.OnlineStoreUnavailableError` if the store cannot be reached."""
        ...

    def close(self) -> None:
        """Release connections; the store object is not used afterwards."""
        ...

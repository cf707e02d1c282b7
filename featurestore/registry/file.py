"""The registry: applied definitions and their history (operational state lives in ``featurestore.state``).

The current state is one JSON file, rewritten atomically (temp file + rename)
under an exclusive ``flock`` on ``<file>.lock``, so concurrent writers from
several processes never lose an update or leave a torn file. Readers never lock:
they see the old or the new file. Every applied version (with its full objects)
is appended to ``<name>.history.jsonl`` beside it, so the file servers re-read
stays small however long the history.

The file records its format (:data:`FORMAT`); a file of a newer format is refused. Format 1 also held
the materialization watermarks: they now live in the state store beside the registry, and those of a
format-1 file are not carried over (ignored on load, gone at the next write). The first
``materialize-incremental`` after the upgrade then starts as a first run does (``end - ttl``, or every
row); re-materializing is safe, as a stored row is never replaced by an older one.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from featurestore.definitions import kinds
from featurestore.definitions.aggregate_view import AggregateView, SourcedView
from featurestore.definitions.entity import Entity
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.kinds import KEYS
from featurestore.definitions.on_demand import OnDemandFeatureView
from featurestore.errors import NotFoundError, RegistryError

FORMAT = 2
"""The registry file format this version writes, and the newest it reads."""


@dataclass(frozen=True)
class RegistryState:
    """An immutable snapshot of the registry file."""

    project: str
    version: int = 0
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {k: {} for k in KEYS})
    online_layouts: dict[str, list[dict[str, list[str]]]] = field(default_factory=dict)
    """Per view, the earlier layouts of its online rows still readable (``{"features": [...], "types": [...]}``,
    newest first; same join keys): written by ``apply`` when features are added, removed or retyped."""
    _parsed: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)

    def _get(self, kind: str, name: str) -> Any:
        key = (kind, name)
        if key not in self._parsed:
            data = self.objects[kind].get(name)
            if data is None:
                raise NotFoundError(f"{kinds.of_key(kind).singular} {name!r} is not in the registry",
                                    kind=kinds.of_key(kind).label, name=name)  # feature_view, never feature_views
            self._parsed[key] = kinds.of_key(kind).from_dict(data)
        return self._parsed[key]

    def get(self, kind: str, name: str) -> Any:
        """The object ``name`` of the kind with registry key ``kind`` (NotFoundError if absent)."""
        return self._get(kind, name)

    def all(self, kind: str) -> list[Any]:
        """Every object of the kind with registry key ``kind``, by name."""
        return [self._get(kind, n) for n in self.names(kind)]

    def entity(self, name: str) -> Entity:
        return self._get("entities", name)  # type: ignore[no-any-return]

    def feature_view(self, name: str) -> FeatureView:
        return self._get("feature_views", name)  # type: ignore[no-any-return]

    def aggregate_view(self, name: str) -> AggregateView:
        return self._get("aggregate_views", name)  # type: ignore[no-any-return]

    def sourced_view(self, name: str) -> SourcedView:
        """The feature view or aggregate view ``name`` (NotFoundError, as a feature view, when neither)."""
        if name in self.objects.get("aggregate_views", {}):
            return self.aggregate_view(name)
        return self.feature_view(name)

    def on_demand_feature_view(self, name: str) -> OnDemandFeatureView:
        """A registered on-demand view (``is_live`` False: its code text and fingerprint, not the code)."""
        return self._get("on_demand_feature_views", name)  # type: ignore[no-any-return]

    def feature_service(self, name: str) -> FeatureService:
        return self._get("feature_services", name)  # type: ignore[no-any-return]

    def names(self, kind: str) -> list[str]:
        return sorted(self.objects[kind])

    def entities(self) -> list[Entity]:
        return self.all("entities")

    def feature_views(self) -> list[FeatureView]:
        return self.all("feature_views")

    def aggregate_views(self) -> list[AggregateView]:
        return self.all("aggregate_views")

    def sourced_views(self) -> list[SourcedView]:
        """Every feature view and aggregate view, by kind then name."""
        return [*self.feature_views(), *self.aggregate_views()]

    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self.all("on_demand_feature_views")

    def feature_services(self) -> list[FeatureService]:
        return self.all("feature_services")

    def layouts(self, view: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
        """The earlier readable layouts of ``view``'s online rows: ``((features, type names), ...)``."""
        return tuple((tuple(x["features"]), tuple(x["types"])) for x in self.online_layouts.get(view, ()))

    def to_json(self) -> dict[str, Any]:
        data = {
            "format": FORMAT,
            "project": self.project,
            "version": self.version,
            "objects": self.objects,
        }
        if self.online_layouts:
            data["online_layouts"] = self.online_layouts
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegistryState:
        objects = {k: dict(data.get("objects", {}).get(k, {})) for k in KEYS}
        return cls(
            project=data["project"],
            version=int(data.get("version", 0)),
            objects=objects,
            online_layouts={str(k): list(v) for k, v in dict(data.get("online_layouts") or {}).items()},
        )


def checked_state(data: Any, project: str, where: str, path: str) -> RegistryState:
    """The state stored as ``data`` (a registry's JSON form), after the checks every backend makes: a JSON object,
    of a format this featurestore reads (:data:`FORMAT`), of ``project``. ``where`` names the registry in the
    messages (``'data/registry.json'``, ``PostgreSQL ... project 'p'``); ``path`` is the errors' ``path`` field.
    """
    if not isinstance(data, dict):
        raise RegistryError(f"registry {where} is not a JSON object", path=path)
    found = data.get("format", 1)
    if not isinstance(found, int) or isinstance(found, bool) or not 1 <= found <= FORMAT:
        raise RegistryError(
            f"registry {where} has format {found!r}, but this featurestore reads formats 1 to "
            f"{FORMAT}: it was written by a newer featurestore; upgrade to read it", path=path,
            format=found, supported=FORMAT)
    if data.get("project") != project:
        raise RegistryError(f"registry {where} belongs to project {data.get('project')!r}, not {project!r}",
                            path=path)
    return RegistryState.from_json(data)


RegistryUpdate: TypeAlias = RegistryState | tuple[RegistryState, dict[str, Any]] | None
"""What an update function returns: a new state, a new state and its history entry, or None."""


class FileRegistry:
    """The registry file of one project (the default backend; see :mod:`featurestore.registry.protocol`).

    >>> import tempfile, pathlib
    >>> reg = FileRegistry(pathlib.Path(tempfile.mkdtemp()) / "registry.json", "demo")
    >>> reg.load().version
    0
    """

    def __init__(self, path: Path, project: str) -> None:
        self.path = Path(path)
        self.history_path = self.path.with_name(self.path.stem + ".history.jsonl")
        self.project = project
        self._cache: tuple[tuple[int, int, int], RegistryState] | None = None
        self._history: tuple[tuple[int, int, int], list[dict[str, Any]]] | None = None

    def version(self) -> int:
        """The current version (one ``stat`` when the file did not change)."""
        return self.load().version

    def describe(self) -> str:
        """``registry file '<path>'``."""
        return f"registry file {str(self.path)!r}"

    def close(self) -> None:
        """Nothing to release: every read opens and closes the file."""

    def _stamp(self) -> tuple[int, int, int] | None:
        """What tells a rewrite: every write is a rename, so a new inode, even within one mtime tick."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def load(self) -> RegistryState:
        """The current state; cached until the file changes."""
        stamp = self._stamp()
        if stamp is None:
            return RegistryState(project=self.project)
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as err:
            raise RegistryError(f"registry {str(self.path)!r} is unreadable: {err}", path=str(self.path)) from None
        state = checked_state(data, self.project, repr(str(self.path)), str(self.path))
        self._cache = (stamp, state)
        return state

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, state: RegistryState) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(state.to_json(), f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def update(self, change: Callable[[RegistryState], RegistryUpdate]) -> RegistryState:
        """Read-modify-write under the lock.

        ``change`` returns the new state, or ``(state, history entry)`` for a new applied version,
        or None for no change. The state is written first, then the entry appended: a crash in
        between loses the entry, never the state.
        """
        with self._locked():
            self._cache = None
            current = self.load()
            result = change(current)
            new, entry = result if isinstance(result, tuple) else (result, None)
            if new is None or new == current:
                return current
            self._write(new)
            self._cache = None
            if entry is not None:
                with open(self.history_path, "a") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            return new

    def history(self) -> list[dict[str, Any]]:
        """Every applied version: ``version``, ``applied_at``, ``changes`` and the full ``objects`` (read again
        only when the file changed: entries are only ever appended; treat them as read-only)."""
        try:
            st = self.history_path.stat()
        except FileNotFoundError:
            return []
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._history is not None and self._history[0] == stamp:
            return list(self._history[1])
        try:
            lines = self.history_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        entries: dict[int, dict[str, Any]] = {}
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash mid-append
            entries[int(entry["version"])] = entry
        found = [entries[v] for v in sorted(entries)]
        self._history = (stamp, found)
        return list(found)


Registry = FileRegistry
"""The file registry's former name (kept for existing imports)."""

"""Live code: the on-demand views of a registry snapshot, matched with the code the repo's modules hold now.

The registry keeps each on-demand view's code text and fingerprint; to run one, the repo's definition
modules are imported (the registry loader) and the live object of the same name is used only if its
fingerprint is the applied one. Otherwise :meth:`LiveCode.view` raises :class:`CodeMismatchError`, so a
server never runs code that was not applied (``/ready`` answers 503 naming the views).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from featurestore.definitions.on_demand import OnDemandFeatureView
from featurestore.errors import CodeMismatchError, DefinitionError, NotFoundError
from featurestore.registry.file import RegistryState
from featurestore.registry.loader import load_definitions


@dataclass(frozen=True)
class LiveCode:
    """The live on-demand views of one registry snapshot, and those whose code differs from the applied code.

    >>> LiveCode(version=3).mismatches()
    []
    """

    version: int = 0
    """The registry version this was computed for."""
    live: dict[str, OnDemandFeatureView] = field(default_factory=dict)
    """Per registered on-demand view whose code matches: the live object (with its expressions or function)."""
    errors: dict[str, CodeMismatchError] = field(default_factory=dict)
    """Per registered on-demand view whose code differs or is missing: the error."""

    def view(self, name: str) -> OnDemandFeatureView:
        """The live view ``name``: CodeMismatchError when its code differs from what was applied,
        NotFoundError when it is not registered."""
        found = self.live.get(name)
        if found is not None:
            return found
        err = self.errors.get(name)
        if err is not None:
            raise CodeMismatchError(err.message, **err.fields)
        raise NotFoundError(f"on-demand feature view {name!r} is not in the registry (version {self.version})",
                            kind="on_demand_feature_view", name=name)

    def mismatches(self) -> list[CodeMismatchError]:
        """Every registered on-demand view whose code differs from what was applied, by name."""
        return [self.errors[n] for n in sorted(self.errors)]


def live_on_demand_views(repo_path: str | Path, state: RegistryState) -> LiveCode:
    """Import the repo's definition modules and match them with the registered on-demand views of ``state``.

    Nothing is imported when ``state`` has no on-demand views. A repo whose modules fail to import makes
    every registered on-demand view a mismatch (the message says why).
    """
    registered = state.on_demand_feature_views()
    if not registered:
        return LiveCode(state.version)
    try:
        found = {o.name: o for o in load_definitions(Path(repo_path)) if isinstance(o, OnDemandFeatureView)}
        failure = ""
    except DefinitionError as err:
        found, failure = {}, err.message
    live: dict[str, OnDemandFeatureView] = {}
    errors: dict[str, CodeMismatchError] = {}
    for view in registered:
        obj = found.get(view.name)
        if obj is not None and obj.fingerprint == view.fingerprint:
            live[view.name] = obj
            continue
        if failure:
            why = f"the repo's definitions do not import ({failure})"
        elif obj is None:
            why = "the repo's modules no longer define it"
        else:
            why = f"its code differs from what was applied (fingerprint {obj.fingerprint[:12]} found)"
        errors[view.name] = CodeMismatchError(
            f"on-demand feature view {view.name!r}: {why}; applied fingerprint {view.fingerprint[:12]} (registry "
            f"version {state.version}). Apply the code (featurestore apply), or deploy the applied code",
            view=view.name, applied=view.fingerprint, found=obj.fingerprint if obj is not None else None)
    return LiveCode(state.version, live, errors)


class LiveCodeCache:
    """:func:`live_on_demand_views` once per registry snapshot: the modules are imported again only when the
    snapshot changes (another object or version), so callers on hot paths pay a comparison."""

    def __init__(self, repo_path: str | Path) -> None:
        self.repo_path = Path(repo_path)
        self._lock = threading.Lock()  # the loader changes sys.path and sys.modules: one import at a time
        self._cached: tuple[RegistryState, LiveCode] | None = None

    def get(self, state: RegistryState) -> LiveCode:
        """The live code of ``state`` (computed on the first call for this snapshot)."""
        cached = self._cached
        if cached is not None and self._same(cached[0], state):
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is not None and self._same(cached[0], state):
                return cached[1]
            result = live_on_demand_views(self.repo_path, state)
            self._cached = (state, result)
            return result

    @staticmethod
    def _same(a: RegistryState, b: RegistryState) -> bool:
        key = "on_demand_feature_views"
        return a is b or (a.version, a.project, a.objects[key]) == (b.version, b.project, b.objects[key])

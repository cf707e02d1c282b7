"""The code a store runs: on-demand views and batch transforms as the repo's modules define them now.

The registry keeps each transformation's code text and fingerprint; running one needs the live Python
object. :class:`StoreCode` finds it (importing the repo's definition modules once per registry snapshot
for on-demand views; for batch transforms, again when a definition file changes), refuses code that
differs from what was applied (:class:`~featurestore.errors.CodeMismatchError`) and keeps one
:class:`~featurestore.transform.OnDemandRunner` per snapshot and view.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from featurestore.definitions.feature_view import FeatureView
from featurestore.errors import CodeMismatchError
from featurestore.registry.file import RegistryState
from featurestore.registry.live import LiveCode, LiveCodeCache
from featurestore.registry.live_transforms import Live, live_transforms, with_live
from featurestore.registry.loader import definition_files
from featurestore.resolution import ResolvedOnDemand
from featurestore.transform import OnDemandRunner


class StoreCode:
    """The live code of one repo's transformations (a :class:`~featurestore.FeatureStore` holds one)."""

    def __init__(self, repo_path: Path) -> None:
        self.repo_path = repo_path
        self._live = LiveCodeCache(repo_path)
        self._runners: tuple[LiveCode, dict[str, OnDemandRunner]] = (LiveCode(-1), {})
        self._applied: dict[tuple[str, str | None], FeatureView] = {}  # views with a transform applied here
        self._transforms: tuple[Any, dict[str, Live]] | None = None  # (cache key, live transforms)
        self._with_live: tuple[RegistryState, RegistryState] | None = None  # (a snapshot, it with live code)

    def applied(self, objects: Iterable[Any]) -> None:
        """Remember the batch transforms applied by this process: they run as they are (a notebook's lambda
        need not be in a repo file)."""
        self._applied.update({(o.name, o.transform_fingerprint): o for o in objects
                              if isinstance(o, FeatureView) and o.transform is not None})

    def live_code(self, state: RegistryState) -> LiveCode:
        """The on-demand views of ``state`` as the repo's modules define them (once per snapshot)."""
        return self._live.get(state)

    def on_demand_runner(self, state: RegistryState, odfv: ResolvedOnDemand) -> OnDemandRunner:
        """The runner of an on-demand view of ``state`` (CodeMismatchError when its code differs from what was
        applied); built once per registry snapshot and view."""
        live = self._live.get(state)
        owner, runners = self._runners
        if owner is not live:
            runners = {}
            self._runners = (live, runners)
        name = odfv.view.name
        runner = runners.get(name)
        if runner is None:
            view = live.view(name)
            runner = runners[name] = OnDemandRunner(name, view.features, expressions=view.expressions, udf=view.udf,
                                                    inputs=odfv.input_fields)
        return runner

    def with_transforms(self, state: RegistryState) -> tuple[RegistryState, dict[str, Live]]:
        """``state`` with each view's batch transform as live code (the repo's definitions, imported when the
        registry or a definition file changed; a view applied by this process is used as is)."""
        if not any(v.get("transform") for v in state.objects["feature_views"].values()):
            return state, {}
        # by content: a rewrite within the file system's mtime granularity is still seen
        files = [(str(f), hashlib.sha1(f.read_bytes()).hexdigest()) for f in definition_files(self.repo_path)]
        key = (state.version, state.objects["feature_views"], files)
        if self._transforms is None or self._transforms[0] != key:
            self._transforms = (key, live_transforms(self.repo_path, state, self._applied.values()))
            self._with_live = None
        done = self._with_live
        if done is None or done[0] is not state:  # one copy per snapshot: its resolutions stay cached
            done = self._with_live = (state, with_live(state, self._transforms[1]))
        return done[1], self._transforms[1]

    @staticmethod
    @contextmanager
    def explained(live: dict[str, Live]) -> Iterator[None]:
        """A view read without its live transform: the error says why (changed or missing code)."""
        try:
            yield
        except CodeMismatchError as err:
            found = live.get(err.view or "")
            if isinstance(found, CodeMismatchError):
                raise found from None
            raise

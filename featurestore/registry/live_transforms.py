"""The live code of registered batch transforms: the registry keeps a transform's text, not its function.

To run a view's transform, the repo's definitions are imported (registry/loader.py) and the view of
the same name is taken if its transform's fingerprint is the registered one: the registered view is
then read with that function. A changed or missing transform is a :class:`CodeMismatchError` naming
the view, raised when the view is read (other views stay readable).

>>> from featurestore.registry.file import RegistryState
>>> live_transforms(Path("."), RegistryState(project="p"))
{}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from featurestore.definitions.feature_view import FeatureView
from featurestore.errors import CodeMismatchError, DefinitionError
from featurestore.registry.file import RegistryState
from featurestore.registry.loader import load_definitions

Live = FeatureView | CodeMismatchError
"""A registered view with its live transform, or why it has none."""


def _mismatch(view: FeatureView, found: FeatureView | None, why: str | None = None) -> CodeMismatchError:
    applied = view.transform_fingerprint
    if why is not None:
        text = f"the repo's definitions cannot be imported ({why})"
        fp = None
    elif found is None or found.transform is None:
        text = "the repo no longer defines it" if found is None else "the repo's definition has no transform"
        fp = None
    else:
        text = "the repo's code differs from the applied code"
        fp = found.transform_fingerprint
    return CodeMismatchError(
        f"feature view {view.name!r}: its Polars transform cannot run: {text} (applied fingerprint "
        f"{str(applied)[:12]}{'' if fp is None else f', found {fp[:12]}'}); run `featurestore apply` to register "
        "the code as it is, or restore the applied code", view=view.name, applied=applied, found=fp)


def live_transforms(repo_path: Path, state: RegistryState, known: Iterable[Any] = ()) -> dict[str, Live]:
    """Per registered view with a transform: the view with its live function, or the CodeMismatchError.

    ``known``: live definitions at hand (those this process applied); a view among them with the registered
    fingerprint is used as is, and the repo is imported only for the others.
    """
    registered = [v for v in state.feature_views() if v.has_transform]
    if not registered:
        return {}
    at_hand = {(v.name, v.transform_fingerprint): v for v in known
               if isinstance(v, FeatureView) and v.transform is not None}
    found: dict[str, FeatureView] = {}
    failure: str | None = None
    if any((v.name, v.transform_fingerprint) not in at_hand for v in registered):
        try:
            found = {o.name: o for o in load_definitions(repo_path) if isinstance(o, FeatureView)}
        except DefinitionError as err:
            failure = err.message
    out: dict[str, Live] = {}
    for view in registered:
        candidate = at_hand.get((view.name, view.transform_fingerprint)) or found.get(view.name)
        if failure is None and candidate is not None and candidate.transform is not None \
                and candidate.transform_fingerprint == view.transform_fingerprint:
            out[view.name] = replace(view, transform=candidate.transform)
        else:
            out[view.name] = _mismatch(view, candidate, failure if candidate is None else None)
    return out


def with_live(state: RegistryState, live: Mapping[str, Live]) -> RegistryState:
    """``state`` whose views read with their live transforms (mismatched ones stay as registered: reading them
    raises a CodeMismatchError)."""
    if not any(isinstance(v, FeatureView) for v in live.values()):
        return state
    copy = RegistryState(state.project, state.version, state.objects, state.online_layouts)
    for name, view in live.items():
        if isinstance(view, FeatureView):
            copy._parsed[("feature_views", name)] = view
    return copy


__all__ = ["Live", "live_transforms", "with_live"]

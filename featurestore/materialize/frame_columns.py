"""The columns of a ``push`` or ``write_to_online_store`` frame, checked before anything else: every
missing column and every unknown one named in one error, the same whatever the push target.

A frame for a view needs its event timestamp column (the source's ``timestamp_field``, or
``event_timestamp``), its join keys and its features; it may hold the source's created timestamp
column. A frame pushed for an aggregate view needs the source's ``timestamp_field`` itself, its join keys
and the columns it aggregates (its ``where`` predicates may read any source column). Named like the view
(``write_to_online_store``) or like the batch source (``push``, which
feeds every view of the push source: a column is known when one of them reads it).
"""

from __future__ import annotations

from collections.abc import Sequence

from featurestore.definitions.aggregate_view import AggregateView, SourcedView, view_label
from featurestore.definitions.sources import batch_of
from featurestore.errors import InputError


def _needs(view: SourcedView, names: set[str], mapped: bool) -> tuple[list[tuple[str, str]], list[str]]:
    """The missing columns (with what they are) of ``view`` among ``names``, and every column it reads."""
    batch = batch_of(view.source)

    def col(name: str) -> str:
        return name if mapped else view.source_column(name)

    known = [batch.timestamp_field, "event_timestamp", *([batch.created_timestamp_field]
                                                         if batch.created_timestamp_field else [])]
    aggregate = isinstance(view, AggregateView)
    missing = [] if batch.timestamp_field in names or (not aggregate and "event_timestamp" in names) else [
        (batch.timestamp_field, "event timestamp")]
    wanted = [("join key", col(k)) for k in view.join_keys]
    if isinstance(view, AggregateView):  # aggregated columns are named like the source's, whatever the mapping
        wanted += [("aggregated column", c) for c in view.columns]
    else:
        wanted += [("feature", col(f)) for f in view.feature_names]
    for what, name in wanted:
        known.append(name)
        if name not in names:
            missing.append((name, what))
    return missing, known


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(map(repr, names))


def check(views: Sequence[SourcedView], columns: Sequence[str], mapped: bool, push: str | None = None,
          allow_unknown: bool = False) -> None:
    """Refuse a frame with ``columns`` missing a column ``views`` need, or holding one none of them reads.

    ``push``: the push source's name (the columns are named like its batch source, ``mapped=False``).
    ``allow_unknown``: only missing columns are refused (a batch transform may read any column).
    """
    names = set(columns)
    missing: dict[str, tuple[str, list[str]]] = {}  # column -> (what it is, views needing it)
    known: dict[str, None] = {}
    for view in views:
        lacking, reads = _needs(view, names, mapped)
        known.update(dict.fromkeys(reads))
        for column, what in lacking:
            missing.setdefault(column, (what, []))[1].append(view.name)
    unknown = [] if allow_unknown else [c for c in columns if c not in known]
    if not missing and not unknown:
        return
    whose = f"push source {push!r}" if push else f"{view_label(views[0])} {views[0].name!r}"
    plural = "s" if len(views) > 1 else ""
    parts = []
    if missing:
        shown = ", ".join(f"{c!r} ({what}{'' if push is None else ' of ' + _quoted(vs)})"
                          for c, (what, vs) in missing.items())
        parts.append(f"are missing column{'s' if len(missing) > 1 else ''} {shown}")
    if unknown:
        reading = f"read{'' if plural else 's'} {_quoted(list(known))}"
        parts.append(f"have unknown column{'s' if len(unknown) > 1 else ''} {_quoted(unknown)} "
                     f"({view_label(views[0])}{plural} {_quoted([v.name for v in views])} {reading})")
    bad = [*missing, *unknown]
    raise InputError(f"rows for {whose} {' and '.join(parts)}", column=bad[0], columns=bad,
                     view=views[0].name if len(views) == 1 else None)

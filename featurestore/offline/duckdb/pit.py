"""The point-in-time join, as DuckDB SQL.

For each entity row and each view: the source row with equal join keys whose
event time is ``<=`` the entity time and, with a ttl, ``>=`` entity time - ttl;
the latest event time wins, then the latest created time, then pushed rows over
batch rows, then the row read last. Per view, one ``ASOF LEFT JOIN`` on the join keys
and the event time alone (as cheap as DuckDB's bare ASOF join) stores the matched
event time per entity row in a temp table (a statement of its own, so its memory is
freed); a hash join on (keys, that event time) then fetches the feature values of
every row tied on it, with their created time and (rank, ordinal), and the greatest
of those per entity row is kept: by ``QUALIFY`` in SQL, or after the fetch in Arrow
(job.py), where input order is also restored by a positional take instead of a sort.
With ``as_of_created`` the created time must also be ``<=`` the entity time, which ASOF cannot express: a range join
keeping the best row per entity row is used instead.
An aggregate view's part is built by aggregates.py (a Python step computes its windows per distinct (keys, T)
before the query; the part joins them back to the entity rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.feature_view import FeatureView
from featurestore.naming import quote
from featurestore.offline.duckdb.aggregates import Step, aggregate_sql
from featurestore.offline.duckdb.relations import SourceContext, stable_ordinal, utc_us, view_relation
from featurestore.resolution import ResolvedView

# The tie-break key (event, created, rank, ordinal) as a struct of two integers, compared as a tuple:
# 'tc' = event * 2**64 + (created + 2**63), exact in a HUGEINT for any two BIGINTs, ordered as
# (event, created); 'ro' = rank * 2**62 + ordinal (ordinals are below 2**62, see relations.py), ordered
# as (rank, ordinal). Two fields compare faster than four (measured: -20 % CPU for the ASOF join).
TWO_64 = "18446744073709551616::HUGEINT"
SOURCE_KEY = (
    f"{{'tc': __fs_ev::HUGEINT * {TWO_64} + (__fs_cr::HUGEINT + 9223372036854775808::HUGEINT), "
    "'ro': __fs_rank::BIGINT * 4611686018427387904 + __fs_ord}"
)
# NULL (no match) when the entity time is null: a struct with a null field is not null and sorts last
ENTITY_KEY = (
    f"CASE WHEN __fs_ts IS NOT NULL THEN {{'tc': __fs_ts::HUGEINT * {TWO_64} + ({TWO_64} - 1), "
    "'ro': 9223372036854775807::BIGINT} END"
)
SOURCE_RO = "__fs_rank::BIGINT * 4611686018427387904 + __fs_ord"
Setup = str | Step
"""A statement run before a training-set query: SQL, or a Python step (an aggregate view's windows)."""


def _key_ttl_ok(view: FeatureView, key: str, ts: str) -> str | None:
    """The ttl check on a SOURCE_KEY: event >= T - ttl exactly when tc >= (T - ttl) * 2**64 (no division)."""
    if view.ttl is None:
        return None
    micros = view.ttl // timedelta(microseconds=1)
    return f"{key}.tc >= ({ts} - {micros})::HUGEINT * {TWO_64}"


def _ttl_ok(view: FeatureView, ev: str, ts: str) -> str | None:
    if view.ttl is None:
        return None
    micros = view.ttl // timedelta(microseconds=1)
    return f"{ev} >= {ts} - {micros}"


def _view_join(req: ResolvedView, ctx: SourceContext, types: dict[str, str], as_of_created: bool,
               entity_cte: str, index: int, setup: list[Setup]) -> ViewPart:
    """The view's part of the query (``types``: the source's DESCRIBE).

    May append statements to ``setup`` that must run first (in the same connection).
    """
    if isinstance(req.view, AggregateView):
        sql, step = aggregate_sql(req, ctx, types, as_of_created, entity_cte, index)
        if step is not None:
            setup.append(step)
        return ViewPart(sql, False)
    assert isinstance(req.view, FeatureView)
    keys = req.view.join_keys
    equal = [f"e.{quote(col)} = v.{quote(k)}" for col, k in req.keys]  # none for a view without entities
    on = "".join(f"{c} AND " for c in equal)
    pairs = list(zip(req.features, req.out_names, strict=True))
    if as_of_created:
        ttl = _ttl_ok(req.view, "v.__fs_ev", "e.__fs_ts")
        cond = [*equal, "v.__fs_ev <= e.__fs_ts", "v.__fs_cr <= e.__fs_ts"] + ([ttl] if ttl else [])
        cols = ", ".join(f"v.{quote(f)} AS {quote(o)}" for f, o in pairs)
        rel = view_relation(req.view, ctx, types, req.features)
        return ViewPart(
            f"SELECT e.__fs_row, {cols} FROM __fs_e e LEFT JOIN ({rel}) v ON {' AND '.join(cond)} "
            "QUALIFY row_number() OVER (PARTITION BY e.__fs_row ORDER BY "
            "v.__fs_ev DESC NULLS LAST, v.__fs_cr DESC, v.__fs_rank DESC, v.__fs_ord DESC) = 1", False
        )
    ttl = _key_ttl_ok(req.view, "v.__fs_k", "e.__fs_ts")
    entity = f"(SELECT *, {ENTITY_KEY} AS __fs_k FROM __fs_e) e"
    if not stable_ordinal(req.view):
        narrow = ", ".join([quote(k) for k in keys] + [quote(f) for f in req.features])
        cols = ", ".join(
            (f"CASE WHEN {ttl} THEN v.{quote(f)} END" if ttl else f"v.{quote(f)}") + f" AS {quote(o)}" for f, o in pairs
        )
        rel = view_relation(req.view, ctx, types, req.features)
        return ViewPart(
            f"SELECT e.__fs_row, {cols} FROM {entity} ASOF LEFT JOIN (SELECT {narrow}, {SOURCE_KEY} AS "
            f"__fs_k FROM ({rel})) v ON {on}e.__fs_k >= v.__fs_k", False
        )
    # Two phases, two statements. The ASOF join sorts only (keys, event time), BIGINTs as cheap as the bare join,
    # and stores per entity row the event time it matched (ttl applied) in a temp table, a statement of its own so
    # its memory is free before the values are read. A hash join on (keys, that event time) then streams the
    # feature values from the source with each row's created time and (rank, ordinal): every row tied on event
    # time comes back, and the caller keeps the greatest (created, rank * 2**62 + ordinal) per entity row.
    ttl = _ttl_ok(req.view, "v.__fs_ev", "e.__fs_ts")
    match = f"CASE WHEN {ttl} THEN v.__fs_ev END" if ttl else "v.__fs_ev"
    narrow = "".join(f"{quote(k)}, " for k in keys)
    entity_keys = "".join(f"e.{quote(col)} AS __fs_j{n}, " for n, (col, _) in enumerate(req.keys))
    table = f"__fs_m{index}"
    setup.append(
        f"CREATE OR REPLACE TEMP TABLE {table} AS WITH {entity_cte} "
        f"SELECT e.__fs_row, {entity_keys}{match} AS __fs_mev FROM __fs_e e ASOF LEFT JOIN "
        f"(SELECT {narrow}__fs_ev FROM ({view_relation(req.view, ctx, types, ())})) v "
        f"ON {on}e.__fs_ts >= v.__fs_ev"
    )
    cols = ", ".join(f"s.{quote(f)} AS {quote(o)}" for f, o in pairs)
    rel = view_relation(req.view, ctx, types, req.features)
    feats = ", ".join(quote(f) for f in req.features)
    values = f"SELECT {narrow}__fs_ev, __fs_cr, {SOURCE_RO} AS __fs_ro, {feats} FROM ({rel})"
    same = "".join(f"s.{quote(k)} = m.__fs_j{n} AND " for n, (_, k) in enumerate(req.keys))
    return ViewPart(
        f"SELECT m.__fs_row, s.__fs_cr, s.__fs_ro, {cols} FROM {table} m LEFT JOIN ({values}) s "
        f"ON {same}s.__fs_ev = m.__fs_mev", True
    )


@dataclass(frozen=True)
class ViewPart:
    """One view's rows: ``__fs_row`` and the view's output columns, one row per entity row.

    With ``ties``, also ``__fs_cr`` and ``__fs_ro`` after ``__fs_row``, and every source row tied on event time
    for an entity row comes back: the one with the greatest (``__fs_cr``, ``__fs_ro``) is the answer.
    """

    sql: str
    ties: bool

    @property
    def best(self) -> str:
        """``sql`` with one row per entity row (ties resolved in SQL) and no tie columns."""
        if not self.ties:
            return self.sql
        return (f"SELECT * EXCLUDE (__fs_cr, __fs_ro) FROM ({self.sql}) "
                "QUALIFY row_number() OVER (PARTITION BY __fs_row ORDER BY __fs_cr DESC, __fs_ro DESC) = 1")


@dataclass(frozen=True)
class PitQuery:
    """A training-set query: ``setup`` statements to run first, in order and in the same connection (SQL text, or
    a Python step given the connection), then ``sql``.

    ``parts`` are the views' parts of ``sql`` (rows in any order, see :class:`ViewPart`), for callers that
    resolve ties and restore input order themselves from ``__fs_row``.
    """

    setup: tuple[Setup, ...]
    sql: str
    parts: tuple[ViewPart, ...]
    entity_cte: str

    def part_sql(self, part: ViewPart) -> str:
        """A part as a query of its own."""
        return f"WITH {self.entity_cte} {part.sql}"


def pit_sql(
    entity_relation: str,
    timestamp_column: str,
    timestamp_type: str,
    entity_columns: list[str] | None,
    requests: list[ResolvedView],
    ctx: SourceContext,
    column_types: Mapping[str, dict[str, str]],
    as_of_created: bool = False,
) -> PitQuery:
    """SQL of a training set.

    ``entity_relation`` must have the entity columns plus ``__fs_row`` (0..n-1,
    input order). ``column_types`` maps each requested view's name to its source's
    column types (DuckDB ``DESCRIBE``: name -> type), which decide how times are read.
    ``sql`` has ``__fs_row`` (or ``entity_columns``, when given) and every requested
    feature, ordered by ``__fs_row``.
    """
    keys = sorted({col for r in requests for col, _ in r.keys})
    key_cols = "".join(f"{quote(k)}, " for k in keys)
    entity_cte = (
        f"__fs_e AS (SELECT {key_cols}__fs_row, {utc_us(quote(timestamp_column), timestamp_type)} AS __fs_ts "
        f"FROM {entity_relation})"
    )
    setup: list[Setup] = []
    parts = [_view_join(req, ctx, column_types.get(req.view.name, {}), as_of_created, entity_cte, i, setup)
             for i, req in enumerate(requests)]
    ctes = [entity_cte] + [f"__fs_r{i} AS ({part.best})" for i, part in enumerate(parts)]
    outs = [f"r{i}.{quote(o)}" for i, r in enumerate(requests) for o in r.out_names]
    if entity_columns is None:
        # every view result has exactly one row per entity row: join them to each other, not to the entity
        joins = " ".join(f"JOIN __fs_r{i} r{i} ON r{i}.__fs_row = r0.__fs_row" for i in range(1, len(requests)))
        sql = f"WITH {', '.join(ctes)} SELECT r0.__fs_row, {', '.join(outs)} FROM __fs_r0 r0 {joins}"
        return PitQuery(tuple(setup), f"{sql} ORDER BY r0.__fs_row", tuple(parts), entity_cte)
    head = [f"e.{quote(c)}" for c in entity_columns]
    joins = " ".join(f"LEFT JOIN __fs_r{i} r{i} ON r{i}.__fs_row = e.__fs_row" for i in range(len(requests)))
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(head + outs)} FROM {entity_relation} e {joins}"
    return PitQuery(tuple(setup), f"{sql} ORDER BY e.__fs_row", tuple(parts), entity_cte)

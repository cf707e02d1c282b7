"""The SQL of materialize's read: per entity, the latest row of a view with event time in a range.

Ties: latest created time, then the row read last (``__fs_rank``, ``__fs_ord``: pushed rows after batch rows).
With an expectations :class:`~featurestore.quality.checks.RowFilter`, rows failing its checks are left out, so each
entity gets its latest good row (quarantine).
"""

from __future__ import annotations

from datetime import datetime

from featurestore.definitions.feature_view import FeatureView
from featurestore.naming import quote
from featurestore.offline.duckdb import quality
from featurestore.offline.duckdb.relations import SourceContext, stable_ordinal, view_relation
from featurestore.quality.checks import RowFilter
from featurestore.utc import epoch_us


def latest_sql(view: FeatureView, ctx: SourceContext, types: dict[str, str], start: datetime | None, end: datetime,
               exclude: RowFilter | None = None) -> str:
    """Join keys, features, ``__fs_ev`` and ``__fs_cr`` of each entity's latest row in ``[start, end]`` (rows
    without a key skipped); ``types``: the source's column types (``DESCRIBE``)."""
    keys = ", ".join(quote(k) for k in view.join_keys) or "()"  # a view without entities: one row
    where = [f"__fs_ev <= {epoch_us(end)}"] + ([f"__fs_ev >= {epoch_us(start)}"] if start else [])
    where += [f"{quote(k)} IS NOT NULL" for k in view.join_keys]  # rows without an entity are skipped
    where += [exclude.keep_sql(quality.float_features(view))] if exclude is not None else []
    rel = view_relation(view, ctx, types)
    rel = quality.nan_safe(view, rel, exclude.columns(view.feature_names)) if exclude is not None else rel
    cols = ", ".join(quote(c) for c in (*view.join_keys, *view.feature_names, "__fs_ev", "__fs_cr"))
    if stable_ordinal(view):
        # the best (event, created, ordinal) per entity by a narrow hash aggregate, then the rows by
        # ordinal: fast for few entities with many rows and for one row per entity alike
        # (two scans, not a CTE: DuckDB would materialize a CTE read twice, i.e. the whole range)
        checked = exclude.columns(view.feature_names) if exclude is not None else ()
        narrow = quality.nan_safe(view, view_relation(view, ctx, types, checked), checked)
        sql = (
            f"SELECT {cols} FROM ({rel}) r WHERE {' AND '.join(where)} "
            f"AND {{'r': r.__fs_rank, 'o': r.__fs_ord}} IN (SELECT {{'r': m.r, 'o': m.o}} FROM ("
            f"SELECT max({{'t': __fs_ev, 'c': __fs_cr, 'r': __fs_rank, 'o': __fs_ord}}) AS m FROM ({narrow}) "
            f"WHERE {' AND '.join(where)} GROUP BY {keys}))"
        )
    else:
        partition = "" if keys == "()" else f"PARTITION BY {keys} "
        sql = (
            f"SELECT {cols} FROM ({rel}) WHERE {' AND '.join(where)} QUALIFY row_number() OVER "
            f"({partition}ORDER BY __fs_ev DESC, __fs_cr DESC, __fs_rank DESC, __fs_ord DESC) = 1"
        )
    return sql

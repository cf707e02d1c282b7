"""The SQLite online store's tables and statements (``featurestore/online/sqlite_store.py``).

Rows of feature views in ``fs_online_rows``; an aggregate view's states in ``fs_online_agg_states`` and its pushed
records in ``fs_online_agg_records`` (``seq`` increasing: the append order of an entity's records). The data
timestamps (``featurestore/online/freshness.py``) in ``fs_online_fresh``, advanced by :data:`ADVANCE` in the
transaction of the write.
"""

from __future__ import annotations

TABLE = "fs_online_rows"
_ROWS = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    project TEXT NOT NULL,
    view TEXT NOT NULL,
    entity TEXT NOT NULL,       -- k1=v1,k2=v2 with the escaping of featurestore/online/keys.py
    event_us INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    row BLOB NOT NULL,          -- the encoded row (featurestore/online/codec.py)
    PRIMARY KEY (project, view, entity)
) WITHOUT ROWID
"""
FRESH = "fs_online_fresh"
STATES = "fs_online_agg_states"
RECORDS = "fs_online_agg_records"
SCHEMA = (_ROWS, f"""
CREATE TABLE IF NOT EXISTS {STATES} (
    project TEXT NOT NULL,
    view TEXT NOT NULL,
    entity TEXT NOT NULL,
    snapshot_us INTEGER NOT NULL,
    state BLOB NOT NULL,        -- opaque (featurestore/online/agg_state.py)
    PRIMARY KEY (project, view, entity)
) WITHOUT ROWID
""", f"""
CREATE TABLE IF NOT EXISTS {RECORDS} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- increasing: the append order
    project TEXT NOT NULL,
    view TEXT NOT NULL,
    entity TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    record BLOB NOT NULL
)
""", f"CREATE INDEX IF NOT EXISTS {RECORDS}_entity ON {RECORDS} (project, view, entity, seq)", f"""
CREATE TABLE IF NOT EXISTS {FRESH} (
    project TEXT NOT NULL,
    view TEXT NOT NULL,
    event_us INTEGER NOT NULL,  -- the newest event time ever written online for the view
    PRIMARY KEY (project, view)
) WITHOUT ROWID
""")
ADVANCE = f"""
INSERT INTO {FRESH} (project, view, event_us) VALUES (?, ?, ?)
ON CONFLICT (project, view) DO UPDATE SET event_us = max({FRESH}.event_us, excluded.event_us)
"""
STATE_UPSERT = f"""
INSERT INTO {STATES} (project, view, entity, snapshot_us, state) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (project, view, entity) DO UPDATE SET snapshot_us = excluded.snapshot_us, state = excluded.state
WHERE excluded.snapshot_us >= {STATES}.snapshot_us
"""
TRIM = f"DELETE FROM {RECORDS} WHERE project = ? AND view = ? AND entity = ? AND created_us < ?"
APPEND = f"INSERT INTO {RECORDS} (project, view, entity, created_us, record) VALUES (?, ?, ?, ?, ?)"
UPSERT = f"""
INSERT INTO {TABLE} (project, view, entity, event_us, created_us, row) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (project, view, entity) DO UPDATE
SET event_us = excluded.event_us, created_us = excluded.created_us, row = excluded.row
WHERE (excluded.event_us, excluded.created_us) >= ({TABLE}.event_us, {TABLE}.created_us)
"""
SELECT_ONE = f"SELECT row FROM {TABLE} WHERE project = ? AND view = ? AND entity = ?"


def aggregate_select(count: int) -> str:
    """One SELECT of the states and records of ``count`` entities of a view: parameters project, view, entities;
    rows ``(0, entity, snapshot_us, 0, state)`` and ``(1, entity, created_us, seq, record)``."""
    ids = ",".join(f"(?{i})" for i in range(3, count + 3))
    return (f"WITH ids(entity) AS (VALUES {ids}) "
            f"SELECT 0, entity, snapshot_us, 0, state FROM {STATES} WHERE project = ?1 AND view = ?2 AND entity IN ids "
            f"UNION ALL SELECT 1, entity, created_us, seq, record FROM {RECORDS} "
            "WHERE project = ?1 AND view = ?2 AND entity IN ids")

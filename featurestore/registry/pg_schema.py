"""The tables of a PostgreSQL registry (one schema; every row keyed by project, so one schema holds several).

``registry_head``: one row per project, its current version and state (the registry's JSON form, as the file
registry writes it). ``registry_history``: one row per applied version, its history entry (``applied_at``,
``changes``, full ``objects``). ``state_records``: the operational state (watermarks, validation and monitoring
records) of :class:`~featurestore.state.postgres.PostgresStateStore`. ``state_locks``: who holds the
exclusive-operation lock, for the BusyError of whoever finds it taken (the lock itself is an advisory lock).

The tables are created on first connection when missing (under an advisory lock, so two processes starting
at once do not race); a role that may not create them gets a RegistryError naming the schema.
"""

from __future__ import annotations

TABLES = ("registry_head", "registry_history", "state_records", "state_locks")

DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.registry_head (
    project text PRIMARY KEY,
    version integer NOT NULL,
    format integer NOT NULL,
    state json NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.registry_history (
    project text NOT NULL,
    version integer NOT NULL,
    applied_at text,
    entry json NOT NULL,
    PRIMARY KEY (project, version)
);
CREATE TABLE IF NOT EXISTS {schema}.state_records (
    project text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    key text NOT NULL,
    value json NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, kind, name, key)
);
CREATE TABLE IF NOT EXISTS {schema}.state_locks (
    project text NOT NULL,
    lock text NOT NULL,
    operation text NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    since text NOT NULL,
    PRIMARY KEY (project, lock)
);
"""
"""``{schema}``: the quoted schema name."""

DDL_LOCK = 7_106_658_175_117_410_931
"""The advisory lock key held while creating the tables (any constant: only table creation takes it)."""

"""Aggregate views' online states on Spark (what ``materialize`` of an aggregate view reads): per bucket of entities,
the DuckDB engine's own page queries (``featurestore/offline/duckdb/agg_states.py``) over the bucket's events.

An entity's state depends only on its own events, so hashing the events by join key into buckets gives independent
parts: each bucket's kernel runs :func:`~featurestore.offline.duckdb.agg_states.aggregate_pages` (entities numbered
within the bucket, pages of at most ``page_entities``), and returns each page as two Arrow IPC blobs, so the driver
gets DuckDB's exact types. The pages come to the driver one bucket at a time (``toLocalIterator``), where materialize
encodes them and writes them to the online store, as with the DuckDB engine.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.offline.duckdb.agg_inputs import inputs_relation
from featurestore.offline.duckdb.agg_states import aggregate_pages
from featurestore.offline.spark.buckets import BUCKET, bucketed
from featurestore.offline.spark.errors import translated
from featurestore.offline.spark.kernel import Kernel, conform, from_ipc, to_ipc
from featurestore.offline.spark.sources import raw_input
from featurestore.utc import epoch_us

if TYPE_CHECKING:
    from featurestore.offline.spark.store import SparkOfflineStore

RAW = "__fs_raw"
PAGES_SCHEMA = "__fs_entities binary, __fs_tail binary"


def _pages_function(view: AggregateView, relation: str, raw_schema: pa.Schema, snapshot_us: int, page_entities: int,
                    settings: tuple[tuple[str, str], ...]) -> Callable[[pa.Table], pa.Table]:
    """The function Spark runs per bucket: the bucket's pages, each as (entities, tail) IPC blobs."""

    def pages(table: pa.Table) -> pa.Table:
        con = duckdb.connect(config={"threads": 1, **dict(settings)})
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.register(RAW, conform(table, raw_schema))

            def query(sql: str) -> pa.Table:
                return con.sql(sql).to_arrow_table()

            def register(name: str, data: pa.Table) -> None:
                con.register(name, data)

            found = list(aggregate_pages(view, relation, snapshot_us, f"__fs_agg_{uuid.uuid4().hex[:12]}", query,
                                         register, page_entities))
        finally:
            con.close()
        return pa.table({"__fs_entities": pa.array([to_ipc(e) for e, _ in found], pa.binary()),
                         "__fs_tail": pa.array([to_ipc(t) for _, t in found], pa.binary())})

    return pages


def aggregate_states(store: SparkOfflineStore, view: AggregateView, snapshot: datetime,
                     page_entities: int = 16384) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Per page of entities, the parts of their online states at ``snapshot`` (see the module docstring)."""
    with translated([view]):
        ctx = store.inner.context([view])
        raw = raw_input(store.session, store.inner, view, ctx)
        kctx = replace(ctx, registered=((view.name, RAW),))
        relation = inputs_relation(view, kctx, Kernel(((RAW, raw.schema),), "SELECT 1").column_types(RAW))
        keys = [view.source_column(k.name) for k in view.key_fields]
        frame = bucketed(raw.frame, keys, [k.dtype for k in view.key_fields], store.buckets)
        function = _pages_function(view, relation, raw.schema, epoch_us(snapshot), page_entities,
                                   store.kernel_settings)
        pages = frame.groupBy(BUCKET).applyInArrow(function, PAGES_SCHEMA)
        for row in pages.toLocalIterator():  # Spark's failures while iterating are translated too
            yield from_ipc(row[0]), from_ipc(row[1])

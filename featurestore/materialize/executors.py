"""Materialize from the executors: with an engine that :class:`~featurestore.offline.protocol.WritesFromExecutors`
(Spark), each worker opens the online store from its config and writes the rows it computed; nothing goes through
the driver. Everything else of a run stays as on the driver path (run.py): the quality gate judges the range
first (a rejected range writes nothing), the watermark advances only after the view succeeded, rows are counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from featurestore.definitions.feature_view import FeatureView
from featurestore.materialize import gated
from featurestore.offline.protocol import OfflineStore, WritesFromExecutors
from featurestore.online.factory import open_online_store
from featurestore.quality.policy import Gate


@dataclass(frozen=True)
class OnlineTarget:
    """How a worker opens the run's online store: its config (the ``online_store`` section), repo and project."""

    config: Any
    repo_path: str
    project: str


@dataclass(frozen=True)
class PartitionWrite:
    """The picklable writer shipped to the executors: opens the online store once per partition and writes each
    batch as the driver path would (:func:`featurestore.materialize.run.write_batch`)."""

    target: OnlineTarget
    view: FeatureView

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, int]]:
        from featurestore.materialize.run import write_batch

        online = open_online_store(self.target.config, self.target.repo_path, self.target.project)
        try:
            for batch in batches:
                done = write_batch(online, self.view, batch)
                yield done.rows, done.written
        finally:
            online.close()


def executor_writes(offline: OfflineStore, target: OnlineTarget | None) -> WritesFromExecutors | None:
    """The engine when this run writes from the executors (it can, and the online store has a config), else None."""
    if target is None or not isinstance(offline, WritesFromExecutors):
        return None
    return offline


def write_view(engine: WritesFromExecutors, target: OnlineTarget, gate: Gate | None, offline: OfflineStore,
               view: FeatureView, start: datetime | None, end: datetime) -> tuple[int, int]:
    """One view's rows in ``[start, end]`` judged, then written by the executors: ``(rows, written)``."""
    exclude = gated.screen_range(gate, offline, view, start, end)  # raises when rejected, before any write
    return engine.write_latest_rows(view, start, end, PartitionWrite(target, view), exclude)

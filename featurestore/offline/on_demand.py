"""On-demand views in training sets: after the point-in-time join, each on-demand view runs over the joined rows.

The join reads every feature of the on-demand views' source views (under hidden names where they were
not requested); the runner gets them by their bare names, with the request fields from the entity
frame's columns, and its outputs are appended under their output names; the hidden columns are dropped.
The runner is row-local, so it runs per record batch when the training set is streamed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.errors import InputError
from featurestore.offline.entity_input import EntityInput
from featurestore.offline.job_outputs import JobOutputs
from featurestore.offline.protocol import BATCH_ROWS, RetrievalJob
from featurestore.resolution import ResolvedOnDemand, ResolvedRequest
from featurestore.transform import OnDemandRunner

Runners = Callable[[ResolvedOnDemand], OnDemandRunner]
"""The runner of an on-demand view of the request (built from the repo's live code; CodeMismatchError if changed)."""


def check_request_columns(resolved: ResolvedRequest, schema: pa.Schema, what: str = "entity_df") -> None:
    """Raise InputError naming every request field of the on-demand views missing from the entity columns."""
    missing = [(f.name, o.name, source) for o in resolved.on_demand for f, source in o.request_fields
               if f.name not in schema.names]
    if missing:
        columns = list(dict.fromkeys(c for c, _, _ in missing))
        shown = ", ".join(f"{c!r} (field of request source {s!r}, read by on-demand feature view {v!r})"
                          for c, v, s in missing)
        raise InputError(f"{what} is missing request data column{'s' if len(columns) > 1 else ''} {shown}",
                         column=columns[0], field=columns[0], view=missing[0][1], columns=columns)


class EntityOnlyJob:
    """The rows of the entity frame as they are: the base of a request whose on-demand views read request data
    only (no feature view to join)."""

    def __init__(self, entity: EntityInput) -> None:
        self._entity = entity

    def to_arrow(self) -> pa.Table:
        if self._entity.table is not None:
            return self._entity.table
        assert self._entity.path is not None
        return pq.read_table(self._entity.path)

    def to_batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        if self._entity.table is not None:
            yield from self._entity.table.to_batches(max_chunksize=batch_rows)
            return
        assert self._entity.path is not None
        yield from pq.ParquetFile(self._entity.path).iter_batches(batch_rows)


def _shown(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else repr(value)


class OnDemandJob(JobOutputs):
    """A :class:`~featurestore.offline.protocol.RetrievalJob` running the request's on-demand views over the
    rows of the engine's job (``inner``), which holds the entity columns and the views' outputs."""

    def __init__(self, inner: RetrievalJob | EntityOnlyJob, resolved: ResolvedRequest, runners: Runners,
                 keys: tuple[str, ...], timestamp_column: str) -> None:
        self._inner = inner
        self._resolved = resolved
        self._runners = [(o, runners(o)) for o in resolved.on_demand]  # CodeMismatchError now, not on first read
        self._keys = keys
        self._ts = timestamp_column
        self._view_outputs = {o for v in resolved.views for o in v.out_names}
        self.feature_columns = list(resolved.columns)

    def _apply(self, table: pa.Table, offset: int) -> pa.Table:
        """``table`` (entity columns + view outputs) with the on-demand outputs, the hidden columns dropped."""
        computed: dict[str, pa.ChunkedArray | pa.Array] = {}
        for odfv, runner in self._runners:
            names = [bare for bare, _ in odfv.inputs] + [f.name for f, _ in odfv.request_fields]
            arrays = [table.column(col) for _, col in odfv.inputs] + [table.column(f.name)
                                                                      for f, _ in odfv.request_fields]
            inputs = pa.table(arrays, names=names) if arrays else pa.table({"__n": pa.nulls(table.num_rows)})
            out = runner.run_table(inputs, self._describer(table, offset))
            for feature, name in zip(odfv.features, odfv.out_names, strict=True):
                computed[name] = out.column(feature)
        entity = [c for c in table.column_names if c not in self._view_outputs]
        arrays = [table.column(c) for c in entity]
        arrays += [computed[c] if c in computed else table.column(c) for c in self.feature_columns]
        return pa.table(arrays, names=entity + self.feature_columns)

    def _describer(self, table: pa.Table, offset: int) -> Callable[[int], str]:
        def describe(i: int) -> str:
            """``entity row 12 (driver_id=3, event_timestamp=2026-01-01T10:00:00+00:00)``: the join keys (without
            any, the entity columns) and the event time."""
            entity = [c for c in table.column_names if c not in self._view_outputs and c != self._ts]
            shown = [c for c in self._keys if c in entity] or entity[:5]
            values = ", ".join(f"{c}={_shown(table.column(c)[i].as_py())}" for c in (*shown, self._ts)
                               if c in table.column_names)
            return f"entity row {offset + i}" + (f" ({values})" if values else "")

        return describe

    def to_batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the training set in input order (the on-demand views run per batch)."""
        offset = 0
        for batch in self._inner.to_batches(batch_rows):
            table = self._apply(pa.Table.from_batches([batch]), offset)
            offset += batch.num_rows
            yield from table.combine_chunks().to_batches(max_chunksize=max(batch.num_rows, 1))

    def to_arrow(self) -> pa.Table:
        """The training set as a ``pyarrow.Table``."""
        return self._apply(self._inner.to_arrow(), 0)

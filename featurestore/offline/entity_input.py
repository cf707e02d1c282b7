"""The entity frame of a training-set query: converted to Arrow at the edge, checked, and described."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import frames
from featurestore.errors import InputError

TIMESTAMP_COLUMN = "event_timestamp"


@dataclass(frozen=True)
class EntityInput:
    """Either an in-memory Arrow table or a Parquet path (for frames larger than memory)."""

    schema: pa.Schema
    timestamp_column: str
    table: pa.Table | None = None
    path: Path | None = None


def to_arrow(data: Any, what: str = "entity_df", path_ok: bool = False) -> pa.Table:
    """pandas / polars (a LazyFrame is collected) / pyarrow data as a ``pyarrow.Table``, categorical
    columns decoded to their value type (:func:`featurestore.frames.to_arrow`)."""
    return frames.to_arrow(data, what, " or a Parquet path" if path_ok else "")


def timestamp_column(schema: pa.Schema) -> str:
    """``event_timestamp`` if present, else the only timestamp column."""
    if TIMESTAMP_COLUMN in schema.names:
        t = schema.field(TIMESTAMP_COLUMN).type
        if not (pa.types.is_timestamp(t) or pa.types.is_date(t)):
            raise InputError(f"entity_df column {TIMESTAMP_COLUMN!r} must hold timestamps, not {t}",
                             column=TIMESTAMP_COLUMN)
        return TIMESTAMP_COLUMN
    found = [f.name for f in schema if pa.types.is_timestamp(f.type)]
    if len(found) == 1:
        return str(found[0])
    if not found:
        raise InputError("entity_df has no timestamp column: add 'event_timestamp'", column=TIMESTAMP_COLUMN)
    raise InputError(f"entity_df has several timestamp columns {found}: name the one to use 'event_timestamp'",
                     column=TIMESTAMP_COLUMN)


def load(data: Any) -> EntityInput:
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise InputError(f"entity_df path {str(path)!r} does not exist", path=str(path))
        try:
            schema = frames.decode_schema(pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema)
        except (pa.ArrowException, OSError) as err:
            raise InputError(f"entity_df path {str(path)!r} is not Parquet: {err}", path=str(path)) from None
        return EntityInput(schema=schema, timestamp_column=timestamp_column(schema), path=path)
    table = to_arrow(data, path_ok=True)
    return EntityInput(schema=table.schema, timestamp_column=timestamp_column(table.schema), table=table)

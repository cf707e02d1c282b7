"""The entity frame of a training-set query: converted to Arrow at the edge, checked, and described."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.errors import InputError

TIMESTAMP_COLUMN = "event_timestamp"


@dataclass(frozen=True)
class EntityInput:
    """Either an in-memory Arrow table or a Parquet path (for frames larger than memory)."""

    schema: pa.Schema
    timestamp_column: str
    table: pa.Table | None = None
    path: Path | None = None


def _from_pandas(df: Any) -> pa.Table:
    import pandas as pd

    df = df.copy(deep=False)
    for col in df.columns:
        if df[col].dtype == object and len(df[col]) and all(
            isinstance(v, pd.Timestamp) or v is None or v is pd.NaT or hasattr(v, "tzinfo")
            for v in df[col].head(100)
        ):
            df[col] = pd.to_datetime(df[col], utc=True, format="mixed")
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as err:
        raise InputError(f"entity_df cannot be converted to Arrow: {err}") from None


def to_arrow(data: Any, what: str = "entity_df", path_ok: bool = False) -> pa.Table:
    """pandas / polars / pyarrow data as a ``pyarrow.Table``."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return _from_pandas(data)
    if module == "polars":
        table: pa.Table = data.to_arrow()
        return table
    if isinstance(data, dict):
        try:
            return pa.table(data)
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise InputError(f"{what} cannot be converted to Arrow: {err}") from None
    raise InputError(
        f"{what} must be a pandas or polars DataFrame, a pyarrow Table"
        f"{', a dict of columns or a Parquet path' if path_ok else ' or a dict of columns'}, got {type(data).__name__}"
    )


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
            schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
        except (pa.ArrowException, OSError) as err:
            raise InputError(f"entity_df path {str(path)!r} is not Parquet: {err}", path=str(path)) from None
        return EntityInput(schema=schema, timestamp_column=timestamp_column(schema), path=path)
    table = to_arrow(data, path_ok=True)
    return EntityInput(schema=table.schema, timestamp_column=timestamp_column(table.schema), table=table)

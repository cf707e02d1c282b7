"""A content hash of an Arrow table: its logical values, not its bytes.

Two tables that are ``equals`` hash the same whatever their chunking, the bytes under their null slots or the
Parquet writer they went through (hashing Arrow IPC bytes is not a content hash: both change them). Per column:
its name and type, then its validity and its values with nulls zeroed (fixed-width types from their buffers;
strings and binaries as lengths then bytes; other types as a canonical JSON text of their Python values), in
row order. Every NaN payload hashes alike; -0.0 and 0.0 hash apart (their bits differ, as DuckDB keeps them).

>>> import pyarrow as pa
>>> a = pa.chunked_array([[1, None], [3]])
>>> b = pa.chunked_array([[1, None, 3]])
>>> table_hash(pa.table({"x": a})) == table_hash(pa.table({"x": b}))
True
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 1 << 20
"""Rows hashed per step (bounds the memory of the zero-filled copies)."""


def _fixed(arr: pa.Array) -> bool:
    t = arr.type
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t)
            or pa.types.is_boolean(t)) and not pa.types.is_interval(t)


def _values(arr: pa.Array, h: Any) -> None:
    """Feed one contiguous array's values (nulls already marked) into ``h``."""
    t = arr.type
    if pa.types.is_dictionary(t):
        _values(arr.dictionary_decode(), h)
        return
    if _fixed(arr):
        if arr.null_count:
            arr = pc.if_else(arr.is_valid(), arr, pa.scalar(False if pa.types.is_boolean(t) else 0).cast(t))
        values = arr.to_numpy(zero_copy_only=False)
        if pa.types.is_floating(t):
            values = np.where(np.isnan(values), np.nan, values)  # one NaN, whatever its payload
        h.update(np.ascontiguousarray(values).view(np.uint8).tobytes() if values.dtype != object else
                 json.dumps(values.tolist(), default=str).encode())
        return
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        filled = arr.fill_null("" if pa.types.is_string(t) or pa.types.is_large_string(t) else b"") \
            if arr.null_count else arr
        lengths = pc.binary_length(filled).to_numpy(zero_copy_only=False).astype(np.int64)
        h.update(lengths.tobytes())
        offsets_type = np.int64 if pa.types.is_large_string(t) or pa.types.is_large_binary(t) else np.int32
        buffers = filled.buffers()
        offsets = np.frombuffer(buffers[1], dtype=offsets_type)[filled.offset: filled.offset + len(filled) + 1]
        if len(offsets) and buffers[2] is not None:
            h.update(memoryview(buffers[2])[int(offsets[0]): int(offsets[-1])])
        return
    h.update(json.dumps(arr.to_pylist(), default=str, sort_keys=True).encode())  # lists, structs, decimals...


def column_hash(column: pa.ChunkedArray | pa.Array, h: Any) -> None:
    """Feed a column's validity and values into ``h``, in row order, chunk boundaries ignored."""
    col = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column], column.type)
    for start in range(0, max(len(col), 1), CHUNK_ROWS):
        piece = col.slice(start, CHUNK_ROWS).combine_chunks() if len(col) else pa.array([], col.type)
        if isinstance(piece, pa.ChunkedArray):  # combine_chunks of a ChunkedArray of nested types
            piece = pa.concat_arrays(piece.chunks) if piece.num_chunks else pa.array([], col.type)
        h.update(np.packbits(piece.is_valid().to_numpy(zero_copy_only=False)).tobytes())
        h.update(len(piece).to_bytes(8, "little"))
        _values(piece, h)


def table_hash(table: pa.Table) -> str:
    """The content hash of ``table`` (hex, blake2b-256): column names, types and values in order."""
    h = hashlib.blake2b(digest_size=32)
    h.update(f"rows={table.num_rows};".encode())
    for name, column in zip(table.column_names, table.columns, strict=True):
        h.update(json.dumps([name, str(column.type)]).encode())
        column_hash(column, h)
    return h.hexdigest()

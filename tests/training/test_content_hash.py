"""The content hash is logical: chunking, bytes under nulls, NaN payloads and DuckDB's thread count do not change
it; any value, null, name, type or order does."""

from __future__ import annotations

import itertools
import random
import struct

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from featurestore.training.content_hash import table_hash


def _table(rng: random.Random, n: int) -> pa.Table:
    return pa.table({
        "i": pa.array([rng.randint(-5, 5) if rng.random() > 0.2 else None for _ in range(n)], pa.int64()),
        "f": pa.array([rng.random() if rng.random() > 0.2 else None for _ in range(n)], pa.float64()),
        "s": pa.array([rng.choice(["a", "bb", "", "ccc"]) if rng.random() > 0.2 else None for _ in range(n)]),
        "b": pa.array([rng.random() > 0.5 if rng.random() > 0.2 else None for _ in range(n)], pa.bool_()),
        "t": pa.array([rng.randint(0, 10**12) if rng.random() > 0.2 else None for _ in range(n)],
                      pa.timestamp("us", "UTC")),
        "l": pa.array([[rng.randint(0, 3)] * rng.randint(0, 2) if rng.random() > 0.2 else None for _ in range(n)],
                      pa.list_(pa.int64())),
    })


def _rechunk(table: pa.Table, rng: random.Random) -> pa.Table:
    cuts = sorted({0, table.num_rows, *(rng.randint(0, table.num_rows) for _ in range(3))})
    return pa.concat_tables([table.slice(a, b - a) for a, b in itertools.pairwise(cuts)])


@pytest.mark.parametrize("seed", range(30))
def test_chunking_does_not_matter_and_every_change_does(seed: int) -> None:
    rng = random.Random(seed)
    t = _table(rng, rng.randint(1, 200))
    assert table_hash(_rechunk(t, rng)) == table_hash(t) == table_hash(t.combine_chunks())
    row, col = rng.randrange(t.num_rows), rng.choice(["i", "f", "s", "b", "t"])
    values = t.column(col).to_pylist()
    values[row] = None if values[row] is not None else values[rng.randrange(t.num_rows)] or {
        "i": 1, "f": 0.5, "s": "z", "b": True, "t": 7}[col]
    if values[row] is None and t.column(col).to_pylist()[row] is None:
        return
    changed = t.set_column(t.schema.get_field_index(col), col, pa.array(values, t.schema.field(col).type))
    assert table_hash(changed) != table_hash(t)
    assert table_hash(t.rename_columns([*t.column_names[:-1], "other"])) != table_hash(t)
    if t.num_rows > 1 and t.slice(0, 1).to_pylist() != t.slice(1, 1).to_pylist():
        order = [1, 0, *range(2, t.num_rows)]
        assert table_hash(t.take(pa.array(order))) != table_hash(t)


def test_bytes_under_nulls_and_nan_payloads_do_not_matter() -> None:
    validity = pa.py_buffer(np.packbits(np.array([1, 0, 1], dtype=bool), bitorder="little").tobytes())
    clean = pa.Array.from_buffers(pa.int64(), 3, [validity, pa.py_buffer(np.array([1, 0, 3], np.int64).tobytes())])
    dirty = pa.Array.from_buffers(pa.int64(), 3, [validity, pa.py_buffer(np.array([1, 99, 3], np.int64).tobytes())])
    assert clean.equals(dirty)
    assert table_hash(pa.table({"x": clean})) == table_hash(pa.table({"x": dirty}))
    quiet = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
    assert table_hash(pa.table({"x": [float("nan")]})) == table_hash(pa.table({"x": [quiet]}))
    int64, int32 = pa.table({"x": pa.array([1], pa.int64())}), pa.table({"x": pa.array([1], pa.int32())})
    assert table_hash(int64) != table_hash(int32)
    assert table_hash(pa.table({"x": [-0.0]})) != table_hash(pa.table({"x": [0.0]}))
    encoded = pa.table({"x": pa.chunked_array([pa.array(["a", "b"]).dictionary_encode(),
                                               pa.array(["b"]).dictionary_encode()])})
    again = pa.table({"x": pa.array(["a", "b", "b"]).dictionary_encode()})
    assert table_hash(encoded) == table_hash(again)  # per-chunk dictionaries decode alike
    assert table_hash(again) != table_hash(pa.table({"x": ["a", "b", "b"]}))  # the type is part of the content


def test_duckdb_one_and_two_threads_hash_alike() -> None:
    rng = np.random.default_rng(3)
    data = pa.table({"k": rng.integers(0, 1000, 300_000), "v": rng.random(300_000)})
    found = []
    for threads in (1, 2):
        con = duckdb.connect(config={"threads": threads})
        con.register("data", data)
        found.append(table_hash(con.sql("SELECT k, v, k * 2 AS w FROM data ORDER BY k, v").to_arrow_table()))
        con.close()
    assert found[0] == found[1]

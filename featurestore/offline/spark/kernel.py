"""The per-bucket kernel: DuckDB (one thread, in memory) runs the DuckDB engine's own SQL on one bucket's rows.

Spark hands each bucket's rows over as Arrow tables whose types went through Spark (nanosecond times as integers,
unsigned integers widened, ...); :func:`conform` casts them back to the types DuckDB reads from the files, so the
SQL sees exactly what the DuckDB engine sees and gives the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from featurestore.config import SparkOfflineConfig
from featurestore.offline.duckdb.pit import Setup


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table``'s columns named in ``schema``, cast to its types (extra columns such as the bucket dropped)."""
    columns = []
    for f in schema:
        column = table.column(f.name)
        if column.type != f.type:
            column = column.cast(f.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def spark_safe(table: pa.Table) -> pa.Table:
    """``table`` with the types Spark cannot take from Arrow replaced (unsigned integers by int64, large and
    dictionary strings by plain ones); :func:`conform` restores them on the other side."""
    columns, changed = [], False
    for f, column in zip(table.schema, table.columns, strict=True):
        t = f.type
        if pa.types.is_unsigned_integer(t):
            column, changed = column.cast(pa.int64() if t.bit_width < 64 else pa.decimal128(20, 0)), True
        elif pa.types.is_dictionary(t):
            column, changed = column.cast(t.value_type), True
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names) if changed else table


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


@dataclass(frozen=True)
class Kernel:
    """SQL over named Arrow inputs, run by a private in-memory DuckDB: ``setup`` first, then ``sql``."""

    inputs: tuple[tuple[str, pa.Schema], ...]
    sql: str
    setup: tuple[Setup, ...] = ()
    settings: tuple[tuple[str, str], ...] = field(default=())

    def run(self, *tables: pa.Table) -> pa.Table:
        """The result for one bucket (``tables`` in the order of ``inputs``)."""
        con = duckdb.connect(config={"threads": 1, **dict(self.settings)})
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            for (name, schema), table in zip(self.inputs, tables, strict=True):
                con.register(name, conform(table, schema))
            for statement in self.setup:
                if isinstance(statement, str):
                    con.execute(statement)
                else:
                    statement(con)
            return con.sql(self.sql).to_arrow_table()
        finally:
            con.close()

    def output_schema(self) -> pa.Schema:
        """The exact Arrow schema of the result (the kernel run on no rows, on the driver)."""
        return self.run(*(empty(schema) for _, schema in self.inputs)).schema

    def column_types(self, name: str) -> dict[str, str]:
        """Column name -> DuckDB type of the input ``name`` as the kernel registers it."""
        schema = dict(self.inputs)[name]
        con = duckdb.connect()
        try:
            con.register("__fs_t", empty(schema))
            return {row[0]: row[1] for row in con.sql("DESCRIBE __fs_t").fetchall()}
        finally:
            con.close()


def kernel_settings(config: SparkOfflineConfig) -> tuple[tuple[str, str], ...]:
    """The DuckDB settings of each bucket's kernel (memory limit, spill folder)."""
    out = []
    if config.memory_limit:
        out.append(("memory_limit", config.memory_limit))
    if config.temp_directory:
        out.append(("temp_directory", config.temp_directory))
    return tuple(out)


def input_types(inputs: tuple[tuple[str, pa.Schema], ...], name: str) -> dict[str, str]:
    """Column name -> DuckDB type of the input ``name`` (see :meth:`Kernel.column_types`)."""
    return Kernel(inputs, "SELECT 1").column_types(name)


def cogroup_function(kernel: Kernel, result: pa.Schema) -> Callable[[pa.Table, pa.Table], pa.Table]:
    """The function Spark runs per bucket of a cogroup (entity rows, source rows): the kernel's result cast to
    ``result`` (the Arrow form of the Spark schema declared for it)."""

    def run(left: pa.Table, right: pa.Table) -> pa.Table:
        return conform(kernel.run(left, right), result)

    return run


BLOB_SCHEMA = "__fs_v int, __fs_ipc binary"
"""A bucket's result as one Arrow IPC stream (``__fs_v``: the view's index): what ``to_arrow`` collects, so the
driver gets the kernel's exact Arrow types without a round trip through Spark's."""


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def cogroup_blob_function(kernel: Kernel, index: int) -> Callable[[pa.Table, pa.Table], pa.Table]:
    """The function Spark runs per bucket of a cogroup, giving the kernel's result as one IPC blob."""

    def run(left: pa.Table, right: pa.Table) -> pa.Table:
        return pa.table({"__fs_v": pa.array([index], pa.int32()), "__fs_ipc": [to_ipc(kernel.run(left, right))]})

    return run


def group_function(kernel: Kernel, result: pa.Schema) -> Callable[[pa.Table], pa.Table]:
    """As :func:`cogroup_function`, for a kernel of one input (source rows only)."""

    def run(table: pa.Table) -> pa.Table:
        return conform(kernel.run(table), result)

    return run


def partition_writes(writer: Callable[[Iterator[pa.RecordBatch]], Iterator[tuple[int, int]]],
                     schema: pa.Schema) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function of materialize's writes: each partition's batches cast to ``schema`` (the exact
    types of ``latest_rows``) and handed to ``writer``; yields its ``(rows, written)`` counts."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        exact = (batch for table in (pa.Table.from_batches([b]) for b in batches)
                 for batch in conform(table, schema).to_batches())
        for rows, written in writer(exact):
            yield pa.RecordBatch.from_pydict({"rows": [rows], "written": [written]},
                                             schema=pa.schema([("rows", pa.int64()), ("written", pa.int64())]))

    return run

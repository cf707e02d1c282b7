"""Running a view's Polars batch transform: on an empty frame (apply), lazily (the offline engine), on a batch (push).

The transform sees the source rows under their source column names plus :data:`ORDINAL`, each row's
place in the tie-break ("the row read last": pushed rows after batch rows, later files after earlier
ones, later rows after earlier ones); it must keep that column, so rows it filters, reorders or changes
keep their rank. Polars is imported here only, when a transform runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import batch_of
from featurestore.errors import CodeMismatchError, DataSourceError, DefinitionError, FeatureStoreError

if TYPE_CHECKING:
    import polars as pl

ORDINAL = "__fs_ordinal"
"""The column carrying each source row's tie-break rank through a transform (an Int64)."""


def live_function(view: FeatureView) -> Any:
    """The view's transform function; CodeMismatchError when only its registered code is known."""
    if view.transform is None:
        raise CodeMismatchError(
            f"feature view {view.name!r} has a Polars transform, but its code was not loaded (the registry holds "
            "its text, not the function): read it through FeatureStore, which imports the repo's definitions",
            view=view.name, applied=view.transform_fingerprint)
    return view.transform


def _error(view: FeatureView, message: str, at_apply: bool) -> FeatureStoreError:
    """A DefinitionError at apply, a DataSourceError when the view is read; both name the view."""
    if at_apply:
        return DefinitionError(message, name=view.name, view=view.name)
    return DataSourceError(message, view=view.name, source=batch_of(view.source).describe())


def failed(view: FeatureView, err: BaseException, at_apply: bool = False) -> FeatureStoreError:
    """An exception raised by (or inside Polars for) a view's transform, as an error naming the view."""
    text = str(err).strip().split("\n")[0]
    return _error(view, f"feature view {view.name!r}: its transform failed: {type(err).__name__}: {text}", at_apply)


def run_lazy(view: FeatureView, frame: pl.LazyFrame, at_apply: bool = False) -> pl.LazyFrame:
    """The transform applied to ``frame`` (nothing is computed); errors name the view."""
    import polars as pl

    fn = live_function(view)
    try:
        out = fn(frame)
    except Exception as err:  # user code: any exception
        raise failed(view, err, at_apply) from None
    if not isinstance(out, pl.LazyFrame):
        raise _error(view, f"feature view {view.name!r}: its transform returned a {type(out).__name__}, not a "
                     "polars LazyFrame", at_apply)
    return out


def checked(view: FeatureView, frame: pl.LazyFrame, at_apply: bool = False) -> tuple[pl.LazyFrame, pl.Schema]:
    """The transform applied to ``frame`` and its output schema (no data read); errors name the view, and a
    dropped :data:`ORDINAL` column."""
    out = run_lazy(view, frame, at_apply)
    try:
        schema = out.collect_schema()
    except Exception as err:  # polars' planning errors: a missing column, a wrong type
        raise failed(view, err, at_apply) from None
    kept = schema.get(ORDINAL)
    if kept is None or not kept.is_integer():
        why = "drops" if kept is None else f"changes the type ({kept}) of"
        raise _error(view, f"feature view {view.name!r}: its transform {why} column {ORDINAL!r}, the rows' "
                     f"tie-break order; keep it (pl.col({ORDINAL!r}) in a select, or add columns with with_columns)",
                     at_apply)
    return out, schema


def arrow_schema(schema: pl.Schema) -> pa.Schema:
    """A Polars schema as the Arrow types its values are written to Parquet with (dictionaries as their values)."""
    import polars as pl

    arrow = pl.DataFrame(schema=schema).to_arrow(compat_level=pl.CompatLevel.oldest()).schema
    return pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                      for f in arrow])


def applied_schema(view: FeatureView, source: pa.Schema) -> pa.Schema:
    """apply's check: the Arrow schema of the transform's output over an empty frame of ``source``'s schema
    (without :data:`ORDINAL`). DefinitionError naming the view when the transform fails on it."""
    import polars as pl

    if view.transform is None:
        raise DefinitionError(f"feature view {view.name!r} has a registered transform but not its function: apply "
                              "the view as defined in Python", name=view.name, view=view.name)
    empty = pa.table({**{f.name: pa.array([], f.type) for f in source}, ORDINAL: pa.array([], pa.int64())})
    try:
        frame = pl.from_arrow(empty)
    except Exception as err:
        raise DefinitionError(f"feature view {view.name!r}: its source's columns cannot be read by polars: {err}",
                              name=view.name, view=view.name) from None
    assert isinstance(frame, pl.DataFrame)
    _, schema = checked(view, frame.lazy(), at_apply=True)
    out = arrow_schema(schema)
    return out.remove(out.get_field_index(ORDINAL))


def transform_table(view: FeatureView, table: pa.Table) -> pa.Table:
    """The transform run on one batch of source-shaped rows (a push), rows kept in their order."""
    import polars as pl

    frame = pl.from_arrow(table.append_column(ORDINAL, pa.array(range(table.num_rows), pa.int64())))
    assert isinstance(frame, pl.DataFrame)
    out, _ = checked(view, frame.lazy())
    try:
        result = out.sort(ORDINAL).collect()
    except Exception as err:
        raise failed(view, err) from None
    return result.drop(ORDINAL).to_arrow(compat_level=pl.CompatLevel.oldest())


__all__ = ["ORDINAL", "applied_schema", "arrow_schema", "checked", "failed", "live_function", "run_lazy",
           "transform_table"]

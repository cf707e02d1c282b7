"""The DuckDB engine's offline feature tables: writing a run (``materialize-offline``) and reading views from
their tables in training sets (see feature_tables.py). A mixin of :class:`DuckDBOfflineStore`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow.parquet as pq

from featurestore.definitions.aggregate_view import SourcedView
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import BatchSource, PushSource
from featurestore.errors import FeatureStoreError, InputError
from featurestore.offline.duckdb import feature_tables
from featurestore.offline.duckdb.relations import SourceContext, source_files
from featurestore.utc import epoch_us


class FeatureTableMethods:
    """Feature tables in the DuckDB engine."""

    if TYPE_CHECKING:
        ctx: SourceContext
        feature_tables: Path | None
        train_from_tables: bool

        def context(self, views: Sequence[SourcedView]) -> SourceContext: ...

        def column_types(self, views: Sequence[SourcedView], ctx: SourceContext | None = None
                         ) -> list[dict[str, str]]: ...

        def connect(self, sources: list[BatchSource | PushSource] | None = None,
                    views: Sequence[SourcedView | None] | None = None) -> duckdb.DuckDBPyConnection: ...

        def _errors(self, err: Exception, sources: list[BatchSource | PushSource],
                    views: Sequence[SourcedView | None]) -> FeatureStoreError: ...

    def training_context(self, views: Sequence[SourcedView], as_of: datetime | None) -> SourceContext:
        """The source context of a training set over ``views``: views with a feature table for their definition
        read from it (when configured; their transforms are not run), the others as :meth:`context` gives them,
        and only the rows known at ``as_of`` (aware UTC; None: every row)."""
        tables = feature_tables.training_tables(self.feature_tables, views) if self.train_from_tables else ()
        from_tables = {name for name, _ in tables}
        ctx = self.context([v for v in views if v.name not in from_tables])
        if tables:
            ctx = replace(ctx, tables=tables)
        return ctx if as_of is None else replace(ctx, as_of_us=epoch_us(as_of))

    def view_files(self, view: SourcedView, tables: bool = True) -> list[str]:
        """The files a training set reads for ``view`` now (see the protocol)."""
        if tables and self.train_from_tables and self.feature_tables is not None and isinstance(view, FeatureView):
            table = feature_tables.table_files(self.feature_tables, view)
            if table:
                return table
        return source_files(view.source, self.ctx)

    def write_feature_table(self, view: FeatureView, start: datetime | None, end: datetime,
                            materialized_at: datetime) -> int:
        """Append ``view``'s rows with event time in ``[start, end]`` (after its transform) to its feature table as
        one new file stamped ``materialized_at``; the rows written (no file when none)."""
        if self.feature_tables is None:
            raise InputError("this offline store has no feature tables folder (feature_tables.path)")
        ctx = self.context([view])
        types = self.column_types([view], ctx)[0]
        sql = feature_tables.rows_sql(view, ctx, types, epoch_us(start) if start is not None else None,
                                      epoch_us(end), epoch_us(materialized_at))
        tmp, final = feature_tables.new_file(self.feature_tables, view, epoch_us(materialized_at))
        con = self.connect([view.source], [view])
        try:
            con.sql(sql).write_parquet(str(tmp), compression="snappy")
            rows = pq.ParquetFile(tmp).metadata.num_rows
        except duckdb.Error as err:
            tmp.unlink(missing_ok=True)
            raise self._errors(err, [view.source], [view]) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            con.close()
        if rows == 0:
            tmp.unlink()
            return 0
        feature_tables.publish(tmp, final)
        return int(rows)

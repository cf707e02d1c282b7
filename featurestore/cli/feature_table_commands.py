"""Offline feature-table commands: ``materialize-offline`` and ``materialize-offline-incremental``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from featurestore.cli._group import get_store, main, repo_option, table
from featurestore.cli.materialize_commands import DATETIME, split_names, views_option


def _summary(marks: dict[str, dict[str, Any]], results: Any) -> None:
    if not results:
        click.echo("No feature views to materialize offline; run 'featurestore apply'.")
        return
    rows = [[r.view, r.start.isoformat() if r.start else "(all)", r.end.isoformat(),
             "-" if r.notice else r.rows, "-" if r.notice else f"{r.seconds:.2f}",
             marks.get(r.view, {}).get("watermark", "-")] for r in results]
    click.echo(table(["VIEW", "START", "END", "ROWS", "SECONDS", "WATERMARK"], rows))
    for r in results:
        if r.notice:
            click.echo(f"Note: {r.notice}.")


@main.command(name="materialize-offline", short_help="Append a time range of rows to offline feature tables.")
@repo_option
@click.argument("start", type=DATETIME)
@click.argument("end", type=DATETIME)
@views_option
@click.pass_context
def materialize_offline(ctx: click.Context, start: datetime, end: datetime, views: tuple[str, ...]) -> None:
    """Append each feature view's rows with event time in [START, END] (after its batch transform) to its
    offline feature table, stamped with the time of the run. Training sets then read the view from its table
    (feature_tables.use_for_training). A range appended again adds newer versions of its rows.

    \b
    featurestore materialize-offline 2026-01-01 now --views driver_stats
    """
    if end < start:
        raise click.UsageError(f"END ({end.isoformat()}) is before START ({start.isoformat()})", ctx)
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    results = store.materialize_offline(start, end, split_names(views) or None)
    _summary(store.feature_table_watermarks(), results)


@main.command(name="materialize-offline-incremental",
              short_help="Append what is new since the last offline run, up to END.")
@repo_option
@click.argument("end", type=DATETIME)
@views_option
@click.pass_context
def materialize_offline_incremental(ctx: click.Context, end: datetime, views: tuple[str, ...]) -> None:
    """Append each feature view's rows from its offline watermark (a first run: every row) up to END.

    \b
    featurestore materialize-offline-incremental now
    """
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    results = store.materialize_offline_incremental(end, split_names(views) or None)
    _summary(store.feature_table_watermarks(), results)

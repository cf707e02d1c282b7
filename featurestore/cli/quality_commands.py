"""Data-quality commands: ``validate`` (a dry run of a view's expectations; exit code 2 when it would not pass)."""

from __future__ import annotations

from datetime import datetime

import click

from featurestore.cli._group import echo_json, get_store, main, repo_option
from featurestore.cli.materialize_commands import DATETIME

FAILED = 2
"""Exit code when the check fails (as for click's usage errors: CI and cron treat any non-zero as failure)."""


@main.command(short_help="Check a view's expectations over a time range of its source (dry run).")
@repo_option
@click.argument("view")
@click.option("--start", type=DATETIME, default=None, help="From this event time (ISO 8601). Default: the first row.")
@click.option("--end", type=DATETIME, default=None, help="Up to this event time (ISO 8601 or 'now'). Default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def validate(ctx: click.Context, view: str, start: datetime | None, end: datetime | None, as_json: bool) -> None:
    """Evaluate the expectations of feature view VIEW over its source rows with event
    time in [--start, --end]: exactly what materialize would check. Nothing is written
    or recorded.

    Prints the report (one line per expectation: bad rows, examples, observed values).
    Exit code 0 when the range passes, 2 when materialize would not pass it
    (outcome rejected, quarantined or warned).

    \b
    featurestore validate driver_stats --start 2026-01-01 --end now
    featurestore validate driver_stats --json
    """
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    report = store.validate(view, start, end)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(str(report))
    if not report.ok:
        ctx.exit(FAILED)

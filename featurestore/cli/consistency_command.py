"""``featurestore consistency SERVICE``: replay a service's logged lookups through the training-set path."""

from __future__ import annotations

from datetime import datetime

import click

from featurestore.cli._group import echo_json, get_store, main, repo_option
from featurestore.cli.materialize_commands import DATETIME


@main.command(short_help="Compare a service's served values with the training set's (exit 2: unexplained).")
@repo_option
@click.argument("service")
@click.option("--start", type=DATETIME, default=None, metavar="TIME", help="Lookups logged at or after TIME.")
@click.option("--end", type=DATETIME, default=None, metavar="TIME", help="Lookups logged at or before TIME.")
@click.option("--record", is_flag=True, help="Keep the counts in the state store (exported in /metrics).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.pass_context
def consistency(ctx: click.Context, service: str, start: datetime | None, end: datetime | None, record: bool,
                as_json: bool) -> None:
    """Replay the lookups SERVICE logged (feature logging) through get_historical_features with
    as_of_created=True and compare every served value with the training set's.

    Mismatches are explained as lag (not materialized yet when served), ttl, or unexplained; the exit code is 2
    when any is unexplained. TIME: ISO-8601 (naive = UTC) or 'now'.

    \b
    featurestore consistency driver_activity
    featurestore consistency driver_activity --start 2026-11-01 --end now --json
    """
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    report = store.check_consistency(service, start, end, record=record)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.to_text())
    if not report.ok:
        ctx.exit(2)

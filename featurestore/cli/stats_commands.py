"""Statistics and drift commands: ``profile`` (never fails) and ``drift`` (exit code 2 on an alert)."""

from __future__ import annotations

from pathlib import Path

import click

from featurestore.cli._group import echo_json, get_store, main, repo_option
from featurestore.monitoring.samples import Served


@main.command(short_help="Statistics per feature of a view, a service's served values, or a Parquet file.")
@repo_option
@click.argument("what")
@click.option("--start", default=None, metavar="TIME", help="Start of the range (ISO-8601; UTC when naive).")
@click.option("--end", default=None, metavar="TIME", help="End of the range (ISO-8601; UTC when naive).")
@click.option("--served", is_flag=True, help="WHAT is a feature service: its logged served values (log time).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def profile(ctx: click.Context, what: str, start: str | None, end: str | None, served: bool, as_json: bool) -> None:
    """Statistics per feature: count, nulls, min, max, mean, std, quantiles, histogram; distinct count and top
    values of strings and bools. WHAT is a feature view (its source rows with event time in [--start, --end]),
    a feature service with --served, or a Parquet file (a training set).

    \b
    featurestore profile driver_stats --start 2026-10-01 --end 2026-10-31
    featurestore profile driver_activity --served --json
    featurestore profile training.parquet
    """
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    result = store.profile(what, start, end, served=served)  # a path that is no registered name: a training set
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(result.to_text())


@main.command(short_help="Drift per feature (PSI, KS, JS) between a reference and a current sample.")
@repo_option
@click.argument("what")
@click.option("--reference", nargs=2, required=True, metavar="START END",
              help="The reference: the source rows with event time in [START, END] ('-' for open).")
@click.option("--current", "current", type=click.Choice(["served"]), default=None,
              help="The current sample: the service's logged served values (the default without --current-range).")
@click.option("--current-range", nargs=2, default=None, metavar="START END",
              help="The current sample: the source rows with event time in [START, END] ('-' for open).")
@click.option("--served-range", nargs=2, default=None, metavar="START END",
              help="Only the served values logged in [START, END] ('-' for open).")
@click.option("--min-rows", type=int, default=1000, show_default=True,
              help="No verdict below this many values on either side.")
@click.option("--warn", type=float, default=0.1, show_default=True, help="PSI warning threshold.")
@click.option("--alert", type=float, default=0.25, show_default=True, help="PSI alert threshold.")
@click.option("--record", is_flag=True, help="Write the drift records (exported as /metrics gauges).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report as a self-contained HTML page to this file.")
@click.pass_context
def drift(ctx: click.Context, what: str, reference: tuple[str, str], current: str | None,
          current_range: tuple[str, str] | None, served_range: tuple[str, str] | None, min_rows: int, warn: float,
          alert: float, record: bool, as_json: bool, html: Path | None) -> None:
    """Drift of each feature of a view or service: PSI (status: warn >= 0.1, alert >= 0.25), binned KS and
    JS distance. Exit code 2 when a feature alerts, 0 otherwise (no verdict below --min-rows values is 0).

    \b
    featurestore drift driver_activity --reference 2026-10-01 2026-10-31 --current served
    featurestore drift driver_stats --reference 2026-10-01 2026-10-31 --current-range 2026-11-01 2026-11-30
    """
    if current is not None and current_range is not None:
        raise click.UsageError("give --current served or --current-range, not both")
    if as_json and html is not None:
        raise click.UsageError("give --json or --html, not both")

    def bound(text: str) -> str | None:
        return None if text in ("-", "") else text

    store = get_store(ctx)
    ctx.call_on_close(store.close)
    cur: object
    if current_range is not None:
        cur = (bound(current_range[0]), bound(current_range[1]))
    else:
        cur = Served(*(bound(t) for t in served_range)) if served_range else Served()
    report = store.drift(what, (bound(reference[0]), bound(reference[1])), cur, min_rows=min_rows, warn=warn,
                         alert=alert, record=record)
    if html is not None:
        html.write_text(report.to_html(), encoding="utf-8")
        click.echo(f"drift of {what}: {report.status}; report written to {html}")
    elif as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.to_text())
    if report.status == "insufficient_data":
        click.echo(f"no verdict: fewer than {min_rows:,} values on a side for every feature", err=True)
    if report.status == "alert":
        ctx.exit(2)

"""``featurestore monitor``: run the ``monitoring:`` checks of featurestore.yaml on a schedule (or once, for cron)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from featurestore.cli._group import get_store, main, repo_option
from featurestore.monitoring.monitor import TickResult, run, tick


def _report(result: TickResult) -> None:
    beat = result.heartbeat
    click.echo(f"{result.at.isoformat()} tick {beat.get('runs', '?')}: {len(result.alerts)} drift alert(s), "
               f"{sum(result.unexplained.values())} unexplained mismatch(es), {len(result.errors)} error(s)")
    for alert in result.alerts:
        click.echo(f"  drift alert: {alert}")
    for name, count in sorted(result.unexplained.items()):
        if count:
            click.echo(f"  unexplained mismatches: {name}: {count}")
    for error in result.errors:
        click.echo(f"  error: {error}", err=True)


@main.command()
@repo_option
@click.option("--once", is_flag=True, help="Run one tick and exit: 2 when a drift alert or an unexplained "
              "mismatch was found, 1 when a check failed, else 0 (for cron).")
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds between ticks (default: monitoring.interval_seconds, 300).")
@click.pass_context
def monitor(ctx: click.Context, once: bool, interval: float | None) -> None:
    """Run the drift and consistency checks of featurestore.yaml's `monitoring:` section every interval, record
    the results for /metrics and write the monitor heartbeat (featurestore_monitor_last_run_timestamp_seconds)."""
    store = get_store(ctx)
    config = store.config.monitoring
    if once:
        result = tick(store, config)
        _report(result)
        ctx.exit(2 if result.failed else 1 if result.errors else 0)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    every = interval if interval is not None else config.interval_seconds
    click.echo(f"monitoring project {store.project!r} every {every:g} s: {len(config.drift)} drift check(s), "
               f"{len(config.consistency)} consistency check(s)")
    run(store, config, stop, _report, interval)

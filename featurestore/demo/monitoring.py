"""The demo's data-quality and monitoring step: a bad push rejected by ``driver_stats``' expectations, a dry-run
validation, a drift report between two periods of the source, and the consistency of the lookups just logged."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import Any

import pyarrow as pa

from featurestore.errors import ExpectationError
from featurestore.store import FeatureStore

VIEW = "driver_stats"
SERVICE = "driver_activity"
DRIVER = 1001
WIDTH = 100


def _hours(value: timedelta | None) -> str:
    return "-" if value is None else f"{value.total_seconds() / 3600:.1f} h"


def _conv_rate(store: FeatureStore) -> Any:
    return store.get_online_features([f"{VIEW}:conv_rate"], [{"driver_id": DRIVER}]).to_dict()["conv_rate"][0]


def bad_push(store: FeatureStore) -> str:
    """Push one row with ``conv_rate`` 1.5 (the view expects 0 to 1): refused, nothing written."""
    before = _conv_rate(store)
    now = store.clock()
    row = pa.table({"driver_id": pa.array([DRIVER], pa.int64()),
                    "event_timestamp": pa.array([now], pa.timestamp("us", tz="UTC")),
                    "created": pa.array([now], pa.timestamp("us", tz="UTC")),
                    "conv_rate": pa.array([1.5], pa.float32()), "acc_rate": pa.array([0.9], pa.float32()),
                    "avg_daily_trips": pa.array([12], pa.int64())})
    print(f'store.push("driver_stats_push", a row of driver {DRIVER} with conv_rate 1.5, to="online_and_offline"):')
    try:
        store.push("driver_stats_push", row, to="online_and_offline")
    except ExpectationError as err:
        message = err.message
        print(textwrap.fill(f"ExpectationError: {message}", WIDTH, initial_indent="  ", subsequent_indent="    ",
                            break_on_hyphens=False))
    else:  # the example repo's expectations refuse it: reaching here is a bug the demo test catches
        raise AssertionError("the bad push was accepted")
    print(f"  conv_rate of driver {DRIVER} online: {before:.4g} before, {_conv_rate(store):.4g} after (unchanged)")
    return message


def monitoring(store: FeatureStore) -> dict[str, Any]:
    """Step: expectations at the door, a dry-run validation, a drift report, consistency of the logged lookups."""
    message = bad_push(store)
    print(f"\nstore.validate({VIEW!r}) (a dry run over the whole source):")
    print("  " + str(store.validate(VIEW)).replace("\n", "\n  "))
    fresh = store.freshness()[VIEW]
    when = f"{fresh.data_timestamp:%Y-%m-%d %H:%M:%S} UTC" if fresh.data_timestamp else "never"
    print(f"\nstore.freshness()[{VIEW!r}]: newest event time written online {when},\n"
          f"  age {_hours(fresh.age)}, max_staleness {_hours(fresh.max_staleness)}: "
          f"{'STALE' if fresh.stale else 'fresh'}")
    end = store.clock().replace(hour=0, minute=0, second=0, microsecond=0)
    reference, current = (end - timedelta(days=7), end - timedelta(days=3)), (end - timedelta(days=3), end)
    report = store.drift(VIEW, reference=reference, current=current)
    print(f"\nstore.drift({VIEW!r}, reference=days 1-4, current=days 5-7):")
    print("  " + report.to_text().replace("\n", "\n  "))
    html = store.data_dir / f"drift-{VIEW}.html"
    html.write_text(report.to_html())
    print(f"  the same as a self-contained HTML page: {html}")
    store.get_online_features(store.get_feature_service(SERVICE), [{"driver_id": d} for d in (1001, 1002, 1003)])
    store.flush_feature_logs()
    consistency = store.check_consistency(SERVICE)
    print(f"\nstore.check_consistency({SERVICE!r}) (its lookups are logged, then replayed offline):")
    print("  " + str(consistency).replace("\n", "\n  "))
    return {"rejected": message, "drift": report.status, "unexplained": consistency.unexplained}

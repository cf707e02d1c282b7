"""GET /monitoring/freshness and the served-age histogram on the real session server."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from featurestore import FeatureStore
from featurestore.utc import epoch_us
from tests.server.test_ops_http import sample


def test_freshness_endpoint_matches_the_library(client: httpx.Client, store: FeatureStore) -> None:
    r = client.get("/monitoring/freshness")
    assert r.status_code == 200, r.text
    body = r.json()
    views = {v["view"]: v for v in body["views"]}
    local = store.freshness()
    assert set(views) == set(local)
    for name, f in local.items():
        assert views[name]["data_timestamp_us"] == f.data_timestamp_us
        assert views[name]["max_staleness_seconds"] == (f.max_staleness.total_seconds() if f.max_staleness else None)
    stats = views["driver_stats"]
    assert stats["max_staleness_seconds"] == 7200.0 and stats["data_timestamp_us"] is not None
    assert set(body["stale"]) == {n for n, v in views.items() if v["stale"]}
    text = client.get("/metrics").text
    assert sample(text, "featurestore_feature_view_data_timestamp_seconds", view="driver_stats") == \
        stats["data_timestamp_us"] / 1e6


def test_served_age_is_observed_once_per_request_and_view(client: httpx.Client) -> None:
    name = "featurestore_online_served_age_seconds"
    before = client.get("/metrics").text
    body = {"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1001, 1002, 424242]}}
    start = datetime.now(UTC)
    answer = client.post("/get-online-features", json=body).json()
    end = datetime.now(UTC)
    after = client.get("/metrics").text
    count = f"{name}_count"
    assert sample(after, count, view="driver_stats") - sample(before, count, view="driver_stats") == 1
    times = [datetime.fromisoformat(t) for t, s in zip(answer["results"][1]["event_timestamps"],
                                                        answer["results"][1]["statuses"], strict=True)
             if s == "PRESENT"]
    oldest = min(epoch_us(t) for t in times)
    added = sample(after, f"{name}_sum", view="driver_stats") - sample(before, f"{name}_sum", view="driver_stats")
    assert (epoch_us(start) - oldest) / 1e6 - 1e-3 <= added <= (epoch_us(end) - oldest) / 1e6 + 1e-3

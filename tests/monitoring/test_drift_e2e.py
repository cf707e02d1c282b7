"""Drift end to end: a seeded 1σ mean shift alerts (API, CLI exit code 2, recorded state); a clean 10k-row sample
does not even warn; a 100-row sample gives no verdict; served values from a feature log; training sets;
the HTML report is self-contained."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from featurestore import FeatureStore, InputError, Served
from featurestore.cli import main
from featurestore.monitoring.stats import DRIFT, records

from ..cli_helpers import ok
from .stats_repo import CUR_END, CUR_START, REF_END, REF_START, make_repo, rows, write_log

REF = (REF_START, REF_END)
CUR = (CUR_START, CUR_END)


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    """Reference month N(0, 1), current month N(1, 1) (20k rows each), plus a clean served log."""
    root = tmp_path_factory.mktemp("shifted")
    store = make_repo(root, rows(20_000, REF_START, 1), rows(20_000, CUR_START, 2, shift=1.0))
    write_log(store, rows(10_000, CUR_START, 3), CUR_START)
    return store


def test_one_sigma_shift_alerts_and_is_recorded(shifted: FeatureStore) -> None:
    report = shifted.drift("rider_stats", REF, CUR, record=True)
    assert report.status == "alert"
    score = report.features["score"]
    assert score.status == "alert" and score.psi is not None and score.psi > 0.25
    assert score.ks is not None and 0.3 < score.ks < 0.5  # exact D of N(0,1) vs N(1,1) is 0.383
    assert {f: report.features[f].status for f in ("trips", "city", "vip")} == dict.fromkeys(
        ("trips", "city", "vip"), "ok")
    saved = records(shifted.state_store)["rider_stats"]
    assert set(saved) == {"score", "trips", "city", "vip"}
    assert saved["score"]["status"] == "alert" and saved["score"]["psi"] == pytest.approx(score.psi)
    assert saved["score"]["rows_reference"] == 20_000 and saved["score"]["rows_current"] == 20_000
    assert {"psi", "ks", "js", "status", "rows_reference", "rows_current", "checked_at"} == set(saved["score"])
    assert shifted.state_store.get(DRIFT, "rider_stats", "city")["status"] == "ok"


def test_cli_exit_codes(shifted: FeatureStore) -> None:
    runner = CliRunner()
    repo = str(shifted.repo_path)
    shifted.state_store.delete(DRIFT)
    shifted_run = runner.invoke(main, ["--repo", repo, "drift", "rider_stats", "--reference", REF_START.isoformat(),
                                       REF_END.isoformat(), "--current-range", CUR_START.isoformat(), "-", "--record"])
    assert shifted_run.exit_code == 2, shifted_run.output
    assert re.search(r"score\s+alert", shifted_run.stdout)
    assert records(shifted.state_store)["rider_stats"]["score"]["status"] == "alert"
    served = runner.invoke(main, ["--repo", repo, "drift", "ranking", "--reference", "2026-10-01", "2026-10-31T23:59",
                                  "--current", "served", "--json"])
    data = json.loads(ok(served))
    assert data["status"] == "ok" and set(data["features"]) == {f"rider_stats__{f}" for f in
                                                                 ("score", "trips", "city", "vip")}
    few = runner.invoke(main, ["--repo", repo, "drift", "rider_stats", "--reference", "2026-10-01", "2026-10-31",
                               "--current-range", "2026-11-01", "2026-11-30", "--min-rows", "100000"])
    assert few.exit_code == 0 and "insufficient_data" in few.stdout and "no verdict" in few.stderr
    profile = runner.invoke(main, ["--repo", repo, "profile", "rider_stats", "--start", "2026-10-01", "--json"])
    assert json.loads(ok(profile))["features"]["score"]["count"] == 40_000


def test_clean_sample_does_not_warn(tmp_path: Path) -> None:
    store = make_repo(tmp_path, rows(100_000, REF_START, 21), rows(10_000, CUR_START, 22))
    with store:
        report = store.drift("rider_stats", REF, CUR)
        assert report.status == "ok", report.to_text()
        assert all(f.psi is not None and f.psi < 0.1 for f in report.features.values())


def test_small_sample_gives_no_verdict(tmp_path: Path) -> None:
    store = make_repo(tmp_path, rows(20_000, REF_START, 31), rows(100, CUR_START, 32, shift=1.0))
    with store:
        report = store.drift("rider_stats", REF, CUR)
        assert report.status == "insufficient_data"
        assert all(f.status == "insufficient_data" and f.psi is not None for f in report.features.values())
        assert "insufficient data" in report.to_text()
        assert store.drift("rider_stats", REF, CUR, min_rows=50).status == "alert"  # the same data, a lower bar


def test_served_values_and_ranges(shifted: FeatureStore, tmp_path: Path) -> None:
    later = CUR_START.replace(day=20)
    write_log(shifted, rows(5_000, CUR_START, 4, shift=1.0), later)  # a drifted day, logged later
    try:
        everything = shifted.drift("ranking", REF, "served")
        before = shifted.drift("ranking", REF, Served(None, CUR_START.replace(day=19)))
        after = shifted.drift("ranking", REF, Served(start=later))
        assert before.status == "ok" and after.status == "alert"
        assert before.features["rider_stats__score"].rows_current == 10_000
        assert after.features["rider_stats__score"].rows_current == 5_000
        assert everything.features["rider_stats__score"].rows_current == 15_000
        # served values as the reference, the source as current
        assert shifted.drift("ranking", Served(start=later), CUR).features["rider_stats__score"].status == "ok"
    finally:
        for f in (shifted.data_dir / "logs" / "ranking").glob("part-*.parquet"):
            if later.strftime("%Y%m%d") in f.name:
                f.unlink()


def test_training_set_reference(shifted: FeatureStore, tmp_path: Path) -> None:
    reference = rows(20_000, REF_START, 1)
    path = tmp_path / "train.parquet"
    import pyarrow.parquet as pq
    pq.write_table(reference, path)
    for given in (reference, reference.to_pandas(), str(path)):
        report = shifted.drift("rider_stats", given, CUR)
        assert report.features["score"].status == "alert" and report.features["city"].status == "ok"
    entity_df = reference.select(["rider_id", "event_timestamp"]).slice(0, 3000)
    job = shifted.get_historical_features(entity_df, shifted.get_feature_service("ranking"), full_feature_names=True)
    report = shifted.drift("ranking", job, "served")
    assert report.features["rider_stats__score"].rows_reference == 3000
    with pytest.raises(InputError, match="has no column for feature 'score'"):
        shifted.drift("rider_stats", pa.table({"x": [1.0]}), CUR)


class _Counter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag in ("svg", "section", "table", "html", "body"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("svg", "section", "table", "html", "body"):
            assert self.open.pop() == tag


def test_html_is_self_contained(shifted: FeatureStore, tmp_path: Path) -> None:
    report = shifted.drift("rider_stats", REF, CUR)
    page = report.to_html()
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page
    parser = _Counter()
    parser.feed(page)
    parser.close()
    assert parser.tags["svg"] == len(report.features) == 4 and parser.open == []
    assert parser.tags["section"] == 4 and parser.tags["rect"] > 100
    out = tmp_path / "drift.html"
    result = CliRunner().invoke(main, ["--repo", str(shifted.repo_path), "drift", "rider_stats", "--reference",
                                       "2026-10-01", "2026-10-31T23:59", "--current-range", "2026-11-01", "-",
                                       "--html", str(out)])
    assert result.exit_code == 2 and out.read_text().count("<svg") == 4


def test_bad_drift_arguments(shifted: FeatureStore) -> None:
    with pytest.raises(InputError, match="warn <= alert"):
        shifted.drift("rider_stats", REF, CUR, warn=0.5, alert=0.2)
    with pytest.raises(InputError, match=r"start .* is after end"):
        shifted.drift("rider_stats", (REF_END, REF_START), CUR)
    with pytest.raises(InputError, match=r"is a feature view"):
        shifted.drift("rider_stats", REF, "served")

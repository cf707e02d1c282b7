"""The online commands of the CLI (materialize, materialize-incremental, get-online, teardown)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from featurestore.cli import COMMAND_MODULES, lookup_commands, main
from featurestore.cli.materialize_commands import ProgressReporter
from featurestore.materialize.run import Progress
from featurestore.store import FeatureStore
from tests.cli_helpers import failed, ok

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "definitions"
# the example repo's views, sorted
ALL_VIEWS = ["card_txn", "customer_driver", "customer_profile", "driver_stats", "trip_stats", "zone_demand"]
LOG_LINE = re.compile(r"^materialize (\w+): (\d+) rows in \d+\.\d\ds \(\d+ rows/s\)$")


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FEATURESTORE_"):
            monkeypatch.delenv(name)


def subprocess_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}


def copy_example(target: Path) -> Path:
    """A copy of the example repo's definitions and featurestore.yaml (no data, no registry)."""
    target.mkdir()
    for path in [*EXAMPLE.glob("*.py"), EXAMPLE / "featurestore.yaml"]:
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def cli(runner: CliRunner, repo: Path, *args: str, **kwargs: object) -> Result:
    return runner.invoke(main, ["--repo", str(repo), *args], **kwargs)  # type: ignore[arg-type]


def prepare(runner: CliRunner, repo: Path, *data_args: str) -> Path:
    ok(cli(runner, repo, "generate-data", *data_args))
    ok(cli(runner, repo, "apply"))
    return repo


@pytest.fixture
def repo(runner: CliRunner, tmp_path: Path) -> Path:
    """The example repo, applied, with sample data ending today (fresh for online lookups)."""
    return prepare(runner, copy_example(tmp_path / "example"))


@pytest.fixture
def dated(runner: CliRunner, tmp_path: Path) -> Path:
    """The example repo, applied, with sample data from 2024-01-01 to 2024-01-07 23:00 UTC."""
    return prepare(runner, copy_example(tmp_path / "dated"), "--end", "2024-01-08")


def watermarks(repo: Path) -> dict[str, str]:
    store = FeatureStore(repo_path=repo)
    try:
        return {view: entry["watermark"] for view, entry in store.watermarks().items()}
    finally:
        store.close()


def summary(out: str) -> dict[str, list[str]]:
    """The summary table of a materialize command: view -> [start, end, rows, seconds, watermark, written, skipped]."""
    lines = out.splitlines()
    assert lines[0].split() == ["VIEW", "START", "END", "ROWS", "SECONDS", "WATERMARK", "WRITTEN", "SKIPPED"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]
            if line and not line.startswith(("Materialized", "Note:", "  "))}


# -- materialize ------------------------------------------------------------------------------------
def test_help_lists_online_commands(runner: CliRunner) -> None:
    assert {"materialize_commands", "lookup_commands"} <= set(COMMAND_MODULES)
    out = ok(runner.invoke(main, ["--help"]))
    for command in ("materialize", "materialize-incremental", "get-online", "teardown"):
        assert command in out
    assert "featurestore materialize 2024-01-01 2024-01-08" in ok(runner.invoke(main, ["materialize", "--help"]))
    assert "--entity driver_id=1001" in ok(runner.invoke(main, ["get-online", "--help"]))
    assert "--yes" in ok(runner.invoke(main, ["teardown", "--help"]))
    assert "featurestore materialize-incremental now" in ok(runner.invoke(main, ["materialize-incremental", "-h"]))


def test_materialize_start_end(runner: CliRunner, dated: Path) -> None:
    result = cli(runner, dated, "materialize", "2024-01-01", "2024-01-08T00:00:00")
    rows = summary(ok(result))
    assert rows["driver_stats"][:3] == ["2024-01-01T00:00:00+00:00", "2024-01-08T00:00:00+00:00", "50"]
    assert rows["driver_stats"][4] == "2024-01-08T00:00:00+00:00"
    assert rows["customer_profile"][2] == "20"
    assert rows["zone_demand"][2] == "8"
    assert rows["customer_driver"][2] == "50"  # pairs with a trip that week
    assert rows["trip_stats"][2] == "50"  # every driver finished a trip that week
    assert rows["card_txn"][2] == "20"  # an aggregate view: every card's state at the snapshot (the end)
    assert "Materialized 198 entity rows into the online store (6 feature views): 198 written." in result.stdout
    assert watermarks(dated) == {view: "2024-01-08T00:00:00+00:00" for view in ALL_VIEWS}


def test_materialize_offsets_and_z_are_utc(runner: CliRunner, dated: Path) -> None:
    rows = summary(ok(cli(runner, dated, "materialize", "2024-01-06T02:00:00+02:00", "2024-01-07T12:00:00Z")))
    assert rows["driver_stats"][:2] == ["2024-01-06T00:00:00+00:00", "2024-01-07T12:00:00+00:00"]
    assert watermarks(dated)["driver_stats"] == "2024-01-07T12:00:00+00:00"


def test_materialize_until_now_then_lookup(runner: CliRunner, repo: Path) -> None:
    before = datetime.now(UTC)
    rows = summary(ok(cli(runner, repo, "materialize", "2000-01-01", "now")))
    assert rows["driver_stats"][2] == "50" and rows["customer_profile"][2] == "20"
    mark = datetime.fromisoformat(watermarks(repo)["driver_stats"])
    assert before <= mark <= datetime.now(UTC)
    out = ok(cli(runner, repo, "get-online", "driver_stats:conv_rate", "--entity", "driver_id=1001"))
    assert "PRESENT" in out


def test_views_restriction(runner: CliRunner, dated: Path) -> None:
    result = cli(runner, dated, "materialize", "2024-01-01", "2024-01-08", "--views", "driver_stats")
    assert list(summary(ok(result))) == ["driver_stats"]
    assert list(watermarks(dated)) == ["driver_stats"]
    assert "customer_profile" not in result.stderr

    # repeated, comma-separated and short option: both views, each once
    result = cli(runner, dated, "materialize", "2024-01-01", "2024-01-08", "-v", "customer_profile,driver_stats",
                 "--views", "driver_stats")
    assert list(summary(ok(result))) == ["customer_profile", "driver_stats"]
    assert sorted(watermarks(dated)) == ["customer_profile", "driver_stats"]


def test_materialize_incremental_twice(runner: CliRunner, dated: Path) -> None:
    first = summary(ok(cli(runner, dated, "materialize-incremental", "2024-01-05")))
    # first run: end - ttl (2 days, 1 hour, 30 days) for views with a ttl, everything for customer_profile (none)
    assert first["driver_stats"][:3] == ["2024-01-03T00:00:00+00:00", "2024-01-05T00:00:00+00:00", "50"]
    assert first["zone_demand"][:3] == ["2024-01-04T23:00:00+00:00", "2024-01-05T00:00:00+00:00", "8"]
    assert first["customer_driver"][:3] == ["2023-12-06T00:00:00+00:00", "2024-01-05T00:00:00+00:00", "85"]
    assert first["customer_profile"][0] == "(all)"
    assert watermarks(dated)["driver_stats"] == "2024-01-05T00:00:00+00:00"

    second = summary(ok(cli(runner, dated, "materialize-incremental", "2024-01-08", "-v", "driver_stats")))
    assert list(second) == ["driver_stats"]
    assert second["driver_stats"][:3] == ["2024-01-05T00:00:00+00:00", "2024-01-08T00:00:00+00:00", "50"]
    assert watermarks(dated) == {**{view: "2024-01-05T00:00:00+00:00" for view in ALL_VIEWS},
                                 "driver_stats": "2024-01-08T00:00:00+00:00"}


def test_materialize_incremental_with_an_end_before_the_watermark_says_so(runner: CliRunner, dated: Path) -> None:
    ok(cli(runner, dated, "materialize-incremental", "2024-01-08", "-v", "driver_stats"))
    again = ok(cli(runner, dated, "materialize-incremental", "2024-01-06", "-v", "driver_stats"))
    assert "Materialized" not in again
    assert ("Note: feature view 'driver_stats' is already materialized up to its watermark 2024-01-08T00:00:00+00:00, "
            "after the end 2024-01-06T00:00:00+00:00: nothing to do") in " ".join(again.split())
    assert summary(again)["driver_stats"][2:4] == ["-", "-"]  # no row count that looks like a run
    assert watermarks(dated)["driver_stats"] == "2024-01-08T00:00:00+00:00"
    rerun = summary(ok(cli(runner, dated, "materialize", "2024-01-01", "2024-01-08", "-v", "driver_stats")))
    assert rerun["driver_stats"][2] == "50" and rerun["driver_stats"][5:] == ["50", "0"]  # the same rows (ties win)


def test_log_lines_when_not_on_a_terminal(runner: CliRunner, dated: Path) -> None:
    result = cli(runner, dated, "materialize", "2024-01-01", "2024-01-08")
    ok(result)
    assert "\r" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if " so far " not in line]
    matches = [LOG_LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [(m.group(1), m.group(2)) for m in matches if m] == [("customer_driver", "50"), ("customer_profile", "20"),
                                                                ("driver_stats", "50"), ("trip_stats", "50"),
                                                                ("zone_demand", "8"), ("card_txn", "20")]


def test_progress_reporter_log_lines() -> None:
    stream = io.StringIO()
    report = ProgressReporter(stream, terminal=False)
    for p in [Progress("v", 10, 0.5), Progress("v", 20, 2.5), Progress("v", 30, 3.0), Progress("v", 40, 4.5),
              Progress("v", 50, 5.0, done=True), Progress("w", 0, 0.0, done=True)]:
        report(p)
    report.close()
    assert stream.getvalue().splitlines() == [
        "materialize v: 20 rows so far in 2.50s (8 rows/s)",
        "materialize v: 40 rows so far in 4.50s (9 rows/s)",
        "materialize v: 50 rows in 5.00s (10 rows/s)",
        "materialize w: 0 rows in 0.00s (0 rows/s)",
    ]


def test_progress_reporter_live_line() -> None:
    stream = io.StringIO()
    report = ProgressReporter(stream, terminal=True)
    for p in [Progress("v", 1000, 0.5), Progress("v", 2000, 1.0), Progress("v", 2000, 1.0, done=True),
              Progress("w", 5, 0.5)]:
        report(p)
    report.close()  # e.g. after an error: the unfinished line is ended
    text = stream.getvalue()
    assert text.count("\n") == 2
    first, second = text.split("\n")[:2]
    assert first.startswith("\rmaterialize v: 1,000 rows  2,000 rows/s  0.5s")
    assert first.rstrip().endswith("\rmaterialize v: 2,000 rows  2,000 rows/s  1.0s  done")
    assert second.strip() == "materialize w: 5 rows  10 rows/s  0.5s"


def test_bad_dates_exit_2_naming_the_argument(runner: CliRunner, dated: Path) -> None:
    err = failed(cli(runner, dated, "materialize", "yesterday", "2024-01-08"), code=2)
    assert "'START'" in err and "'yesterday'" in err and "ISO-8601" in err
    err = failed(cli(runner, dated, "materialize", "2024-01-01", "2024-13-45"), code=2)
    assert "'END'" in err and "2024-13-45" in err
    err = failed(cli(runner, dated, "materialize-incremental", "soon"), code=2)
    assert "'END'" in err and "'soon'" in err
    assert watermarks(dated) == {}


def test_end_before_start(runner: CliRunner, dated: Path) -> None:
    err = failed(cli(runner, dated, "materialize", "2024-01-08", "2024-01-01"), code=2)
    assert "END (2024-01-01T00:00:00+00:00) is before START (2024-01-08T00:00:00+00:00)" in err
    assert "START" in failed(cli(runner, dated, "materialize", "now", "2024-01-01"), code=2)
    assert watermarks(dated) == {}


def test_unknown_view(runner: CliRunner, dated: Path) -> None:
    err = failed(cli(runner, dated, "materialize", "2024-01-01", "2024-01-08", "-v", "driver_stats,no_such_view"))
    assert err.startswith("Error: ") and "'no_such_view'" in err
    assert "registered: customer_driver, customer_profile, driver_stats, trip_stats, zone_demand" in err
    assert "no_such_view" in failed(cli(runner, dated, "materialize-incremental", "now", "--views", "no_such_view"))
    assert watermarks(dated) == {}


def test_materialize_before_apply(runner: CliRunner, tmp_path: Path) -> None:
    repo = copy_example(tmp_path / "unapplied")
    assert "run 'featurestore apply'" in ok(cli(runner, repo, "materialize-incremental", "now"))


# -- get-online -------------------------------------------------------------------------------------
def test_get_online_table_and_json(runner: CliRunner, repo: Path) -> None:
    ok(cli(runner, repo, "materialize-incremental", "now"))
    out = ok(cli(runner, repo, "get-online", "driver_stats:conv_rate", "driver_stats:avg_daily_trips",
                 "--entity", "driver_id=1001", "--entity", "driver_id=9999"))
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "VALUES", "STATUSES"]
    assert lines[1].split() == ["driver_id", "1001,", "9999", "-"]
    assert [line.split()[0] for line in lines[1:]] == ["driver_id", "conv_rate", "avg_daily_trips"]
    for line in lines[2:]:
        assert line.endswith("PRESENT, NOT_FOUND") and ", null" in line

    data = json.loads(ok(cli(runner, repo, "get-online", "driver_stats:conv_rate,driver_stats:acc_rate",
                             "-e", "driver_id=1001", "-e", "driver_id=9999", "-e", "driver_id=1002", "--json")))
    assert data["values"]["driver_id"] == [1001, 9999, 1002]
    assert isinstance(data["values"]["conv_rate"][0], float) and data["values"]["conv_rate"][1] is None
    assert data["statuses"] == {"conv_rate": ["PRESENT", "NOT_FOUND", "PRESENT"],
                                "acc_rate": ["PRESENT", "NOT_FOUND", "PRESENT"]}
    assert data["event_timestamps"]["conv_rate"][1] is None
    assert datetime.fromisoformat(data["event_timestamps"]["conv_rate"][0]).tzinfo is not None


def test_get_online_service_wildcard_and_full_names(runner: CliRunner, repo: Path) -> None:
    ok(cli(runner, repo, "materialize-incremental", "now"))
    data = json.loads(ok(cli(runner, repo, "get-online", "--service", "trip_model",
                             "-e", "driver_id=1001,customer_id=2001,zone_id=airport", "--json")))
    assert list(data["values"]) == ["driver_id", "customer_id", "zone_id", "conv_rate", "avg_daily_trips",
                                    "current_balance", "lifetime_trip_count", "tier", "trips_together",
                                    "avg_rating_given", "surge_multiplier", "avg_wait_minutes", "speed_kmh"]
    assert all(s == ["PRESENT"] for s in data["statuses"].values())
    assert data["values"]["tier"][0] in {"bronze", "silver", "gold"}


def test_get_online_without_entities_answers_empty(runner: CliRunner, repo: Path) -> None:
    data = json.loads(ok(cli(runner, repo, "get-online", "driver_stats:conv_rate", "--json")))
    assert data == {"values": {"driver_id": [], "conv_rate": []}, "statuses": {"conv_rate": []},
                    "event_timestamps": {"conv_rate": []}}
    lines = ok(cli(runner, repo, "get-online", "driver_stats:conv_rate")).splitlines()
    assert [line.split()[0] for line in lines] == ["NAME", "driver_id", "conv_rate"]

    data = json.loads(ok(cli(runner, repo, "get-online", "driver_stats:*", "-e", "driver_id=1003",
                             "--full-feature-names", "--json")))
    assert list(data["values"]) == ["driver_id", "driver_stats__conv_rate", "driver_stats__acc_rate",
                                    "driver_stats__avg_daily_trips"]


def test_get_online_outside_max_age(runner: CliRunner, dated: Path) -> None:
    ok(cli(runner, dated, "materialize", "2024-01-01", "2024-01-08"))
    data = json.loads(ok(cli(runner, dated, "get-online", "driver_stats:conv_rate", "customer_profile:tier",
                             "-e", "driver_id=1001,customer_id=2001", "--json")))
    assert data["statuses"] == {"conv_rate": ["OUTSIDE_MAX_AGE"], "tier": ["PRESENT"]}  # ttl 2 days vs none


def test_get_online_usage_errors(runner: CliRunner, repo: Path) -> None:
    assert "either FEATURES or --service" in failed(cli(runner, repo, "get-online", "-e", "driver_id=1"), code=2)
    err = failed(cli(runner, repo, "get-online", "driver_stats:conv_rate", "--service", "trip_model",
                     "-e", "driver_id=1"), code=2)
    assert "either FEATURES or --service" in err
    err = failed(cli(runner, repo, "get-online", "driver_stats:conv_rate", "-e", "1001"), code=2)
    assert "'--entity'" in err and "KEY=VALUE" in err
    err = failed(cli(runner, repo, "get-online", "driver_stats:nope", "-e", "driver_id=1001"))
    assert err.startswith("Error: ") and "nope" in err
    err = failed(cli(runner, repo, "get-online", "driver_stats:conv_rate", "-e", "driver_id=abc"))
    assert "driver_id" in err and "Int64" in err
    assert "no_service" in failed(cli(runner, repo, "get-online", "-s", "no_service", "-e", "driver_id=1"))


# -- teardown ---------------------------------------------------------------------------------------
def statuses(runner: CliRunner, repo: Path) -> list[str]:
    data = json.loads(ok(cli(runner, repo, "get-online", "driver_stats:conv_rate", "customer_profile:tier",
                             "-e", "driver_id=1001,customer_id=2001", "-e", "driver_id=1002,customer_id=2002",
                             "--json")))
    return sorted({s for values in data["statuses"].values() for s in values})


def test_teardown_yes(runner: CliRunner, repo: Path) -> None:
    ok(cli(runner, repo, "materialize-incremental", "now"))
    assert statuses(runner, repo) == ["PRESENT"]
    out = ok(cli(runner, repo, "teardown", "--yes"))
    assert "Deleted every online value of project 'driver_ranking'" in out
    assert statuses(runner, repo) == ["NOT_FOUND"]
    assert watermarks(repo) == {}
    assert "driver_stats" in ok(cli(runner, repo, "list", "feature-views"))  # definitions stay
    ok(cli(runner, repo, "materialize-incremental", "now"))
    assert statuses(runner, repo) == ["PRESENT"]


def test_teardown_without_yes_non_interactive_refused(runner: CliRunner, repo: Path) -> None:
    ok(cli(runner, repo, "materialize-incremental", "now"))
    err = failed(cli(runner, repo, "teardown"))
    assert err.startswith("Error: ") and "--yes" in err and "driver_ranking" in err
    assert statuses(runner, repo) == ["PRESENT"]
    assert sorted(watermarks(repo)) == ALL_VIEWS


def test_teardown_asks_on_a_terminal(runner: CliRunner, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lookup_commands, "_stdin_is_terminal", lambda: True)
    ok(cli(runner, repo, "materialize-incremental", "now"))
    declined = cli(runner, repo, "teardown", input="n\n")
    assert declined.exit_code == 1 and "Delete every online value" in declined.output
    assert statuses(runner, repo) == ["PRESENT"]
    ok(cli(runner, repo, "teardown", input="y\n"))
    assert statuses(runner, repo) == ["NOT_FOUND"]


def test_delete_online_and_reset_online(runner: CliRunner, repo: Path) -> None:
    ok(cli(runner, repo, "materialize-incremental", "now"))
    assert statuses(runner, repo) == ["PRESENT"]
    out = ok(cli(runner, repo, "delete-online", "driver_stats", "--entity", "driver_id=1001",
                 "--entity", "driver_id=999999"))
    assert "Deleted the online values of 1 of 2 entities of feature view 'driver_stats'" in out
    data = json.loads(ok(cli(runner, repo, "get-online", "driver_stats:conv_rate", "-e", "driver_id=1001",
                             "-e", "driver_id=1002", "--json")))
    assert data["statuses"] == {"conv_rate": ["NOT_FOUND", "PRESENT"]}
    assert sorted(watermarks(repo)) == ALL_VIEWS  # watermarks stay
    assert "'nope'" in failed(cli(runner, repo, "delete-online", "nope", "--entity", "driver_id=1"))
    assert "'driver_id'" in failed(cli(runner, repo, "delete-online", "driver_stats", "--entity", "x=1"))

    assert "--yes" in failed(cli(runner, repo, "reset-online", "customer_profile"))
    out = ok(cli(runner, repo, "reset-online", "customer_profile", "--yes"))
    assert "Deleted every online value and the watermark of feature view 'customer_profile'" in out
    assert sorted(watermarks(repo)) == [v for v in ALL_VIEWS if v != "customer_profile"]


# -- console script ---------------------------------------------------------------------------------
def featurestore_script() -> str:
    local = Path(sys.executable).parent / "featurestore"
    found = str(local) if local.exists() else shutil.which("featurestore")
    assert found, "the featurestore console script is not installed"
    return found


def test_console_script_materialize_and_lookup(tmp_path: Path) -> None:
    repo = copy_example(tmp_path / "scripted")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([featurestore_script(), "--repo", str(repo), *args], capture_output=True, text=True,
                              env=subprocess_env(), cwd=tmp_path, check=False)
        assert "Traceback" not in proc.stderr
        return proc

    for args in (["generate-data"], ["apply"]):
        assert run(*args).returncode == 0
    mat = run("materialize-incremental", "now")
    assert mat.returncode == 0, mat.stderr
    assert "\r" not in mat.stderr  # stderr is a pipe: log lines
    # feature views first, then aggregate views
    assert [m.group(1) for m in map(LOG_LINE.match, mat.stderr.splitlines()) if m] == [*ALL_VIEWS[1:], "card_txn"]
    assert sorted(summary(mat.stdout)) == ALL_VIEWS

    got = run("get-online", "driver_stats:conv_rate", "--entity", "driver_id=1001", "--entity", "driver_id=1")
    assert got.returncode == 0, got.stderr
    assert "conv_rate" in got.stdout and got.stdout.rstrip().endswith("PRESENT, NOT_FOUND")

    refused = run("teardown")
    assert refused.returncode == 1 and refused.stderr.startswith("Error: ")
    bad = run("materialize", "2024-01-01", "later")
    assert bad.returncode == 2 and "'END'" in bad.stderr


def test_get_online_on_demand_views_with_request_data(runner: CliRunner, repo: Path) -> None:
    ok(cli(runner, repo, "materialize-incremental", "now"))
    out = ok(cli(runner, repo, "get-online", "eta:long_trip,fare:fare", "--json", "-e",
                 "driver_id=1001,distance_km=25.5", "-e", "driver_id=1002,distance_km=3"))
    answer = json.loads(out)
    assert answer["values"]["long_trip"] == [True, False], answer
    assert all(isinstance(v, float) for v in answer["values"]["fare"]), answer

"""The ``featurestore`` command line (the demo is tested in ``tests/test_demo.py``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner, Result

from featurestore import FeatureStore
from featurestore.cli import COMMAND_MODULES, main
from tests.cli_helpers import failed, ok

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "definitions"


def featurestore_script() -> str:
    """The installed console script, next to the running interpreter (or on PATH)."""
    local = Path(sys.executable).parent / "featurestore"
    found = str(local) if local.exists() else shutil.which("featurestore")
    assert found, "the featurestore console script is not installed"
    return found


def subprocess_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FEATURESTORE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def cli(runner: CliRunner, repo: Path | None, *args: str) -> Result:
    prefix = ["--repo", str(repo)] if repo is not None else []
    return runner.invoke(main, [*prefix, *args])


@pytest.fixture
def repo(runner: CliRunner, tmp_path: Path) -> Path:
    """A repo made by ``featurestore init`` (not applied)."""
    path = tmp_path / "my-repo"
    out = ok(cli(runner, None, "init", str(path)))
    assert "Next steps" in out
    return path


@pytest.fixture
def applied(runner: CliRunner, repo: Path) -> Path:
    ok(cli(runner, repo, "apply"))
    return repo


def test_help_lists_commands(runner: CliRunner) -> None:
    out = ok(cli(runner, None, "--help"))
    for command in ("init", "plan", "apply", "list", "describe", "history", "generate-data"):
        assert command in out
    assert "FEATURESTORE_REPO" in out
    assert "repo_commands" in COMMAND_MODULES
    assert "0.1.0" in ok(cli(runner, None, "--version"))


def test_init_apply_plan(runner: CliRunner, repo: Path) -> None:
    assert 'project: "my_repo"' in (repo / "featurestore.yaml").read_text()
    assert (repo / "driver_stats.py").exists()
    assert sorted(p.name for p in (repo / "data").iterdir()) == ["driver_stats.parquet"]  # what the template reads

    out = ok(cli(runner, repo, "plan"))
    assert "+ feature_view driver_stats" in out
    assert not (repo / "data" / "registry.json").exists()

    out = ok(cli(runner, repo, "apply"))
    assert "+ entity driver" in out
    assert "+ feature_service driver_activity" in out
    assert "registry version 1" in out

    assert ok(cli(runner, repo, "plan")).startswith("No changes")
    assert ok(cli(runner, repo, "apply")).startswith("No changes")


def test_edit_plan_apply_history(runner: CliRunner, applied: Path) -> None:
    defs = applied / "driver_stats.py"
    defs.write_text(defs.read_text().replace("ttl=timedelta(days=2)", "ttl=timedelta(days=1)"))

    out = ok(cli(runner, applied, "plan"))
    assert "~ feature_view driver_stats\n    ~ ttl: 2d -> 1d\n" in out
    assert "0 to add, 1 to change, 0 to remove." in out
    assert "registry version 2" in ok(cli(runner, applied, "apply"))
    assert ok(cli(runner, applied, "plan")).startswith("No changes")

    lines = ok(cli(runner, applied, "history")).splitlines()
    assert lines[0].split() == ["VERSION", "APPLIED", "AT", "CHANGES"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2"]
    assert "~ feature_view driver_stats" in lines[2]

    entries = json.loads(ok(cli(runner, applied, "history", "--json")))
    assert [e["version"] for e in entries] == [1, 2]
    assert entries[1]["changes"]["changed"] == ["feature_view driver_stats"]
    assert all("objects" not in e for e in entries)


def test_plan_and_apply_show_a_schema_change_feature_by_feature(runner: CliRunner, applied: Path) -> None:
    data = applied / "data" / "driver_stats.parquet"
    table = pq.read_table(data)
    pq.write_table(table.append_column("x", table.column("avg_daily_trips")), data)
    defs = applied / "driver_stats.py"
    text = defs.read_text().replace('        Field(name="acc_rate", dtype=Float32),\n', "")
    text = text.replace('Field(name="conv_rate", dtype=Float32)', 'Field(name="conv_rate", dtype=Float64)')
    text = text.replace('dtype=Int64),\n    ],', 'dtype=Int64, description="trips a day"),\n'
                        '        Field(name="x", dtype=Int64),\n    ],')
    text = text.replace("ttl=timedelta(days=2)", "ttl=timedelta(days=1)").replace('"pricing"', '"ops"')
    defs.write_text(text.replace("import Float32, Int64", "import Float32, Float64, Int64"))

    expected = ["~ feature_view driver_stats",
                "    - feature acc_rate (Float32)",
                "    + feature x (Int64)",
                "    ~ feature conv_rate: Float32 -> Float64",
                "    ~ feature avg_daily_trips description: '' -> 'trips a day'",
                "    ~ tags.team: 'pricing' -> 'ops'",
                "    ~ ttl: 2d -> 1d",
                "~ feature_service driver_activity",
                "    - feature driver_stats:acc_rate",
                "    + feature driver_stats:x",
                "  online driver_stats: feature x added: NOT_FOUND online until materialized",
                "  online driver_stats: feature conv_rate type changed: NOT_FOUND online until materialized",
                "  online driver_stats: feature acc_rate removed",
                "0 to add, 2 to change, 0 to remove."]
    for command in ("plan", "apply"):
        lines = ok(cli(runner, applied, command)).splitlines()
        assert [line for line in lines if line in expected] == expected, lines
        assert not any("{" in line or "[" in line for line in lines), lines  # no raw dicts or lists
    assert ok(cli(runner, applied, "plan")).startswith("No changes")


def test_warnings_print_as_clean_lines(runner: CliRunner, applied: Path) -> None:
    (applied / "data" / "online.db").write_text("not a database")  # so apply cannot delete the old online rows
    data = applied / "data" / "driver_stats.parquet"  # a join key type change deletes the view's online rows
    table = pq.read_table(data)
    pq.write_table(table.set_column(table.schema.get_field_index("driver_id"), "driver_id",
                                    table.column("driver_id").cast(pa.int32())), data)
    defs = applied / "driver_stats.py"
    text = defs.read_text().replace('        Field(name="acc_rate", dtype=Float32),\n',
                                    '        Field(name="driver_id", dtype=Int32),\n')
    defs.write_text("import warnings\nwarnings.warn('defined in a hurry')\n"
                    + text.replace("import Float32, Int64", "import Float32, Int32, Int64"))
    result = cli(runner, applied, "apply")
    ok(result)
    lines = result.stderr.splitlines()
    assert lines[0] == "warning: defined in a hurry"
    assert lines[1].startswith("warning: applied, but the online data of ['driver_stats'] could not be deleted")
    assert len(lines) == 2  # no file:line, category or source line


def test_list_text_and_json(runner: CliRunner, applied: Path) -> None:
    out = ok(cli(runner, applied, "list", "feature-views"))
    header, row = out.splitlines()
    assert header.split()[:5] == ["NAME", "ENTITIES", "JOIN", "KEYS", "FEATURES"]
    assert row.split()[:5] == ["driver_stats", "driver", "driver_id", "3", "2d"]
    assert "ml-platform@example.com" in row and "team=pricing" in row
    assert "driver_id" in ok(cli(runner, applied, "list", "entities"))
    assert "driver_activity" in ok(cli(runner, applied, "list", "feature-services"))

    views = json.loads(ok(cli(runner, applied, "list", "feature-views", "--json")))
    assert [v["name"] for v in views] == ["driver_stats"]
    assert views[0]["ttl_seconds"] == 172800.0
    entities = json.loads(ok(cli(runner, applied, "list", "entities", "--json")))
    assert entities[0]["join_keys"] == ["driver_id"]
    services = json.loads(ok(cli(runner, applied, "list", "feature-services", "--json")))
    assert services[0]["features"][0]["view"] == "driver_stats"


def test_list_before_apply(runner: CliRunner, repo: Path) -> None:
    assert "run 'featurestore apply'" in ok(cli(runner, repo, "list", "feature-views"))
    assert json.loads(ok(cli(runner, repo, "list", "entities", "--json"))) == []
    assert "No registry versions" in ok(cli(runner, repo, "history"))


def test_describe_text_and_json(runner: CliRunner, applied: Path) -> None:
    out = ok(cli(runner, applied, "describe", "feature-view", "driver_stats"))
    for expected in ("feature_view: driver_stats", "driver_id: Int64", "conv_rate: Float32",
                     "avg_daily_trips: Int64", "ttl: 2d", "path: data/driver_stats.parquet",
                     "owner: ml-platform@example.com", "team: pricing", "- driver_activity"):
        assert expected in out
    view = json.loads(ok(cli(runner, applied, "describe", "feature-view", "driver_stats", "--json")))
    assert view["name"] == "driver_stats"
    assert {"name": "driver_id", "dtype": "Int64", "description": "", "tags": {}} in view["schema"]

    out = ok(cli(runner, applied, "describe", "entity", "driver"))
    assert "join_keys:\n- driver_id" in out and "A ride-hailing driver" in out
    out = ok(cli(runner, applied, "describe", "feature-service", "driver_activity"))
    assert "driver_stats:" in out and "acc_rate: Float32" in out
    svc = json.loads(ok(cli(runner, applied, "describe", "feature-service", "driver_activity", "--json")))
    assert svc["features"] == [{"view": "driver_stats", "features": ["conv_rate", "acc_rate", "avg_daily_trips"]}]


def test_describe_shows_the_watermarks_of_each_online_store(runner: CliRunner, applied: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def materialization() -> Any:
        out = ok(cli(runner, applied, "describe", "feature-view", "driver_stats"))
        return yaml.safe_load(out)["materialization"]

    assert "never" in materialization()
    ok(cli(runner, applied, "materialize", "2000-01-01", "now"))
    first = FeatureStore(applied).watermarks()["driver_stats"]
    assert materialization() == {"sqlite:data/online.db (current)": first}

    monkeypatch.setenv("FEATURESTORE_SQLITE_PATH", "data/other.db")  # a second online store
    ok(cli(runner, applied, "materialize", "2000-01-01", "2001-01-01"))
    second = FeatureStore(applied).watermarks()["driver_stats"]
    assert second["watermark"].startswith("2001-01-01") and second["last_rows"] == 0
    assert materialization() == {"sqlite:data/online.db": first, "sqlite:data/other.db (current)": second}
    assert "materialization" not in ok(cli(runner, applied, "describe", "entity", "driver"))


def test_repo_option_on_command_and_env(runner: CliRunner, applied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ok(runner.invoke(main, ["plan", "--repo", str(applied)])).startswith("No changes")
    monkeypatch.setenv("FEATURESTORE_REPO", str(applied))
    assert "driver_stats" in ok(runner.invoke(main, ["list", "feature-views"]))


def test_describe_unknown_view(runner: CliRunner, applied: Path) -> None:
    err = failed(cli(runner, applied, "describe", "feature-view", "no_such_view"))
    assert err.startswith("Error: ")
    assert "no_such_view" in err and "driver_stats" in err


def test_missing_config(runner: CliRunner, tmp_path: Path) -> None:
    err = failed(cli(runner, tmp_path, "plan"))
    assert "featurestore.yaml" in err
    assert "featurestore.yaml" in failed(cli(runner, tmp_path / "missing", "list", "entities"))
    assert "featurestore.yaml" in failed(cli(runner, tmp_path, "generate-data"))
    assert not (tmp_path / "data").exists()


def test_bad_feature_names_the_column(runner: CliRunner, repo: Path) -> None:
    defs = repo / "driver_stats.py"
    defs.write_text(defs.read_text().replace('name="acc_rate"', 'name="acceptance_ratio"'))
    for command in ("plan", "apply"):
        err = failed(cli(runner, repo, command))
        assert "acceptance_ratio" in err and "driver_stats" in err
    assert not (repo / "data" / "registry.json").exists()


def test_broken_definitions_module(runner: CliRunner, repo: Path) -> None:
    (repo / "broken.py").write_text("raise RuntimeError('boom')\n")
    err = failed(cli(runner, repo, "apply"))
    assert "broken.py" in err and "boom" in err
    (repo / "broken.py").write_text("import sys\nsys.exit(0)\n")  # exiting used to end apply silently, exit 0
    err = failed(cli(runner, repo, "apply"))
    assert "broken.py:2" in err and "sys.exit(0)" in err
    assert not (repo / "data" / "registry.json").exists()


def test_init_into_non_empty_folder(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    err = failed(cli(runner, None, "init", str(tmp_path / "taken")))
    assert "not an empty folder" in err
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]

    (tmp_path / "empty").mkdir()
    ok(cli(runner, None, "init", str(tmp_path / "empty")))
    assert 'project: "empty"' in (tmp_path / "empty" / "featurestore.yaml").read_text()


@pytest.mark.parametrize("name", ["123", "yes", "null", "true", "no", "on", "1e3", "0x1F", "007", "2024_01"])
def test_init_names_yaml_would_misread_round_trip(runner: CliRunner, tmp_path: Path, name: str) -> None:
    repo = tmp_path / name
    ok(cli(runner, None, "init", str(repo)))
    assert "+ feature_view driver_stats" in ok(cli(runner, repo, "apply"))
    assert FeatureStore(repo).project == name
    assert ok(cli(runner, repo, "plan")).startswith("No changes")


def test_init_project_option(runner: CliRunner, tmp_path: Path) -> None:
    ok(cli(runner, None, "init", str(tmp_path / "a"), "--project", "null"))
    assert FeatureStore(tmp_path / "a").project == "null"
    for bad in ("my project", "café", "a-b", ""):
        err = failed(cli(runner, None, "init", str(tmp_path / "b"), "--project", bad), code=2)
        assert repr(bad) in err and "letters, digits and '_'" in err
        assert not (tmp_path / "b").exists()  # refused before anything is written


def test_usage_errors_exit_2(runner: CliRunner, applied: Path) -> None:
    failed(cli(runner, applied, "list", "views"), code=2)
    failed(cli(runner, applied, "describe", "feature-view"), code=2)
    failed(cli(runner, applied, "no-such-command"), code=2)


def test_generate_data(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: demo\n")
    out = ok(cli(runner, tmp_path, "generate-data", "--end", "2024-01-08"))
    assert "driver_stats.parquet" in out and "customer_profile.csv" in out
    first = pq.read_table(tmp_path / "data" / "driver_stats.parquet")
    assert first.num_rows == 50 * 7 * 24
    assert str(first.column("event_timestamp")[-1]).startswith("2024-01-07 23:00")
    ok(cli(runner, tmp_path, "generate-data", "--end", "2024-01-08"))
    assert pq.read_table(tmp_path / "data" / "driver_stats.parquet").equals(first)
    assert (tmp_path / "data" / "customer_profile.csv").exists()


def test_console_script(tmp_path: Path) -> None:
    script = featurestore_script()
    env = subprocess_env()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([script, *args], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)

    init = run("init", "scripted")
    assert init.returncode == 0, init.stderr
    repo = str(tmp_path / "scripted")
    applied = run("--repo", repo, "apply")
    assert applied.returncode == 0, applied.stderr
    assert "+ feature_view driver_stats" in applied.stdout
    assert run("--repo", repo, "plan").stdout.startswith("No changes")

    missing = run("--repo", repo, "describe", "feature-view", "nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: ") and "nope" in missing.stderr
    assert "Traceback" not in missing.stderr + missing.stdout

    no_repo = run("plan")
    assert no_repo.returncode == 1
    assert "featurestore.yaml" in no_repo.stderr and "Traceback" not in no_repo.stderr
    assert run("list").returncode == 2


ON_DEMAND_MODULE = '''\
import polars as pl
from driver_stats import driver_stats

from featurestore import FeatureService, Field, OnDemandFeatureView, RequestSource
from featurestore.types import Float64

trip = RequestSource(name="trip", schema=[Field(name="distance_km", dtype=Float64)])
eta = OnDemandFeatureView(name="eta", sources=[driver_stats, trip], schema=[Field(name="eta_min", dtype=Float64)],
                          expressions={"eta_min": pl.col("distance_km") / 30.0 * 60.0}, owner="me")
quotes = FeatureService(name="quotes", features=[eta, driver_stats[["conv_rate"]]])
'''


def test_on_demand_views_in_list_describe_and_plan(runner: CliRunner, repo: Path) -> None:
    (repo / "pricing.py").write_text(ON_DEMAND_MODULE)
    out = ok(cli(runner, repo, "apply"))
    assert "+ on_demand_feature_view eta" in out and "+ feature_service quotes" in out
    header, row = ok(cli(runner, repo, "list", "on-demand-feature-views")).splitlines()
    assert header.split()[:5] == ["NAME", "MODE", "SOURCES", "FEATURES", "FINGERPRINT"]
    fingerprint = FeatureStore(repo).state().on_demand_feature_view("eta").fingerprint
    assert row.split()[:6] == ["eta", "polars", "driver_stats,request:trip", "1", fingerprint[:12], "me"]
    out = ok(cli(runner, repo, "describe", "on-demand-feature-view", "eta"))
    for expected in ("on_demand_feature_view: eta", "mode: polars", "driver_stats: all features",
                     "request:trip:\n    distance_km: Float64", "eta_min: Float64", f"fingerprint: {fingerprint}",
                     "- quotes"):
        assert expected in out, out
    assert json.loads(ok(cli(runner, repo, "describe", "on-demand-feature-view", "eta", "--json")))["code"]
    assert "eta:\n    eta_min: Float64" in ok(cli(runner, repo, "describe", "feature-service", "quotes"))
    assert "on_demand_feature_views:\n- eta" in ok(cli(runner, repo, "describe", "feature-view", "driver_stats"))
    (repo / "pricing.py").write_text(ON_DEMAND_MODULE.replace("/ 30.0", "/ 40.0"))
    out = ok(cli(runner, repo, "plan"))
    assert f"~ on_demand_feature_view eta\n    ~ code changed (fingerprint {fingerprint[:12]} -> " in out
    assert "BinaryExpr" not in out and "1 to change" in out

"""Registry: validation errors, no-op re-apply, plan output, history, removals, concurrent applies."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import (
    DefinitionError,
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    ParquetSource,
    PushSource,
)
from featurestore.config import parse_config
from featurestore.registry.file import FileRegistry, Registry
from featurestore.types import Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])


def _write(tmp: Path) -> None:
    pq.write_table(pa.table({
        "driver_id": pa.array([1], pa.int64()), "event_timestamp": pa.array([0], pa.timestamp("us", tz="UTC")),
        "created": pa.array([0], pa.timestamp("us")), "v": [1.0], "name": ["x"], "when": ["not a time"],
    }), tmp / "s.parquet")


def view(name: str = "s", ttl: timedelta | None = None, **source: object) -> FeatureView:
    schema = source.pop("schema", [Field(name="v", dtype=Float64)])
    return FeatureView(name=name, entities=[driver], ttl=ttl, schema=schema,  # type: ignore[arg-type]
                       source=ParquetSource(path="s.parquet", **source))  # type: ignore[arg-type]


def _store(tmp: Path, registry: str = "data/registry.json") -> FeatureStore:
    _write(tmp)
    return FeatureStore(tmp, config=parse_config({"project": "p", "registry": registry}, "test", env={}))


@pytest.mark.parametrize(("objects", "match"), [
    ([driver, view(), view(ttl=timedelta(hours=1))], "two feature views are named 's'"),
    ([view()], "unknown entity 'driver'"),
    ([driver, view(schema=[Field(name="missing", dtype=Float64)])], "'missing'"),
    ([driver, view(schema=[Field(name="name", dtype=Int64)])], "feature 'name' is declared Int64"),
    ([driver, view(timestamp_field="ts")], "timestamp column 'ts'"),
    ([driver, view(timestamp_field="when")], "timestamp column 'when'"),
    ([driver, view(created_timestamp_field="made")], "created timestamp column 'made'"),
    ([Entity(name="driver", join_keys=["id"]), view()], "join keys"),
    ([driver, view(field_mapping={"nope": "v"})], "'nope'"),
    ([driver, view(), FeatureService(name="svc", features=[view(name="other")])], "unknown feature view 'other'"),
])
def test_apply_rejects_bad_definitions_naming_the_culprit(tmp_path: Path, objects: list, match: str) -> None:
    store = _store(tmp_path)
    with pytest.raises(DefinitionError, match=match):
        store.apply(objects)
    assert store.state().version == 0 and not (tmp_path / "data" / "registry.json").exists()


def test_definition_objects_validate_on_construction() -> None:
    with pytest.raises(DefinitionError, match="'bad name'"):
        Entity(name="bad name")
    with pytest.raises(DefinitionError, match="'v'"):
        FeatureView(name="x", entities=[driver], schema=[Field(name="v", dtype=Float64)] * 2,
                    source=ParquetSource(path="s"))
    with pytest.raises(DefinitionError, match="ttl"):
        FeatureView(name="x", entities=[driver], schema=[Field(name="v", dtype=Float64)],
                    source=ParquetSource(path="s"), ttl=3600)  # type: ignore[arg-type]


def test_reapply_is_a_noop_and_history_records_versions(tmp_path: Path, registry_location: str) -> None:
    store = _store(tmp_path, registry_location)
    assert str(store.apply([driver, view()])).endswith("2 to add, 0 to change, 0 to remove.")
    assert store.apply([driver, view()]).empty
    assert store.state().version == 1 and store.registry.version() == 1
    plan = store.plan([view(ttl=timedelta(hours=2))])
    assert str(plan).splitlines()[0] == "~ feature_view s: ttl_seconds: None -> 7200.0"
    store.apply([view(ttl=timedelta(hours=2))])
    history = store.history()
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["changes"]["changed"] == ["feature_view s"]
    assert history[0]["objects"]["feature_views"]["s"]["ttl_seconds"] is None
    assert history[0]["applied_at"] < history[1]["applied_at"]
    assert store.get_feature_view("s").ttl == timedelta(hours=2)
    again = _store(tmp_path, registry_location)  # another process's view of the same registry
    assert again.state() == store.state() and again.history() == history
    assert again.history_diff(1, 2).changes[0].fields[0].path == "ttl_seconds"


def test_the_history_file_is_apart_and_a_torn_line_is_ignored(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.apply([driver, view()])
    store.apply([view(ttl=timedelta(hours=2))])
    registry = store.registry
    assert isinstance(registry, FileRegistry)
    assert "history" not in json.loads(registry.path.read_text())  # kept apart: the registry stays small
    with open(registry.history_path, "a") as f:
        f.write('{"version": 3, "trunc')  # a crash mid-append leaves a torn last line: ignored
    assert [h["version"] for h in store.history()] == [1, 2]
    assert store.get_feature_view("s").ttl == timedelta(hours=2)


def test_join_key_types_are_resolved_from_the_source(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.apply([driver, view()])
    keys = store.get_feature_view("s").key_fields
    assert [(f.name, f.dtype.name) for f in keys] == [("driver_id", "Int64")]


def test_repo_apply_removes_objects_no_longer_defined(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    code = ("from featurestore import Entity, FeatureView, Field, ParquetSource\n"
            "from featurestore.types import Float64, String\n"
            "driver = Entity(name='driver', join_keys=['driver_id'])\n"
            "{views}\n")
    one = "s = FeatureView(name='s', entities=[driver], schema=[Field(name='v', dtype=Float64)], " \
          "source=ParquetSource(path='s.parquet'))"
    two = one.replace("'s'", "'t'").replace("s =", "t =").replace("'v', dtype=Float64", "'name', dtype=String")
    (tmp_path / "defs.py").write_text(code.format(views=one + "\n" + two))
    store = FeatureStore(tmp_path)
    store.apply()
    assert [v.name for v in store.list_feature_views()] == ["s", "t"]
    (tmp_path / "defs.py").write_text(code.format(views=one))
    assert str(store.plan()).splitlines()[0] == "- feature_view t"
    store.apply()
    assert [v.name for v in store.list_feature_views()] == ["s"]


def test_bad_definition_module_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    (tmp_path / "broken.py").write_text("x = 1\nraise RuntimeError('boom')\n")
    with pytest.raises(DefinitionError, match=r"broken.py:2: .*boom"):
        FeatureStore(tmp_path).apply()


def test_an_sdk_warning_points_at_the_callers_line(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.apply([driver, view()])
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "online.db").write_text("not a database")  # so the old online rows cannot be deleted
    with pytest.warns(UserWarning, match="could not be deleted") as caught:
        store.apply([], objects_to_delete=[view()])
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, _line_of("objects_to_delete=[view()])"))]


def _line_of(text: str) -> int:
    return next(i for i, line in enumerate(Path(__file__).read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize(("code", "exit_code"), [
    ("import sys\nx = 1\nsys.exit(3)\n", "3"),
    ("import sys\n\nsys.exit()\n", "None"),
    ("x = 1\ny = 2\nraise SystemExit('bye')\n", "'bye'"),
])
def test_a_definitions_module_exiting_is_an_error_naming_it(tmp_path: Path, code: str, exit_code: str) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    (tmp_path / "quits.py").write_text(code)
    with pytest.raises(DefinitionError, match=r"quits.py:3: .*exit.*" + re.escape(exit_code)) as info:
        FeatureStore(tmp_path).plan()
    assert info.value.file == str(tmp_path / "quits.py")


def test_a_definition_error_in_a_module_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    (tmp_path / "bad.py").write_text("from featurestore import Entity\n\nok = Entity(name='a', join_keys=['k'])\n"
                                     "bad = Entity(name='no good', join_keys=['k'])\n")
    with pytest.raises(DefinitionError, match=r"^bad.py:4: entity name 'no good' is invalid"):
        FeatureStore(tmp_path).plan()


def test_an_error_in_a_helper_module_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    (tmp_path / "_helpers.py").write_text("def make():\n    return 1 / 0\n")
    (tmp_path / "defs.py").write_text("from _helpers import make\n\nvalue = make()\n")
    with pytest.raises(DefinitionError, match=r"^defs.py:3: .*ZeroDivisionError.* \(at _helpers.py:2\)$"):
        FeatureStore(tmp_path).plan()


SAME_NAME = """\
from featurestore import Entity, FeatureView, Field, ParquetSource
from featurestore.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
{name} = FeatureView(name="s", entities=[driver], ttl={ttl}, schema=[Field(name="v", dtype=Float64)],
                     source=ParquetSource(path="s.parquet"))
"""


def test_two_objects_of_one_name_in_two_files_name_both(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    (tmp_path / "a.py").write_text(SAME_NAME.format(name="first", ttl="None"))
    (tmp_path / "b.py").write_text("\n" + SAME_NAME.format(name="second", ttl="timedelta(hours=1)")
                                   .replace("from featurestore ", "from datetime import timedelta\nfrom featurestore "))
    with pytest.raises(DefinitionError, match=r"two feature views are named 's': 'first' \(a.py:5\) and "
                                              r"'second' \(b.py:7\)") as info:
        FeatureStore(tmp_path).plan()
    assert info.value.name == "s"
    (tmp_path / "b.py").write_text("from a import first as again\n")  # the same object twice is fine
    assert [c.name for c in FeatureStore(tmp_path).plan().added] == ["driver", "s"]


def test_two_objects_of_one_name_in_one_file(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    (tmp_path / "a.py").write_text(SAME_NAME.format(name="first", ttl="None")
                                   + "driver2 = Entity(name='driver', join_keys=['id'])\n")
    with pytest.raises(DefinitionError, match=r"two entities are named 'driver': 'driver' \(a.py:4\) and "
                                              r"'driver2' \(a.py:7\)"):
        FeatureStore(tmp_path).plan()


def _apply_many(repo: str, registry: str, prefix: str, n: int, start: Any) -> None:
    store = FeatureStore(repo, config=parse_config({"project": "p", "registry": registry}, "test", env={}))
    store.state()  # connected and imported: both processes then start applying together
    start.wait(60)
    for i in range(n):
        store.apply([driver, view(name=f"{prefix}{i}", schema=[Field(name="name", dtype=String)])])


def test_concurrent_applies_from_two_processes_lose_nothing(tmp_path: Path, registry_location: str) -> None:
    """Two processes apply 15 views each at once: every view and every version is there, versions contiguous."""
    _write(tmp_path)
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_apply_many, args=(str(tmp_path), registry_location, p, 15, start))
             for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = FeatureStore(tmp_path, config=parse_config({"project": "p", "registry": registry_location}, "test",
                                                       env={}))
    state, history = store.state(), store.history()
    assert sorted(state.objects["feature_views"]) == sorted([f"a{i}" for i in range(15)] +
                                                            [f"b{i}" for i in range(15)])
    assert state.version == 30  # one version per view; the entity came with the first
    assert [h["version"] for h in history] == list(range(1, 31))
    assert history[-1]["objects"]["feature_views"].keys() == state.objects["feature_views"].keys()
    added = [c for h in history for c in h["changes"]["added"] if c.startswith("feature_view")]
    assert len(added) == len(set(added)) == 30  # each view added once, by the version that added it


def _push_view(name: str, path: str) -> FeatureView:
    return FeatureView(name=name, entities=[driver], schema=[Field(name="v", dtype=Float64)],
                       source=PushSource(name="live", batch_source=ParquetSource(path=path)))


def test_a_push_source_name_is_checked_against_the_registry(tmp_path: Path, registry_location: str) -> None:
    """D2: a later partial apply cannot give a registered push source name a second batch source."""
    store = _store(tmp_path, registry_location)
    pq.write_table(pq.read_table(tmp_path / "s.parquet"), tmp_path / "other.parquet")
    store.apply([driver, _push_view("v1", "s.parquet")])
    with pytest.raises(DefinitionError, match=r"push source 'live'.*'v2'.*'v1'|push source 'live'.*'v1'.*'v2'"):
        store.plan([_push_view("v2", "other.parquet")])
    with pytest.raises(DefinitionError, match=r"push source 'live'.*'v2'.*'v1'|push source 'live'.*'v1'.*'v2'"):
        store.apply([_push_view("v2", "other.parquet")])
    assert store.state().names("feature_views") == ["v1"] and store.state().version == 1
    store.apply([_push_view("v2", "s.parquet")])  # the same push source: fine
    # replacing the one registered view, or deleting it in the same apply, is not a conflict
    store.apply([_push_view("v1", "other.parquet"), _push_view("v2", "other.parquet")])
    store.apply([_push_view("v3", "s.parquet")], objects_to_delete=[_push_view("v1", "other.parquet"),
                                                                    _push_view("v2", "other.parquet")])
    assert store.state().names("feature_views") == ["v3"]


def test_the_registry_cache_sees_every_same_size_rewrite(tmp_path: Path) -> None:
    """D4: a rewrite of the same size within the same mtime tick is still a new file (a new inode)."""
    path = tmp_path / "registry.json"
    registry = Registry(path, "p")
    for i in range(200):
        version = 100 + i % 2  # the same size every time, rewritten faster than the clock ticks
        tmp = tmp_path / "next.json"
        tmp.write_text(json.dumps({"format": 2, "project": "p", "version": version, "objects": {}}))
        os.replace(tmp, path)
        os.utime(path, ns=(10**18, 10**18))  # a coarse clock: every rewrite within one tick
        assert registry.load().version == version, f"rewrite {i} was not seen"

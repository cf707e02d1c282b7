"""Registry history: the state at any version equals the state that was applied then; diffs between any two
versions name every changed field (against a brute-force walk of the registry forms)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from featurestore import FeatureStore, NotFoundError
from featurestore.cli import main
from featurestore.registry.file import RegistryState
from featurestore.registry.history import diff_states, field_changes
from tests.cli_helpers import failed, ok
from tests.lineage.repo import FeatureService, driver, make_repo, odfv, stats, versions


@pytest.fixture
def store(tmp_path: Path, registry_location: str) -> FeatureStore:
    """The versions of ``tests.lineage.repo`` in a registry file, then in PostgreSQL."""
    return versions(tmp_path / "repo", registry=registry_location)


def test_registry_at_each_version_is_the_state_applied_then(tmp_path: Path, registry_location: str) -> None:
    folder = tmp_path / "repo"
    live = FeatureStore(make_repo(folder, registry=registry_location))
    seen: list[RegistryState] = []
    view = stats()
    for objects in ([driver, view], [FeatureService(name="ranking", features=[view])], [stats(ttl_hours=6)],
                    [odfv(stats(ttl_hours=6))]):
        live.apply(objects)
        seen.append(live.state())
    for state in seen:
        assert live.registry_at(state.version).objects == state.objects
        assert live.registry_at(state.version).version == state.version
    assert live.registry_at(0).objects == RegistryState("lin").objects
    assert live.registry_at(3).feature_view("stats").ttl.total_seconds() == 6 * 3600
    assert live.registry_at(2).feature_view("stats").ttl.total_seconds() == 24 * 3600
    with pytest.raises(NotFoundError, match=r"registry version 9 does not exist \(versions 1 to 4") as err:
        live.registry_at(9)
    assert err.value.kind == "registry_version"


def test_diff_names_the_changed_field(store: FeatureStore) -> None:
    diff = store.history_diff(2, 3)
    assert [(c.kind, c.name, c.change) for c in diff.changes] == [("feature_views", "stats", "changed")]
    assert [(f.path, f.before, f.after) for f in diff.changes[0].fields] == [("ttl_seconds", 86400.0, 21600.0)]
    assert "~ feature_view stats\n    ttl_seconds: 86400.0 -> 21600.0" in str(diff)
    later = store.history_diff(3)  # to now
    assert {(c.name, c.change) for c in later.changes} == {("per_km", "added"), ("quotes", "added")}
    back = store.history_diff(4, 1)
    assert {(c.name, c.change) for c in back.changes} == {("per_km", "removed"), ("quotes", "removed"),
                                                          ("ranking", "removed"), ("stats", "changed")}
    assert json.loads(json.dumps(diff.to_dict()))["changes"][0]["fields"] == [
        {"path": "ttl_seconds", "before": 86400.0, "after": 21600.0}]


_ABSENT = object()


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every path of a nested dict (internal nodes included)."""
    out = {prefix}
    if isinstance(value, dict):
        for k, v in value.items():
            out |= _paths(v, (*prefix, str(k)))
    return out


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _expected_changes(a: Any, b: Any) -> dict[str, tuple[Any, Any]]:
    """Brute force by path enumeration: a path is a change when the two sides differ there, are not both dicts,
    and every path above it is a dict on both sides."""
    out = {}
    for path in _paths(a) | _paths(b):
        x, y = _at(a, path), _at(b, path)
        above = all(isinstance(_at(a, path[:i]), dict) and isinstance(_at(b, path[:i]), dict)
                    for i in range(len(path)))
        if above and x != y and not (isinstance(x, dict) and isinstance(y, dict)):
            out[".".join(path)] = (x, y)
    return out


def _random_form(rng: random.Random, depth: int = 0) -> Any:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice([1, 2, "a", "b", None, [1, 2], [2, 1], 1.5])
    return {rng.choice("pqrstu"): _random_form(rng, depth + 1) for _ in range(rng.randint(0, 4))}


@pytest.mark.parametrize("seed", range(200))
def test_field_changes_match_a_brute_force_walk(seed: int) -> None:
    rng = random.Random(seed)
    a, b = _random_form(rng), _random_form(rng)
    if not isinstance(a, dict) or not isinstance(b, dict):
        a, b = {"x": a}, {"x": b}
    found = {c.path: (c.before, c.after) for c in field_changes(a, b)}
    expected = _expected_changes(a, b)
    assert set(found) == set(expected), (a, b)
    for path, (before, after) in expected.items():
        got = found[path]
        assert (before is _ABSENT) == (repr(got[0]) == "(absent)")
        assert (after is _ABSENT) == (repr(got[1]) == "(absent)")
        if before is not _ABSENT:
            assert got[0] == before
        if after is not _ABSENT:
            assert got[1] == after
    if a == b:
        assert found == {}


def test_diff_states_over_random_registry_edits() -> None:
    rng = random.Random(7)
    keys = ["entities", "feature_views", "aggregate_views", "on_demand_feature_views", "feature_services"]
    for _ in range(100):
        a = RegistryState("p", 1, {k: {f"o{i}": _random_form(rng) for i in range(rng.randint(0, 3))} for k in keys})
        b = RegistryState("p", 2, {k: {f"o{i}": _random_form(rng) for i in range(rng.randint(0, 3))} for k in keys})
        diff = diff_states(a, b)
        expected = set()
        for k in keys:
            for n in set(a.objects[k]) | set(b.objects[k]):
                if n not in a.objects[k]:
                    expected.add((k, n, "added"))
                elif n not in b.objects[k]:
                    expected.add((k, n, "removed"))
                elif a.objects[k][n] != b.objects[k][n]:
                    expected.add((k, n, "changed"))
        assert {(c.kind, c.name, c.change) for c in diff.changes} == expected
        assert all(c.fields for c in diff.changes if c.change == "changed")


def test_cli_history_diff_and_describe_version(store: FeatureStore) -> None:
    runner = CliRunner()
    repo = ["--repo", str(store.repo_path)]
    out = ok(runner.invoke(main, ["history", *repo, "--diff", "2", "3"]))
    assert "~ feature_view stats" in out and "ttl_seconds: 86400.0 -> 21600.0" in out
    data = json.loads(ok(runner.invoke(main, ["history", *repo, "--diff", "2", "3", "--json"])))
    assert data["changes"][0]["fields"][0]["path"] == "ttl_seconds"
    assert "VERSION" in ok(runner.invoke(main, ["history", *repo]))
    old = ok(runner.invoke(main, ["describe", *repo, "feature-view", "stats", "--version", "2"]))
    assert "registry_version: 2" in old and "ttl: 1d" in old
    assert "ttl: 6h" in ok(runner.invoke(main, ["describe", *repo, "feature-view", "stats"]))
    err = failed(runner.invoke(main, ["history", *repo, "--diff", "2", "7"]))
    assert "registry version 7 does not exist" in err
    err = failed(runner.invoke(main, ["describe", *repo, "feature-service", "quotes", "--version", "2"]))
    assert "quotes" in err


def test_fields_are_compared_by_name() -> None:
    before = {"schema": [{"name": "conv", "dtype": "Float32"}, {"name": "trips", "dtype": "Int64"}]}
    after = {"schema": [{"name": "acc", "dtype": "Int64"}, {"name": "conv", "dtype": "Float64"}]}
    assert [str(c) for c in field_changes(before, after)] == [
        'schema[acc]: (absent) -> {"dtype": "Int64", "name": "acc"}', 'schema[conv].dtype: "Float32" -> "Float64"',
        'schema[trips]: {"dtype": "Int64", "name": "trips"} -> (absent)']
    reordered = {"schema": list(reversed(before["schema"]))}
    assert field_changes(before, reordered) == []  # the same fields in another order: no change by name


def test_the_current_version_loads_when_its_history_entry_was_lost(tmp_path: Path) -> None:
    """A file registry only: a PostgreSQL registry writes the head and the history row in one transaction."""
    store = versions(tmp_path / "repo")
    lines = store.registry.history_path.read_text().splitlines()
    store.registry.history_path.write_text("\n".join(lines[:-1]) + "\n")  # a crash between the two writes
    assert store.registry_at(4).objects == store.state().objects
    assert store.history_diff(3, 4).changes and store.history_diff(3).changes

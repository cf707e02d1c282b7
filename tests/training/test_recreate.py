"""Re-creation: byte-identical with ``as_of`` after new and late rows land; named differences otherwise."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from featurestore import FeatureService, ReproducibilityError
from featurestore.cli import main
from tests.training.repo import BASE, CUTOFF, NOW, entities, make_store, rows, stats

H = timedelta(hours=1)


def _appends(folder: Path) -> None:
    """New rows (after the cutoff) and late rows (old event times, created after the cutoff) in new files."""
    rows(folder, [(d, CUTOFF + 2 * H, 9.0, 9, CUTOFF + 2 * H) for d in (1, 2)])
    rows(folder, [(d, BASE + 5 * H + H / 4, 7.0, 7, NOW - H) for d in (1, 2, 3)])


def test_as_of_recreates_byte_identically_after_new_and_late_rows(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    ts = store.create_training_set("churn", entities(), store.get_feature_service("ranking"), as_of=CUTOFF)
    before = ts.to_arrow()
    _appends(tmp_path)
    plain = store.get_historical_features(entities(), store.get_feature_service("ranking")).to_arrow()
    assert plain.column("conv") != before.column("conv")  # the late rows do change a set without the cutoff
    done = store.recreate_training_set("churn", 1)
    assert done.identical and done.content_hash == ts.fingerprint and done.bytes_identical is True
    assert any("reads a new file" in n for n in done.notes)
    again = store.create_training_set("churn", entities(), store.get_feature_service("ranking"), as_of=CUTOFF)
    assert again.version == 2 and again.fingerprint == ts.fingerprint
    assert hashlib.sha256(again.path.read_bytes()).digest() == hashlib.sha256(ts.path.read_bytes()).digest()


def test_without_as_of_the_new_rows_are_named(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.create_training_set("churn", entities(), ["stats:conv", "stats:trips"])
    _appends(tmp_path)
    with pytest.raises(ReproducibilityError) as err:
        store.recreate_training_set("churn")
    kinds = [d["kind"] for d in err.value.differences or []]
    assert kinds.count("source_added") == 2 and "rows_after_creation" in kinds
    assert "created without as_of" in err.value.message and "part-" in err.value.message
    assert err.value.name == "churn" and err.value.version == 1


def test_a_rewritten_and_a_removed_file_are_named(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    extra = rows(tmp_path, [(1, BASE + 3 * H + H / 4, 5.0, 5, BASE + 3 * H)])
    store.create_training_set("churn", entities(), ["stats:conv"], as_of=CUTOFF)
    rows(tmp_path, [(1, BASE + 3 * H + H / 4, 6.0, 5, BASE + 3 * H)], extra.name)  # rewritten in place
    with pytest.raises(ReproducibilityError, match=f"source file data/stats/{extra.name} of view stats changed"):
        store.recreate_training_set("churn")
    extra.unlink()
    with pytest.raises(ReproducibilityError, match=f"source file data/stats/{extra.name} of view stats is gone") as e:
        store.recreate_training_set("churn")
    assert [d["kind"] for d in e.value.differences or []] == ["source_missing"]


def test_old_registry_version_recreates_after_the_view_changed(tmp_path: Path) -> None:
    """The issue's case: a set created at registry version 3 re-creates correctly after its view changed at 4."""
    store = make_store(tmp_path)  # version 1
    store.apply([FeatureService(name="other", features=[stats()])])  # 2
    store.apply([FeatureService(name="third", features=[stats()])])  # 3
    assert store.state().version == 3
    ts = store.create_training_set("churn", entities(), ["stats:conv"], as_of=CUTOFF)
    assert ts.manifest.registry_version == 3
    store.apply([stats(ttl_hours=2)])  # 4: the ttl of the view it read
    assert store.state().version == 4
    assert store.recreate_training_set("churn").content_hash == ts.fingerprint  # read as it was at version 3
    fresh = store.create_training_set("churn", entities(), ["stats:conv"], as_of=CUTOFF)
    assert fresh.fingerprint != ts.fingerprint and fresh.manifest.registry_version == 4
    out = CliRunner().invoke(main, ["history", "--repo", str(tmp_path), "--diff", "3", "4"])
    assert out.exit_code == 0, out.output
    assert out.stdout == ("registry version 3 -> 4\n~ feature_view stats\n    ttl_seconds: 172800.0 -> 7200.0\n")
    diff = store.diff_training_sets("churn", 1, 2)
    assert not diff.same_content and "ttl_seconds: 172800.0 -> 7200.0" in str(diff)


def test_a_changed_entity_frame_or_a_missing_one_is_an_error(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    ts = store.create_training_set("churn", entities(), ["stats:conv"], as_of=CUTOFF)
    ts.entities_path.unlink()
    with pytest.raises(ReproducibilityError, match=r"its entity frame .* is gone"):
        store.recreate_training_set("churn")


def test_output_file_gone_still_recreates_from_the_manifest(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    ts = store.create_training_set("churn", entities(), ["stats:conv"], as_of=CUTOFF)
    ts.path.unlink()
    assert store.recreate_training_set("churn").content_hash == ts.fingerprint


def test_on_demand_and_engine_change_notes(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    ts = store.create_training_set("churn", entities(), ["stats:conv"], as_of=CUTOFF)
    manifest = ts.folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"duckdb": "{ts.manifest.engine["duckdb"]}"',
                                                     '"duckdb": "0.0.1"'))
    done = store.recreate_training_set("churn")
    assert any("duckdb" in n and "was 0.0.1" in n for n in done.notes)


def test_fingerprints_footer_csv_and_full_hash(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    ts = store.create_training_set("churn", entities(), ["stats:conv", "profile:age"])
    assert {f.path for f in ts.manifest.sources} == {"data/stats/part-base.parquet", "data/profile.csv"}
    csv = next(f for f in ts.manifest.sources if f.path.endswith(".csv"))
    assert csv.full and csv.fingerprint.startswith("full:")
    parquet = next(f for f in ts.manifest.sources if f.path.endswith(".parquet"))
    assert not parquet.full and parquet.fingerprint.startswith("footer:")
    full = store.create_training_set("churn", entities(), ["stats:conv"], full_hash=True)
    assert all(f.full for f in full.manifest.sources)
    assert store.recreate_training_set("churn", 2).identical


def test_rows_appended_in_place_to_a_csv(tmp_path: Path) -> None:
    """A CSV source without a created column: rows appended after the cutoff are ignored (identical, the change
    noted); a late row (an old event time appended later) cannot be told apart: named, as the README says."""
    store = make_store(tmp_path)
    ts = store.create_training_set("churn", entities(), ["profile:age"], as_of=CUTOFF)
    csv = tmp_path / "data" / "profile.csv"
    with open(csv, "a") as f:
        f.write(f"1,{(CUTOFF + H).isoformat()},99\n")
    done = store.recreate_training_set("churn")
    assert done.content_hash == ts.fingerprint
    assert any("data/profile.csv" in n and "changed" in n for n in done.notes)
    with open(csv, "a") as f:
        f.write(f"1,{(BASE + 2 * H).isoformat()},77\n")
    with pytest.raises(ReproducibilityError, match=r"source file data/profile\.csv of view profile changed"):
        store.recreate_training_set("churn")

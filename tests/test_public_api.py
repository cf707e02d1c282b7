"""The public namespace: everything a user needs is importable from `featurestore`, nothing else leaks."""

import featurestore
import featurestore.types


def test_all_is_complete_and_importable() -> None:
    public = {name for name in dir(featurestore) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(featurestore, name)).__name__ == "module"}
    public_modules = {"expect"}  # modules of the public API (``from featurestore import expect``)
    assert public - modules == set(featurestore.__all__) - {"__version__"} - public_modules
    assert public_modules <= modules and public_modules <= set(featurestore.__all__)
    for name in featurestore.__all__:
        assert getattr(featurestore, name) is not None


def test_issue_contract_names() -> None:
    for name in ["Entity", "Field", "FeatureView", "FeatureService", "ParquetSource", "CsvSource",
                 "DuckDBSource", "FeatureStore", "FeatureStoreError"]:
        assert name in featurestore.__all__
    for t in ["Int32", "Int64", "Float32", "Float64", "String", "Bool", "Bytes", "Timestamp", "Array"]:
        assert t in featurestore.types.__all__


def test_every_error_is_a_feature_store_error() -> None:
    errors = [getattr(featurestore, n) for n in featurestore.__all__ if n.endswith("Error")]
    assert len(errors) > 5
    assert all(issubclass(e, featurestore.FeatureStoreError) for e in errors)

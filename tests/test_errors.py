"""The error tree: declared fields per class, one root, readable reprs."""

from __future__ import annotations

import pickle

import pytest

import featurestore
from featurestore import (
    BusyError,
    DataSourceError,
    FeatureStoreError,
    InputError,
    NotFoundError,
    OfflineStoreError,
    OnlineStoreUnavailableError,
)


def test_fields_are_declared_attributes() -> None:
    err = InputError("entity_df is missing join key 'driver_id'", join_key="driver_id", view="driver_stats")
    assert err.join_key == "driver_id" and err.view == "driver_stats"
    assert err.column is None  # declared but not set
    assert err.fields == {"view": "driver_stats", "join_key": "driver_id"}
    assert str(err) == err.message == "entity_df is missing join key 'driver_id'"


def test_an_undeclared_field_is_refused_where_the_error_is_raised() -> None:
    with pytest.raises(TypeError, match="NotFoundError has no field 'colum'"):
        NotFoundError("x", colum="a")


def test_fields_are_inherited_and_not_shared_between_siblings() -> None:
    assert "source" in DataSourceError.declared_fields()
    assert issubclass(DataSourceError, OfflineStoreError)
    assert "url" in OnlineStoreUnavailableError.declared_fields()
    assert "source" not in InputError.declared_fields()
    assert BusyError.declared_fields()[0] == "view"


def test_repr_and_pickle_keep_the_fields() -> None:
    err = NotFoundError("unknown feature view 'nope'", kind="feature_view", name="nope")
    assert repr(err) == "NotFoundError(\"unknown feature view 'nope'\", kind='feature_view', name='nope')"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is NotFoundError and back.fields == err.fields and back.message == err.message


def test_every_exported_error_is_rooted_and_declares_its_fields() -> None:
    errors = [getattr(featurestore, n) for n in featurestore.__all__ if n.endswith("Error")]
    for cls in errors:
        assert issubclass(cls, FeatureStoreError)
        for name in cls.declared_fields():
            assert hasattr(cls, name), f"{cls.__name__}.{name} has no default"

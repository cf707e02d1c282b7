"""Offline feature tables (``materialize-offline``) of :class:`~featurestore.FeatureStore`.

A mixin of ``FeatureStore`` (kept in its own module so each stays small).
"""

from __future__ import annotations


class FeatureTableMethods:
    """(mixed into :class:`~featurestore.FeatureStore`)"""

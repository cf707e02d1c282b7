"""Reproducible, versioned training sets (create, get, list, recreate, diff) of :class:`~featurestore.FeatureStore`.

A mixin of ``FeatureStore`` (kept in its own module so each stays small).
"""

from __future__ import annotations


class TrainingSetMethods:
    """(mixed into :class:`~featurestore.FeatureStore`)"""

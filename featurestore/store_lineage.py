"""Registry history (old versions, diffs) and lineage of :class:`~featurestore.FeatureStore`.

A mixin of ``FeatureStore`` (kept in its own module so each stays small).
"""

from __future__ import annotations


class LineageMethods:
    """(mixed into :class:`~featurestore.FeatureStore`)"""

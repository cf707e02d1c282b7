"""A training set version as the user holds it: its manifest and its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.errors import RegistryError
from featurestore.frames import to_pandas
from featurestore.training.manifest import ENTITIES, OUTPUT, Manifest


@dataclass(frozen=True)
class TrainingSet:
    """One version of a named training set (``store.create_training_set`` / ``get_training_set``).

    >>> ts = store.get_training_set("churn")                      # doctest: +SKIP
    >>> ts.version, ts.rows, ts.fingerprint[:12]                  # doctest: +SKIP
    (3, 100000, '5f0c2a7e91b4')
    """

    manifest: Manifest
    folder: Path
    """The version's folder: ``<training sets>/<name>/v<version>``."""

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def path(self) -> Path:
        """The output Parquet file."""
        return self.folder / OUTPUT

    @property
    def entities_path(self) -> Path:
        """The entity frame it was computed for (Parquet)."""
        return self.folder / ENTITIES

    @property
    def fingerprint(self) -> str:
        """The content hash of the output (its logical values; see the README)."""
        return self.manifest.content_hash

    @property
    def rows(self) -> int:
        return self.manifest.rows

    def _read(self, path: Path) -> pa.Table:
        try:
            return pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            raise RegistryError(f"training set {self.name!r} version {self.version}: {path.name} cannot be read "
                                f"({err})", path=str(path)) from None

    def to_arrow(self) -> pa.Table:
        """The training set as a ``pyarrow.Table``."""
        return self._read(self.path)

    def to_pandas(self) -> Any:
        """The training set as a pandas DataFrame (the same conversion as ``RetrievalJob.to_pandas``)."""
        table = self.to_arrow()
        given = set(self.manifest.entity.columns) if self.manifest.entity is not None else set()
        return to_pandas(table, [c for c in table.column_names if c not in given])

    def to_polars(self) -> Any:
        """The training set as a polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def entities(self) -> pa.Table:
        """The entity frame the set was computed for."""
        return self._read(self.entities_path)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data, with the folder."""
        return {**self.manifest.to_json(), "folder": str(self.folder)}

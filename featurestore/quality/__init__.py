"""Data quality: a feature view's expectations compiled to DuckDB SQL, evaluated on every write path, and the
``on_invalid`` policies (reject, quarantine, warn) applied to the result.

Layer: between transform and the engines (it may use DuckDB on Arrow tables; the DuckDB offline engine imports
:mod:`featurestore.quality.checks` to build its SQL).
"""

from featurestore.quality.report import ExpectationResult, ValidationReport

__all__ = ["ExpectationResult", "ValidationReport"]

"""On-demand transformations: the runner (offline and online), the row-local check and the row-function lint.

Layer: imports the base modules and ``featurestore.definitions`` only. Polars is imported lazily.
"""

from featurestore.definitions.purity import lint_udf
from featurestore.definitions.rowlocal import check_row_local, expression_inputs
from featurestore.transform.runner import OnDemandRunner

__all__ = ["OnDemandRunner", "check_row_local", "expression_inputs", "lint_udf"]

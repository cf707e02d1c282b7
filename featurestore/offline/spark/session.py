"""The engine's SparkSession: built from :class:`~featurestore.config.SparkOfflineConfig`, errors translated.

One session per process (Spark's own rule): ``getOrCreate`` returns the running one, whose settings then stay.
Workers must run this interpreter (it has pyarrow and duckdb), hence ``PYSPARK_PYTHON``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from featurestore.config import SparkOfflineConfig
from featurestore.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",  # Arrow timestamps come back as UTC instants
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.legacy.parquet.nanosAsLong": "true",  # nanosecond times read as integers, cast back per bucket
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",  # naive times stay naive (as DuckDB reads them)
    "spark.sql.caseSensitive": "true",  # source columns are read as named
    "spark.ui.showConsoleProgress": "false",  # it would print to the caller's terminal
}
"""Settings the engine relies on; ``settings`` of the config come after them (and win)."""

LOCAL = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1", "spark.ui.enabled": "false",
         "spark.driver.memory": "4g"}
"""Extra defaults for ``local[N]`` masters: the host name may resolve to an address that is not this machine, and
the driver JVM is also the executor (Spark's 1 GB default runs out on a 1M-row training set)."""


def open_session(config: SparkOfflineConfig) -> SparkSession:
    """The SparkSession ``config`` describes (or the process's running one); ConfigError when Spark cannot start
    (no Java, a master that does not answer, pyspark missing)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("offline_store type 'spark' needs pyspark: pip install 'featurestore[spark]'",
                          path="offline_store") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings = dict(DEFAULTS)
    remote = config.master.startswith("sc://")
    if config.master.startswith("local"):
        settings.update(LOCAL)
    settings.update(config.settings)
    builder: Any = SparkSession.builder.appName(config.app_name)
    builder = builder.remote(config.master) if remote else builder.master(config.master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session: SparkSession = builder.getOrCreate()
    except Exception as err:  # pyspark raises its own PySparkRuntimeError, Py4J errors or RuntimeError
        raise ConfigError(f"offline_store: Spark did not start with master {config.master!r}: "
                          f"{first_line(err)}{java_hint(err)}", path="offline_store") from None
    return session


def java_hint(err: BaseException) -> str:
    """A hint when the error says Java is missing."""
    text = str(err)
    if "JAVA_GATEWAY_EXITED" in text or "JAVA_HOME" in text or ("java" in text.lower() and "not found" in text):
        return " (is Java 17 or later installed and JAVA_HOME set?)"
    return ""


def first_line(err: BaseException) -> str:
    """The first meaningful line of a Spark / Py4J error, without the Java stack."""
    text = str(err).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace", "---")):
            return line[:500]
    return type(err).__name__

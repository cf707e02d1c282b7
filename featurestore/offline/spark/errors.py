"""Spark's and Py4J's exceptions as featurestore errors naming the views a job read (never a Java stack)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from featurestore.definitions.aggregate_view import SourcedView, view_label
from featurestore.definitions.sources import batch_of
from featurestore.errors import DataSourceError, FeatureStoreError
from featurestore.offline.spark.session import first_line

T = TypeVar("T")


def spark_error(err: BaseException, views: Sequence[SourcedView]) -> FeatureStoreError:
    """A DataSourceError naming ``views`` (the first as ``view``) and Spark's first error line."""
    if isinstance(err, FeatureStoreError):
        return err
    text = first_line(err)
    for line in str(err).splitlines():  # a Python error inside a kernel: its own message is the useful part
        if "FeatureStoreError" in line or ("Error:" in line and "Traceback" not in line):
            text = line.strip()[:500]
    names = ", ".join(f"{view_label(v)} {v.name!r} (source {batch_of(v.source).describe()})" for v in views)
    first = views[0] if views else None
    return DataSourceError(f"Spark failed reading {names or 'the request'}: {text}",
                           view=first.name if first is not None else None,
                           source=batch_of(first.source).describe() if first is not None else None)


@contextmanager
def translated(views: Sequence[SourcedView]) -> Iterator[None]:
    """Run a Spark action; its errors come out as :func:`spark_error` gives them."""
    try:
        yield
    except FeatureStoreError:
        raise
    except Exception as err:  # Py4JJavaError, PySparkException, AnalysisException, ...
        raise spark_error(err, views) from None


def run(views: Sequence[SourcedView], action: Callable[[], T]) -> T:
    """``action()`` with Spark's errors translated."""
    with translated(views):
        return action()

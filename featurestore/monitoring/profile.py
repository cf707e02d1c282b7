"""Statistics per feature: :class:`FeatureProfile` and :class:`Profile` (computed by :mod:`.profiler`).

What each number means:

* ``rows``: rows read; ``nulls``: missing values; ``nans``: NaN values of float features (NaN counts as
  missing: it is kept out of every statistic and distribution, as a null is); ``count``: the other values.
* numeric features: ``min``, ``max``, ``mean``, ``std`` (sample standard deviation, n - 1) over the finite
  values (``infinite`` counts ``±inf``, which only enter the histogram's under/overflow bins); ``quantiles``
  p01 ... p99: exact linear-interpolation quantiles (``quantile_cont``) of the finite values of a sample of at
  most 1M rows (all rows when fewer); ``histogram``: the fine bins anchored at ``q0.005``/``q0.995`` of that
  sample (see :mod:`.histograms`), counted over all rows.
* strings and bools: ``distinct`` (exact) and ``top`` (the 10 most frequent values with their counts).

>>> import pyarrow as pa
>>> from featurestore.monitoring.profiler import profile_table
>>> p = profile_table(pa.table({"x": [1.0, 2.0, None, 4.0], "s": ["a", "b", "a", None]}))
>>> p.features["x"].count, p.features["x"].nulls, p.features["x"].mean, p.features["s"].top
(3, 1, 2.3333333333333335, (('a', 2), ('b', 1)))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from featurestore.monitoring.histograms import NumericBins

QUANTILES: tuple[tuple[str, float], ...] = (
    ("p01", 0.01), ("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95), ("p99", 0.99))
TOP_VALUES = 10


@dataclass(frozen=True)
class Histogram:
    """Counts on fine bins anchored at ``[lo, hi]``: ``counts[0]`` underflow (``x < lo``), ``counts[-1]`` overflow
    (``x >= hi``), 200 bins of width ``(hi - lo) / 200`` between; three bins (below, equal, above) when
    ``lo == hi``."""

    lo: float
    hi: float
    counts: tuple[int, ...]

    @property
    def bins(self) -> NumericBins:
        return NumericBins(self.lo, self.hi)

    def to_dict(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "counts": list(self.counts)}


@dataclass(frozen=True)
class FeatureProfile:
    """The statistics of one feature (see the module docstring). ``kind``: ``numeric``, ``categorical``
    (strings, bools) or ``other`` (counts only)."""

    name: str
    dtype: str
    kind: str
    rows: int
    nulls: int
    count: int
    nans: int = 0
    infinite: int = 0
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)
    histogram: Histogram | None = None
    distinct: int | None = None
    top: tuple[tuple[str, int], ...] = ()
    values: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    """Every category's count (categorical features; what drift compares)."""

    @property
    def missing(self) -> int:
        """Nulls and NaNs."""
        return self.nulls + self.nans

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "kind": self.kind, "rows": self.rows,
                               "nulls": self.nulls, "count": self.count}
        if self.kind == "numeric":
            out.update(nans=self.nans, infinite=self.infinite, min=self.min, max=self.max, mean=self.mean,
                       std=self.std, quantiles=dict(self.quantiles),
                       histogram=self.histogram.to_dict() if self.histogram else None)
        elif self.kind == "categorical":
            out.update(distinct=self.distinct, top=[[v, c] for v, c in self.top])
        return out


def _feature_of(name: str, f: dict[str, Any]) -> FeatureProfile:
    h = f.get("histogram")
    return FeatureProfile(
        name=str(f.get("name", name)), dtype=str(f.get("dtype", "")), kind=str(f.get("kind", "other")),
        rows=int(f.get("rows", 0)), nulls=int(f.get("nulls", 0)), count=int(f.get("count", 0)),
        nans=int(f.get("nans") or 0), infinite=int(f.get("infinite") or 0), min=f.get("min"), max=f.get("max"),
        mean=f.get("mean"), std=f.get("std"), quantiles=dict(f.get("quantiles") or {}),
        histogram=Histogram(float(h["lo"]), float(h["hi"]), tuple(int(c) for c in h["counts"])) if h else None,
        distinct=f.get("distinct"), top=tuple((str(v), int(c)) for v, c in f.get("top") or ()))


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


@dataclass(frozen=True)
class Profile:
    """Statistics per feature of one sample (a view's rows over a time range, a training set, logged values).

    ``str(profile)`` is a table; :meth:`to_dict` is JSON-ready.
    """

    what: str
    rows: int
    features: dict[str, FeatureProfile]
    start: str | None = None
    end: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "rows": self.rows, "start": self.start, "end": self.end,
                "features": {k: f.to_dict() for k, f in self.features.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """The profile of its :meth:`to_dict` form (a training set's manifest keeps its statistics so; the
        categories' full counts, ``values``, are not in it).

        >>> from featurestore.monitoring.profiler import profile_table
        >>> import pyarrow as pa
        >>> p = profile_table(pa.table({"x": [1.0, 2.0, None], "s": ["a", "b", "a"]}))
        >>> Profile.from_dict(p.to_dict()).to_dict() == p.to_dict()
        True
        """
        features = {name: _feature_of(name, f) for name, f in (data.get("features") or {}).items()}
        return cls(str(data.get("what", "")), int(data.get("rows", 0)), features, data.get("start"), data.get("end"))

    def to_text(self) -> str:
        span = f" [{self.start or '-inf'}, {self.end or '+inf'}]" if self.start or self.end else ""
        lines = [f"profile of {self.what}{span}: {self.rows:,} rows"]
        head = ("feature", "type", "count", "nulls", "min", "p50", "max", "mean", "std", "distinct/top")
        rows: list[tuple[str, ...]] = [head]
        for f in self.features.values():
            top = ""
            if f.kind == "categorical":
                top = f"{f.distinct}: " + ", ".join(f"{v}={c}" for v, c in f.top[:3])
            rows.append((f.name, f.dtype, f"{f.count:,}", f"{f.missing:,}", _num(f.min), _num(f.quantiles.get("p50")),
                         _num(f.max), _num(f.mean), _num(f.std), top))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        return "\n".join(lines)

    __str__ = to_text

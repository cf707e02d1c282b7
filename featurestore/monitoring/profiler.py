"""Computing a :class:`~featurestore.monitoring.profile.Profile` from record batches (numpy over Arrow buffers).

Two passes over a :data:`Scan`: a sample of at most :data:`SAMPLE_ROWS` rows gives each numeric feature its
quantiles and, unless given, its histogram anchors (``q0.005``, ``q0.995``); one streaming pass over all rows
then counts nulls, NaNs, moments (sums of ``x - lo``, numerically safe), min, max and the fine bins (``bincount``)
and, for strings and bools, every value's count. Memory stays bounded by a batch (plus one count per distinct
category). Measured on 10M rows x 10 Float64 from Parquet: see ``bench/profile.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.errors import InputError
from featurestore.monitoring.histograms import NumericBins, bins_of
from featurestore.monitoring.profile import QUANTILES, TOP_VALUES, FeatureProfile, Histogram, Profile

SAMPLE_ROWS = 1_000_000
Scan = Callable[[int | None], Iterable[pa.RecordBatch]]
"""``scan(None)``: every row, as record batches; ``scan(n)``: a deterministic sample of at most ``n`` rows (all
rows when there are fewer)."""


def kind_of(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t):
        return "categorical"
    return "other"


def _floats(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if not pa.types.is_float64(col.type):
        col = pc.cast(col, pa.float64())
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


class _Numeric:
    def __init__(self, bins: NumericBins | None) -> None:
        self.bins = bins
        self.shift = bins.lo if bins is not None else None
        self.rows = self.nulls = self.nans = self.infinite = self.n = 0
        self.s1 = self.s2 = 0.0
        self.min = np.inf
        self.max = -np.inf
        self.counts = np.zeros(bins.size if bins else 0, dtype=np.int64)

    def add(self, col: pa.Array) -> None:
        self.rows += len(col)
        self.nulls += col.null_count
        x = _floats(col)
        finite_mask = np.isfinite(x)
        if not finite_mask.all():
            bad = x[~finite_mask]
            nans = int(np.count_nonzero(np.isnan(bad)))
            self.nans += nans - col.null_count
            self.infinite += bad.size - nans
            values = x[~np.isnan(x)]  # ±inf stay: they fall in under/overflow
            x = x[finite_mask]
        else:
            values = x
        if x.size:
            self.min = min(self.min, float(x.min()))
            self.max = max(self.max, float(x.max()))
            if self.shift is None:
                self.shift = float(x[0])
            d = x - self.shift
            self.n += x.size
            self.s1 += float(d.sum())
            self.s2 += float(d @ d)
        if self.bins is None:
            return
        if self.bins.constant or values is not x:
            self.counts += self.bins.count(values)
        else:  # d = x - lo already: bin it in place
            self.counts += self.bins.count_shifted(d) if x.size else 0

    def result(self, name: str, dtype: str, quantiles: dict[str, float]) -> FeatureProfile:
        mean = std = None
        if self.n:
            shift = self.shift or 0.0
            mean = shift + self.s1 / self.n
            if self.n > 1:
                std = float(np.sqrt(max(self.s2 - self.s1 * self.s1 / self.n, 0.0) / (self.n - 1)))
        hist = None
        if self.bins is not None:
            hist = Histogram(self.bins.lo, self.bins.hi, tuple(int(c) for c in self.counts))
        return FeatureProfile(
            name, dtype, "numeric", self.rows, self.nulls, self.rows - self.nulls - self.nans, self.nans,
            self.infinite, float(self.min) if self.n else None, float(self.max) if self.n else None, mean, std,
            quantiles, hist)


class _Categorical:
    def __init__(self) -> None:
        self.rows = self.nulls = 0
        self.values: dict[str, int] = {}

    def add(self, col: pa.Array) -> None:
        self.rows += len(col)
        self.nulls += col.null_count
        counted = pc.value_counts(col)
        boolean = pa.types.is_boolean(col.type)
        for value, count in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(),
                                strict=True):
            if value is None:
                continue
            key = ("true" if value else "false") if boolean else str(value)
            self.values[key] = self.values.get(key, 0) + int(count)

    def result(self, name: str, dtype: str) -> FeatureProfile:
        ranked = sorted(self.values.items(), key=lambda kv: (-kv[1], kv[0]))
        return FeatureProfile(name, dtype, "categorical", self.rows, self.nulls, self.rows - self.nulls,
                              distinct=len(self.values), top=tuple(ranked[:TOP_VALUES]), values=dict(self.values))


class _Other:
    def __init__(self) -> None:
        self.rows = self.nulls = 0

    def add(self, col: pa.Array) -> None:
        self.rows += len(col)
        self.nulls += col.null_count

    def result(self, name: str, dtype: str) -> FeatureProfile:
        return FeatureProfile(name, dtype, "other", self.rows, self.nulls, self.rows - self.nulls)


def compute_profile(what: str, schema: pa.Schema, scan: Scan, features: list[str] | None = None,
                    bins: dict[str, NumericBins] | None = None, start: str | None = None,
                    end: str | None = None, quantiles: bool = True) -> Profile:
    """The :class:`Profile` of ``features`` (default: every column of ``schema``) of the rows ``scan`` yields.

    ``bins``: the histogram anchors of some numeric features (a drift's reference bins); the others get their
    own from the sample. ``quantiles=False``: no sample pass when every numeric feature has its bins (a drift's
    current sample: its quantiles are not reported).
    """
    names = list(schema.names) if features is None else list(features)
    missing = [n for n in names if n not in schema.names]
    if missing:
        raise InputError(f"{what}: no column {missing[0]!r} (columns: {', '.join(schema.names)})",
                         column=missing[0])
    types = {n: schema.field(n).type for n in names}
    numeric = [n for n in names if kind_of(types[n]) == "numeric"]
    found_quantiles: dict[str, dict[str, float]] = {n: {} for n in numeric}
    anchors = dict(bins or {})
    if numeric and (quantiles or any(n not in anchors for n in numeric)):
        sample = {n: [] for n in numeric}  # type: dict[str, list[np.ndarray]]
        for batch in scan(SAMPLE_ROWS):
            for n in numeric:
                x = _floats(batch.column(batch.schema.get_field_index(n)))
                sample[n].append(x[np.isfinite(x)])
        for n in numeric:
            values = np.concatenate(sample[n]) if sample[n] else np.zeros(0)
            if values.size:
                qs = np.quantile(values, [q for _, q in QUANTILES])
                found_quantiles[n] = {label: float(v) for (label, _), v in zip(QUANTILES, qs, strict=True)}
            if n not in anchors:
                found = bins_of(values)
                if found is not None:
                    anchors[n] = found
    accs: dict[str, Any] = {}
    for n in names:
        kind = kind_of(types[n])
        accs[n] = _Numeric(anchors.get(n)) if kind == "numeric" else _Categorical() if kind == "categorical" \
            else _Other()
    rows = 0
    for batch in scan(None):
        rows += batch.num_rows
        for n in names:
            accs[n].add(batch.column(batch.schema.get_field_index(n)))
    out = {}
    for n in names:
        acc = accs[n]
        out[n] = acc.result(n, str(types[n]), found_quantiles[n]) if isinstance(acc, _Numeric) else \
            acc.result(n, str(types[n]))
    return Profile(what, rows, out, start, end)


def table_scan(table: pa.Table, seed: int = 0) -> Scan:
    """A :data:`Scan` of an in-memory table (the sample: rows chosen by a seeded generator, in table order)."""

    def scan(sample_rows: int | None) -> Iterator[pa.RecordBatch]:
        if sample_rows is None or table.num_rows <= sample_rows:
            yield from table.to_batches(max_chunksize=1 << 20)
            return
        picked = np.sort(np.random.default_rng(seed).choice(table.num_rows, sample_rows, replace=False))
        yield from table.take(pa.array(picked)).to_batches()

    return scan


def profile_table(table: pa.Table, what: str = "table", features: list[str] | None = None,
                  bins: dict[str, NumericBins] | None = None) -> Profile:
    """The :class:`Profile` of an Arrow table's columns (``features``: some of them)."""
    return compute_profile(what, table.schema, table_scan(table), features, bins)

"""Expectations: data-quality checks a feature view's rows must pass before they are written.

Build them with the functions of this module (``from featurestore import expect``) and give them to a
:class:`~featurestore.FeatureView` (``expectations=[...]``, ``on_invalid="reject" | "quarantine" | "warn"``).
Columns are the view's names (join keys and features, after ``field_mapping``); ``not_future`` reads the view's
event time. Row-level checks (``not_null``, ``between``, ``in_set``, ``not_future``) count bad rows and can
set them aside; batch checks (``null_ratio``, ``row_count``) judge the batch as a whole. Nulls pass
``between`` and ``in_set`` (``not_null`` catches them).

>>> from featurestore import expect
>>> e = expect.between("conv_rate", 0, 1)
>>> e.label, e.row_level
('between(conv_rate, 0, 1)', True)
>>> expect.not_future(tolerance="5m").label
'not_future(5m)'
>>> Expectation.from_dict(expect.in_set("city", ["ams", "ber"]).to_dict()) == expect.in_set("city", ["ams", "ber"])
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from featurestore.definitions.durations import format_duration, parse_duration, spelled
from featurestore.errors import DefinitionError

ROW_LEVEL = ("not_null", "between", "in_set", "not_future")
"""Checks judged row by row: their bad rows can be quarantined."""
BATCH_LEVEL = ("null_ratio", "row_count")
"""Checks judged on the whole batch: a failure rejects (or warns), it has no bad rows to set aside."""
KINDS = ROW_LEVEL + BATCH_LEVEL
POLICIES = ("reject", "quarantine", "warn")
"""``on_invalid`` values: nothing written / bad rows set aside, good ones written / everything written."""


def _number(value: Any, what: str) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (isinstance(value, float)
                                                                          and not math.isfinite(value)):
        raise DefinitionError(f"expectation {what} must be a finite number, got {value!r}", value=repr(value))
    return value


@dataclass(frozen=True)
class Expectation:
    """One check. Prefer the constructors (:func:`not_null`, :func:`between`, ...); fields by kind:

    ``column`` (every kind but ``row_count`` and ``not_future``), ``min``/``max`` (``between``, ``row_count``;
    ``null_ratio`` uses ``max``), ``values`` (``in_set``), ``tolerance`` (``not_future``: a duration text such
    as ``"5m"``, kept as written).
    """

    kind: str
    column: str | None = None
    min: float | int | None = None
    max: float | int | None = None
    values: tuple[Any, ...] = ()
    tolerance: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DefinitionError(f"unknown expectation kind {self.kind!r}; the kinds are {list(KINDS)}",
                                  value=self.kind)
        needs_column = self.kind not in ("row_count", "not_future")
        if needs_column and (not isinstance(self.column, str) or not self.column):
            raise DefinitionError(f"expectation {self.kind} needs a column name, got {self.column!r}",
                                  value=repr(self.column))
        if not needs_column and self.column is not None:
            raise DefinitionError(f"expectation {self.kind} takes no column", column=self.column)
        lo, hi = _number(self.min, f"{self.kind} min"), _number(self.max, f"{self.kind} max")
        if self.kind in ("between", "row_count") and lo is None and hi is None:
            raise DefinitionError(f"expectation {self.kind}({self.column or ''}) needs min, max or both")
        if lo is not None and hi is not None and lo > hi:
            raise DefinitionError(f"expectation {self.kind}({self.column or ''}): min {lo} is above max {hi}",
                                  value=f"{lo} > {hi}")
        if self.kind == "row_count" and any(v is not None and (v < 0 or v != int(v)) for v in (lo, hi)):
            raise DefinitionError(f"expectation row_count: min and max are whole numbers of rows, got {lo}, {hi}")
        if self.kind == "null_ratio":
            if lo is not None or hi is None or not 0 <= hi <= 1:
                raise DefinitionError(f"expectation null_ratio({self.column}) needs max= between 0 and 1, got "
                                      f"{self.max!r}", column=self.column, value=repr(self.max))
        elif self.kind not in ("between", "row_count") and (lo is not None or hi is not None):
            raise DefinitionError(f"expectation {self.kind} takes no min or max", column=self.column)
        values = tuple(self.values or ())
        if self.kind == "in_set":
            if isinstance(self.values, str | bytes) or not values:
                raise DefinitionError(f"expectation in_set({self.column}) needs a non-empty list of values",
                                      column=self.column, value=repr(self.values))
            bad = [v for v in values if v is None or not isinstance(v, str | int | float | bool)]
            if bad:
                raise DefinitionError(f"expectation in_set({self.column}): values must be strings, numbers or "
                                      f"booleans, got {bad[0]!r}", column=self.column, value=repr(bad[0]))
        elif values:
            raise DefinitionError(f"expectation {self.kind} takes no values", column=self.column)
        tolerance = self.tolerance
        if self.kind == "not_future":
            tolerance = "0s" if tolerance in (None, "0s", timedelta(0)) else spelled(tolerance, "tolerance",
                                                                                     "expectation not_future")
        elif tolerance is not None:
            raise DefinitionError(f"expectation {self.kind} takes no tolerance", column=self.column)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "tolerance", tolerance)

    @property
    def row_level(self) -> bool:
        """Whether the check is judged row by row (its bad rows can be quarantined)."""
        return self.kind in ROW_LEVEL

    @property
    def tolerance_us(self) -> int:
        """``not_future``'s tolerance in microseconds (0 for other kinds)."""
        if not self.tolerance or self.tolerance == "0s":
            return 0
        return parse_duration(self.tolerance, "tolerance")

    @property
    def label(self) -> str:
        """How messages, reports and metrics name the check: ``between(conv_rate, 0, 1)``."""
        if self.kind == "row_count":
            args = [f"min={self.min}"] if self.min is not None else []
            args += [f"max={self.max}"] if self.max is not None else []
        elif self.kind == "not_future":
            args = [format_duration(self.tolerance_us)] if self.tolerance_us else []
        elif self.kind == "between":
            args = [str(self.column), str(self.min), str(self.max)]
        elif self.kind == "in_set":
            args = [str(self.column), "[" + ", ".join(repr(v) for v in self.values) + "]"]
        elif self.kind == "null_ratio":
            args = [str(self.column), f"max={self.max}"]
        else:
            args = [str(self.column)]
        return f"{self.kind}({', '.join(args)})"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        for name in ("column", "min", "max", "tolerance"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.values:
            d["values"] = list(self.values)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Expectation:
        return cls(kind=d["kind"], column=d.get("column"), min=d.get("min"), max=d.get("max"),
                   values=tuple(d.get("values") or ()), tolerance=d.get("tolerance"))


def not_null(column: str) -> Expectation:
    """Every row has a value in ``column``."""
    return Expectation("not_null", column)


def between(column: str, min: float | None = None, max: float | None = None) -> Expectation:
    """Every non-null value of ``column`` is in ``[min, max]`` (either bound may be None: unbounded)."""
    return Expectation("between", column, min=min, max=max)


def in_set(column: str, values: list[Any] | tuple[Any, ...]) -> Expectation:
    """Every non-null value of ``column`` is one of ``values``."""
    return Expectation("in_set", column, values=tuple(values))


def null_ratio(column: str, max: float) -> Expectation:
    """At most the share ``max`` (0 to 1) of the batch's rows have no value in ``column``."""
    return Expectation("null_ratio", column, max=max)


def row_count(min: int | None = None, max: int | None = None) -> Expectation:
    """The batch holds at least ``min`` and at most ``max`` rows."""
    return Expectation("row_count", min=min, max=max)


def not_future(tolerance: str | timedelta = "0s") -> Expectation:
    """No event time is after the current time plus ``tolerance`` (catches ms/µs and year typos)."""
    return Expectation("not_future", tolerance=tolerance if isinstance(tolerance, str) else
                       spelled(tolerance, "tolerance", "expectation not_future") if tolerance else "0s")


def check_for_view(view: str, expectations: Any, columns: dict[str, Any], policy: str) -> tuple[Expectation, ...]:
    """The expectations of feature view ``view`` as a tuple, each column checked against ``columns`` (the view's
    join keys and features: name -> :class:`~featurestore.types.ValueType`, None when not declared), and
    ``policy`` checked."""
    if policy not in POLICIES:
        raise DefinitionError(f"feature view {view!r}: on_invalid {policy!r} is not one of {list(POLICIES)}",
                              name=view, value=policy)
    if isinstance(expectations, Expectation | str | bytes):
        raise DefinitionError(f"feature view {view!r}: expectations must be a list of expect.* checks",
                              name=view)
    out = tuple(expectations or ())
    for e in out:
        if not isinstance(e, Expectation):
            raise DefinitionError(f"feature view {view!r}: expectations must be made with featurestore.expect "
                                  f"(expect.not_null(...), ...), got {e!r:.80}", name=view)
        if e.column is None:
            continue
        if e.column not in columns:
            raise DefinitionError(f"feature view {view!r}: expectation {e.label} names no column of the view; its "
                                  f"columns are {sorted(columns)}", name=view, column=e.column)
        if columns[e.column] is None:  # a join key whose type the registry takes from the source
            continue
        dtype = str(columns[e.column])
        if e.kind == "between" and dtype not in NUMERIC:
            raise DefinitionError(f"feature view {view!r}: expectation {e.label} needs a numeric column; "
                                  f"{e.column!r} is {dtype}", name=view, column=e.column)
        if e.kind == "in_set" and not _fits(dtype, e.values):
            raise DefinitionError(f"feature view {view!r}: expectation {e.label}: the values do not all fit the "
                                  f"type of {e.column!r} ({dtype})", name=view, column=e.column)
    labels = [e.label for e in out]
    dup = next((x for x in labels if labels.count(x) > 1), None)
    if dup:
        raise DefinitionError(f"feature view {view!r}: expectation {dup} is given twice", name=view)
    return out


NUMERIC = ("Int32", "Int64", "Float32", "Float64")


def _fits(dtype: str, values: tuple[Any, ...]) -> bool:
    """Whether every value of an ``in_set`` is of the column's type ``dtype`` (its name)."""
    if dtype == "String":
        return all(isinstance(v, str) for v in values)
    if dtype == "Bool":
        return all(isinstance(v, bool) for v in values)
    if dtype in ("Int32", "Int64"):
        return all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if dtype in ("Float32", "Float64"):
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return False


def parse_staleness(value: Any, owner: str) -> str | None:
    """``max_staleness`` as the registry keeps it (a duration text such as ``"2h"``), or None."""
    if value is None:
        return None
    return spelled(value, "max_staleness", owner)

"""Time, in one place: naive datetimes are UTC; instants travel as UTC epoch microseconds (a BIGINT).

Every module converts through these functions, so "naive means UTC" and the
rounding of finer units (floor to the microsecond, as DuckDB does) cannot drift
between copies.

>>> epoch_us(datetime(1970, 1, 1, 0, 0, 1))
1000000
>>> from_epoch_us(-1).isoformat()
'1969-12-31T23:59:59.999999+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from featurestore.errors import InputError

MIN_US = -(2**63)
"""The smallest BIGINT: an unknown created time (it sorts before every real one)."""
MAX_US = 2**63 - 1
"""The largest BIGINT: sorts after every real time (e.g. "any created time" of an entity row)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}


def to_utc(value: datetime, what: str = "time") -> datetime:
    """``value`` as an aware UTC datetime: a naive one is UTC, an aware one the same instant.

    >>> to_utc(datetime(2024, 1, 31, 12)).isoformat()
    '2024-01-31T12:00:00+00:00'
    >>> from datetime import timezone
    >>> to_utc(datetime(2024, 1, 31, 12, tzinfo=timezone(timedelta(hours=2)))).isoformat()
    '2024-01-31T10:00:00+00:00'
    >>> to_utc("2024-01-31", "start_date")
    Traceback (most recent call last):
    ...
    featurestore.errors.InputError: start_date must be a datetime, got '2024-01-31'
    """
    if not isinstance(value, datetime):
        raise InputError(f"{what} must be a datetime, got {value!r}", field=what)
    if value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def epoch_us(value: datetime) -> int:
    """Microseconds since 1970-01-01 UTC (naive = UTC); exact for every datetime, year 1 to 9999.

    >>> epoch_us(datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    -1
    """
    if value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // ONE_US  # aware subtraction never leaves the datetime range


def from_epoch_us(us: int) -> datetime:
    """The aware UTC datetime of epoch microseconds (``OverflowError`` outside years 1-9999, e.g. the sentinels).

    >>> from_epoch_us(1_700_000_000_000_001).isoformat()
    '2023-11-14T22:13:20.000001+00:00'
    """
    return EPOCH + timedelta(microseconds=us)


def now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def now_us() -> int:
    """The current time as epoch microseconds."""
    return epoch_us(now())


def now_iso() -> str:
    """The current time as ISO-8601 text with ``+00:00``."""
    return now().isoformat()


def parse_iso(text: str, what: str = "time") -> datetime:
    """ISO-8601 text (a date, a datetime, with an offset or ``Z`` or none = UTC) as aware UTC.

    >>> parse_iso("2024-01-31T12:00:00+02:00").isoformat()
    '2024-01-31T10:00:00+00:00'
    >>> parse_iso("2024-01-31").isoformat()
    '2024-01-31T00:00:00+00:00'
    >>> parse_iso("31/01/2024", "end_date")
    Traceback (most recent call last):
    ...
    featurestore.errors.InputError: end_date '31/01/2024' is not an ISO-8601 date or datetime
    """
    try:
        return to_utc(datetime.fromisoformat(str(text).strip()), what)
    except ValueError:
        raise InputError(f"{what} {text!r} is not an ISO-8601 date or datetime", field=what) from None


def time_bound(value: datetime | str | None, what: str = "time") -> datetime | None:
    """An optional time bound given as a datetime (naive = UTC) or ISO-8601 text, as aware UTC; None stays None.

    >>> time_bound("2024-01-31").isoformat(), time_bound(None)
    ('2024-01-31T00:00:00+00:00', None)
    """
    if value is None:
        return None
    return to_utc(value, what) if isinstance(value, datetime) else parse_iso(value, what)


def cutoff(value: datetime | str | None, current: datetime, what: str = "as_of") -> datetime | None:
    """A training set's ``as_of`` cutoff as aware UTC (:func:`time_bound`), refused when later than ``current``
    (a cutoff in the future would let rows that land later in, so the result could change).

    >>> cutoff("2024-01-31", datetime(2024, 2, 1, tzinfo=UTC)).isoformat()
    '2024-01-31T00:00:00+00:00'
    """
    bound = time_bound(value, what)
    if bound is not None and bound > current:
        raise InputError(f"{what} {bound.isoformat()} is in the future (now is {current.isoformat()}): a cutoff must "
                         "be a time already past, or rows landing later would change the training set",
                         name=what)
    return bound


def time_range(start: datetime | str | None, end: datetime | str | None,
               what: str = "") -> tuple[datetime | None, datetime | None]:
    """``(start, end)`` as :func:`time_bound` gives them, refused when ``start`` is after ``end``.

    >>> time_range("2024-02-01", "2024-01-01")
    Traceback (most recent call last):
    ...
    featurestore.errors.InputError: start 2024-02-01T00:00:00+00:00 is after end 2024-01-01T00:00:00+00:00
    """
    prefix = f"{what} " if what else ""
    lo, hi = time_bound(start, f"{prefix}start"), time_bound(end, f"{prefix}end")
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"{prefix}start {lo.isoformat()} is after end {hi.isoformat()}",
                         field=f"{prefix}start")
    return lo, hi


def arrow_epoch_us(column: pa.Array | pa.ChunkedArray, name: str = "time") -> pa.Array:
    """An Arrow timestamp or date column as int64 epoch microseconds (naive = UTC; nanoseconds floored).

    >>> arrow_epoch_us(pa.array([-1, 1999], pa.timestamp("ns", tz="Asia/Tokyo"))).to_pylist()
    [-1, 1]
    >>> arrow_epoch_us(pa.array(["x"]), "ts")
    Traceback (most recent call last):
    ...
    featurestore.errors.InputError: column 'ts' must hold timestamps, not string
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    t = column.type
    if pa.types.is_date(t):
        column = column.cast(pa.timestamp("s"))
        t = column.type
    if not pa.types.is_timestamp(t):
        raise InputError(f"column {name!r} must hold timestamps, not {t}", column=name)
    raw = column.view(pa.int64())  # the stored count of units since the epoch, in UTC (or naive = UTC)
    if t.unit == "ns":
        quotient = pc.divide(raw, 1000)  # truncates toward zero: step back where that rounded up
        return pc.subtract(quotient, pc.cast(pc.less(raw, pc.multiply(quotient, 1000)), pa.int64()))
    result = pc.multiply_checked(raw, _PER_UNIT[t.unit])
    return result if isinstance(result, pa.Array) else pa.array(result)


__all__ = [
    "EPOCH",
    "MAX_US",
    "MIN_US",
    "ONE_US",
    "arrow_epoch_us",
    "epoch_us",
    "from_epoch_us",
    "now",
    "now_iso",
    "now_us",
    "parse_iso",
    "to_utc",
]

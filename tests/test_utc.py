"""featurestore.utc against a brute-force reference: randomized datetimes, every offset, the whole calendar."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from featurestore.errors import InputError
from featurestore.utc import MAX_US, MIN_US, arrow_epoch_us, epoch_us, from_epoch_us, parse_iso, to_utc

ZONES = [ZoneInfo("Asia/Kathmandu"), ZoneInfo("America/St_Johns"), ZoneInfo("Pacific/Chatham"),
         ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]


def _reference_us(value: datetime) -> int:
    """Epoch microseconds the slow way: calendar days, seconds and the offset, counted one by one."""
    offset = value.utcoffset() or timedelta(0)
    days = date(value.year, value.month, value.day).toordinal() - date(1970, 1, 1).toordinal()
    seconds = days * 86400 + value.hour * 3600 + value.minute * 60 + value.second
    offset_us = (offset.days * 86400 + offset.seconds) * 1_000_000 + offset.microseconds
    return seconds * 1_000_000 + value.microsecond - offset_us


def _random_datetime(rng: random.Random) -> datetime:
    """Naive or aware, odd offsets (seconds and microseconds too), pre-1970, the first and the last year."""
    year = rng.choice([1, 2, 1969, 1970, 9999, rng.randint(1, 9999), rng.randint(1900, 2100)])
    naive = datetime(year, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                     rng.randint(0, 59), rng.choice([0, 1, 999_999, rng.randint(0, 999_999)]))
    kind = rng.randrange(4)
    if kind == 0:
        return naive
    if kind == 1:
        return naive.replace(tzinfo=UTC)
    if kind == 2:
        offset = timedelta(minutes=rng.randint(-1439, 1439), seconds=rng.randint(0, 59),
                           microseconds=rng.randint(0, 999_999))
        offset = max(min(offset, timedelta(hours=23, minutes=59)), -timedelta(hours=23, minutes=59))
        return naive.replace(tzinfo=timezone(offset))
    if 2 <= year <= 9998:  # zoneinfo cannot look up the first and last days of the calendar
        return naive.replace(tzinfo=rng.choice(ZONES))
    return naive


@pytest.mark.parametrize("seed", range(20))
def test_epoch_us_matches_the_reference_and_round_trips(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        value = _random_datetime(rng)
        us = epoch_us(value)
        assert us == _reference_us(value), value
        if -62135596800_000_000 <= us <= 253402300799_999_999:  # years 1 to 9999 in UTC
            back = from_epoch_us(us)
            assert back.tzinfo is UTC and epoch_us(back) == us
            offset = value.utcoffset() or timedelta(0)  # wall clock compared: aware == is False in DST gaps
            assert (back + offset).replace(tzinfo=None) == value.replace(tzinfo=None)
            assert to_utc(value) == back and to_utc(value).tzinfo is UTC
            assert parse_iso(value.isoformat()) == back
            assert parse_iso(back.isoformat().replace("+00:00", "Z")) == back


def test_naive_is_utc_and_mixed_comparisons_work() -> None:
    naive = datetime(2026, 3, 1, 4)
    aware = datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert to_utc(naive) < to_utc(aware) and epoch_us(naive) + 3_600_000_000 == epoch_us(aware)


def test_sentinels_are_the_bigint_extremes() -> None:
    assert (MIN_US, MAX_US) == (-(2**63), 2**63 - 1)
    assert pa.array([MIN_US, MAX_US], pa.int64()).to_pylist() == [MIN_US, MAX_US]
    assert epoch_us(datetime(1, 1, 1)) > MIN_US and epoch_us(datetime(9999, 12, 31, 23, 59, 59, 999999)) < MAX_US
    with pytest.raises(OverflowError):
        from_epoch_us(MIN_US)


@pytest.mark.parametrize("bad", ["2024-01-31", date(2024, 1, 31), 1700000000, None])
def test_to_utc_refuses_what_is_not_a_datetime(bad: object) -> None:
    with pytest.raises(InputError, match="start_date must be a datetime"):
        to_utc(bad, "start_date")  # type: ignore[arg-type]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Kathmandu", "America/St_Johns"])
def test_arrow_epoch_us_matches_python_for_every_unit(unit: str, tz: str | None) -> None:
    rng = random.Random(f"{unit}{tz}")
    per_unit = {"s": 10**6, "ms": 10**3, "us": 1}
    if unit == "ns":  # nanoseconds span 1677-2262 only; floored to the microsecond, as DuckDB does
        raw = [rng.randint(-(2**62), 2**62) for _ in range(2000)] + [-1, -999, -1000, -1001, 0, 999, 1000]
        expected = [r // 1000 for r in raw]
    else:
        values = [_random_datetime(rng) for _ in range(2000)]
        raw = [epoch_us(v) // per_unit[unit] for v in values]  # the stored count of units (floored)
        expected = [r * per_unit[unit] for r in raw]
    array = pa.array([*raw, None], pa.int64()).view(pa.timestamp(unit, tz=tz))
    chunked = pa.chunked_array([array.slice(0, 1000), array.slice(1000)])
    assert arrow_epoch_us(chunked, "ts").to_pylist() == [*expected, None]
    if unit == "us":  # and the Arrow values are the datetimes the microseconds stand for
        assert [epoch_us(v) for v in array.to_pylist()[:-1]] == expected


def test_arrow_epoch_us_of_dates_is_midnight_utc() -> None:
    days = [date(1, 1, 1), date(1969, 12, 31), date(1970, 1, 1), date(9999, 12, 31)]
    for kind in (pa.date32(), pa.date64()):
        got = arrow_epoch_us(pa.array(days, kind), "d").to_pylist()
        assert got == [epoch_us(datetime(d.year, d.month, d.day)) for d in days]


def test_arrow_epoch_us_refuses_other_types() -> None:
    with pytest.raises(InputError, match="'created'"):
        arrow_epoch_us(pa.chunked_array([pa.array([1, 2])]), "created")

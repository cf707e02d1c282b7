"""Fixed durations as aggregation windows spell them: ``"90s"``, ``"15m"``, ``"1h"``, ``"7d"`` or a timedelta.

A duration is a whole number of microseconds (integer math on epoch microseconds is the same in SQL and
Python); there are no calendar units (a month has no fixed length).

>>> parse_duration("7d", "window"), format_duration(parse_duration("90m", "window"))
(604800000000, '90m')
>>> format_duration(36 * 3_600_000_000), format_duration(1500)
('36h', '1500us')
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from featurestore.errors import DefinitionError

US = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
_TEXT = re.compile(r"^\s*(\d+)\s*(us|ms|s|m|h|d)\s*$")


def parse_duration(value: Any, what: str, owner: str = "") -> int:
    """``value`` (text such as ``"1h"`` or a timedelta) as a positive number of microseconds.

    ``what`` and ``owner`` name it in the error (``window``, ``aggregate view 'card_txn'``).
    """
    where = f"{owner}: " if owner else ""
    if isinstance(value, timedelta):
        us = value // timedelta(microseconds=1)
        if value != timedelta(microseconds=us):
            raise DefinitionError(f"{where}{what} {value!r} is not a whole number of microseconds", value=str(value))
    elif isinstance(value, str):
        match = _TEXT.match(value)
        if not match:
            raise DefinitionError(
                f"{where}{what} {value!r} is not a duration: write a whole number and a unit, s, m, h or d "
                "(\"90s\", \"15m\", \"1h\", \"7d\"), or a timedelta", value=value)
        us = int(match.group(1)) * US[match.group(2)]
    else:
        raise DefinitionError(f"{where}{what} must be a duration text (\"1h\") or a timedelta, got {value!r}",
                              value=repr(value))
    if us <= 0:
        raise DefinitionError(f"{where}{what} {value!r} must be positive", value=str(value))
    return us


def format_duration(us: int) -> str:
    """The shortest exact spelling of ``us`` microseconds in one unit (``7d``, ``36h``, ``90m``, ``45s``)."""
    for unit in ("d", "h", "m", "s", "ms"):
        if us % US[unit] == 0:
            return f"{us // US[unit]}{unit}"
    return f"{us}us"


def spelled(value: Any, what: str, owner: str = "") -> str:
    """A duration as the registry keeps it: text as written (without spaces), a timedelta in its shortest
    spelling; validated by :func:`parse_duration`."""
    parse_duration(value, what, owner)
    if isinstance(value, str):
        return "".join(value.split())
    return format_duration(parse_duration(value, what, owner))

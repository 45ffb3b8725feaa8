"""When a fact happened, as precisely as the source says: a day, a month, a year or an instant.

A record's dates are intervals, not points (issue 20): ``2023`` means "some day of 2023",
``2023-05`` "some day of May 2023", ``2023-05-04`` that day, and an instant
``2023-05-04T10:30:00+02:00`` that day with the moment that orders several results of it. A
comparison involving a date decides only when every day of its interval gives the same answer
(the pipeline's derive step does that arithmetic); reading ``2023`` as 2023-01-01 would be a
claim the source never made.

:class:`When` is the value a record's date field holds: its first and last possible day, the
instant when one was given, and the text as written (what the record and its JSON Schema give
back). It validates as a pydantic field of its own.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from pydantic_core import core_schema

# YYYY, YYYY-MM, YYYY-MM-DD, or a date with a time (FHIR dateTime / instant): hh:mm, optional
# seconds and fraction, optional zone (Z or ±hh:mm).
PATTERN = (r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
           r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")
_FORM = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")
DESCRIPTION = ("A date: YYYY (some day of that year), YYYY-MM (some day of that month), "
               "YYYY-MM-DD, or YYYY-MM-DDThh:mm[:ss[.fff]][Z|±hh:mm] (the time orders the "
               "results of one day).")


@dataclass(frozen=True, slots=True)
class When:
    """A date as an interval of days (``first`` to ``last``), with the instant if one was
    given and the text as written."""

    first: date
    last: date
    written: str
    instant: datetime | None = None

    @property
    def day(self) -> date | None:
        """The day, when the date names one (else None: a month or a year)."""
        return self.first if self.first == self.last else None

    @property
    def exact(self) -> bool:
        """Whether the date names one day."""
        return self.first == self.last

    @property
    def precision(self) -> str:
        """'year', 'month', 'day' or 'instant'."""
        if self.instant is not None:
            return "instant"
        return "day" if self.exact else ("month" if len(self.written) == 7 else "year")

    def __str__(self) -> str:
        return self.written

    @classmethod
    def of(cls, value: object) -> When:
        """Read a date field's value: text in one of the accepted forms, a ``date`` or a
        ``datetime``; anything else raises ValueError (the record names the field)."""
        if isinstance(value, When):
            return value
        if isinstance(value, datetime):
            return cls(value.date(), value.date(), value.isoformat(), value)
        if isinstance(value, date):
            return cls(value, value, value.isoformat())
        if not isinstance(value, str):
            raise ValueError("a date is expected as text (YYYY, YYYY-MM, YYYY-MM-DD or a "
                             "date and time)")
        return parse_when(value.strip())

    # pydantic: validated by :meth:`of`, written back as written, a string in the schema
    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.of, serialization=core_schema.plain_serializer_function_ser_schema(_written))

    @classmethod
    def __get_pydantic_json_schema__(cls, _core: Any, _handler: Any) -> dict:
        return {"type": "string", "pattern": PATTERN, "description": DESCRIPTION}


def _written(value: object) -> object:
    # in a union (``When | bool``) this serialiser may be offered the other branch's value
    return value.written if isinstance(value, When) else value


@functools.lru_cache(maxsize=8192)  # a cohort repeats its dates; a When is immutable
def parse_when(text: str) -> When:
    """Parse one of the accepted date forms (ValueError naming the form otherwise)."""
    match = _FORM.match(text)
    if match is None:
        raise ValueError(f"'{text[:40]}' is not a date: write YYYY, YYYY-MM, YYYY-MM-DD or "
                         "YYYY-MM-DDThh:mm[:ss][Z|±hh:mm]")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    y = int(year)
    if y < 1:
        raise ValueError(f"'{text}' is not a date (year 0)")
    if month is None:
        return When(date(y, 1, 1), date(y, 12, 31), text)
    m = int(month)
    if not 1 <= m <= 12:
        raise ValueError(f"'{text}' is not a date (month {month})")
    if day is None:
        return When(date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1]), text)
    try:
        the_day = date(y, m, int(day))
    except ValueError:
        raise ValueError(f"'{text}' is not a date (day {day} of {year}-{month})") from None
    if hour is None:
        return When(the_day, the_day, text)
    return When(the_day, the_day, text, _instant(the_day, hour, minute, second, fraction, zone,
                                                 text))


def _instant(day: date, hour: str, minute: str, second: str | None, fraction: str | None,
             zone: str | None, text: str) -> datetime:
    h, mi, s = int(hour), int(minute), int(second or 0)
    if h > 23 or mi > 59 or s > 60:
        raise ValueError(f"'{text}' is not a time of day")
    micro = int((fraction or "0").ljust(6, "0")[:6])
    tz = None
    if zone == "Z":
        tz = UTC
    elif zone is not None:
        sign = -1 if zone[0] == "-" else 1
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 14 or zm > 59:
            raise ValueError(f"'{text}' has no valid time zone")
        tz = timezone(sign * timedelta(hours=zh, minutes=zm))
    return datetime(day.year, day.month, day.day, h, mi, min(s, 59), micro, tzinfo=tz)


def when_or_none(value: object) -> When | None:
    """A date field's value as a :class:`When`, or None (for code reading raw records)."""
    if value is None:
        return None
    try:
        return When.of(value)
    except ValueError:
        return None

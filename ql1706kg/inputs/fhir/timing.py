"""FHIR time as intervals: every date, dateTime, instant, partial date, Period, Timing, Age and
Range a resource is dated by becomes the interval of days it allows.

FHIR lets a date be a year (``2023``: some day of 2023), a month, a day or an instant with its
time zone; a Period may lack its end (not ended when recorded); a Timing bounds a course by a
Period, a Duration or a Range; a Condition's onset may be an age. Reading any of these as one
day (its first) is how a course still running came to be read as ended years ago: here each is
the interval it names, and :func:`record_date` writes the record's form of it (a partial date
when the interval is one, never a day it does not name).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# FHIR date/dateTime/instant (R4 datatypes: the time needs minutes; seconds and zone are
# accepted when absent, as some exports write them).
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                   r"(?:Z|[+-]\d{2}:\d{2})?)?)?)?$")
# UCUM units of time, in days (a month and a year as their longest, for a course's end).
_DAYS: dict[str, int | Decimal] = {"d": 1, "wk": 7, "mo": 31, "a": 366, "h": Decimal(1) / 24,
                                   "min": Decimal(1) / 1440, "s": Decimal(1) / 86400}
_UNIT_WORDS = {"day": "d", "days": "d", "week": "wk", "weeks": "wk", "month": "mo",
               "months": "mo", "year": "a", "years": "a", "yr": "a", "y": "a", "hour": "h",
               "hours": "h"}


@dataclass(frozen=True)
class When:
    """The days a FHIR date names: ``first`` to ``last`` (one day for a full date); ``text`` is
    what the record writes (the partial date, the date, or the dateTime as given; empty for an
    interval that no partial date names)."""

    first: dt.date
    last: dt.date
    text: str

    @property
    def exact(self) -> bool:
        return self.first == self.last


@dataclass(frozen=True)
class Span:
    """A course or a condition in time: when it started, when it ended, and whether it had not
    ended when recorded (``ongoing``). A bound that is not known is None."""

    start: When | None = None
    end: When | None = None
    ongoing: bool = False


def when(value: object) -> When | None:
    """The interval of a FHIR date, dateTime or instant (None when it is none of them)."""
    if not isinstance(value, str):
        return None
    return _when(value)


@functools.lru_cache(maxsize=8192)  # exports repeat their dates over and over
def _when(value: str) -> When | None:
    match = _DATE.match(value.strip())
    if match is None:
        return None
    year, month, day, time = match.groups()
    try:
        if month is None:
            return When(dt.date(int(year), 1, 1), dt.date(int(year), 12, 31), year)
        if day is None:
            last = calendar.monthrange(int(year), int(month))[1]
            return When(dt.date(int(year), int(month), 1),
                        dt.date(int(year), int(month), last), f"{year}-{month}")
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return When(date, date, value.strip() if time else date.isoformat())


def between(first: dt.date | None, last: dt.date | None) -> When | None:
    """The smallest date, month or year that holds every day from ``first`` to ``last`` (None
    when they span more than a year, or one is not known): the record's form of an interval."""
    if first is None or last is None or last < first:
        return None
    if first == last:
        return When(first, last, first.isoformat())
    if (first.year, first.month) == (last.year, last.month):
        month = when(f"{first.year:04d}-{first.month:02d}")
        return month
    if first.year == last.year:
        return when(f"{first.year:04d}")
    return None


def record_date(value: When | None) -> str | None:
    """The record's date of an interval: the date or partial date (no time of day)."""
    if value is None:
        return None
    if value.exact:
        return value.first.isoformat()
    return value.text or None  # an interval no partial date names (an age across two years)


def period(value: object) -> Span | None:
    """A FHIR Period: both ends inclusive; no end means not ended when recorded."""
    if not isinstance(value, dict):
        return None
    start, end = when(value.get("start")), when(value.get("end"))
    if start is None and end is None:
        return None
    return Span(start, end, ongoing=end is None)


def days_of(quantity: object) -> tuple[Decimal, Decimal] | None:
    """The length a Duration or Age says, in days (least, most): UCUM or a word unit."""
    amount = _amount(quantity)
    if amount is None:
        return None
    value, unit = amount
    per = _DAYS[unit]
    least: int | Decimal = {"mo": 28, "a": 365}.get(unit, per)
    return value * Decimal(least), value * Decimal(per)


def _amount(quantity: object) -> tuple[Decimal, str] | None:
    """A Duration's or Age's value and UCUM time unit (a word unit read as UCUM); None when
    either is missing, negative, not finite or not a time (one reading for every caller)."""
    if not isinstance(quantity, dict):
        return None
    try:
        value = Decimal(str(quantity.get("value")))
    except (InvalidOperation, ValueError):
        return None
    unit = str(quantity.get("code") or quantity.get("unit") or "").strip()
    unit = _UNIT_WORDS.get(unit.casefold(), unit)
    if not value.is_finite() or value < 0 or unit not in _DAYS:
        return None
    return value, unit


def _add(day: dt.date, days: Decimal) -> dt.date | None:
    try:
        return day + dt.timedelta(days=float(days))
    except (OverflowError, ValueError):
        return None


def timing(value: object) -> Span | None:
    """A Timing's course: ``repeat.boundsPeriod`` as a Period; ``boundsDuration`` and
    ``boundsRange`` as a course of that length from the first event (its end the interval
    the length allows); else from the first event to the last."""
    if not isinstance(value, dict):
        return None
    events = sorted((w for w in map(when, value.get("event") or []) if w is not None),
                    key=lambda w: w.first)
    repeat = value["repeat"] if isinstance(value.get("repeat"), dict) else {}
    bounds = period(repeat.get("boundsPeriod"))
    if bounds is not None:
        return bounds
    start = events[0] if events else None
    length = days_of(repeat.get("boundsDuration"))
    if length is None and isinstance(repeat.get("boundsRange"), dict):
        low = days_of(repeat["boundsRange"].get("low"))
        high = days_of(repeat["boundsRange"].get("high"))
        length = (low[0] if low else Decimal(0), high[1]) if high else None
    if start is not None and length is not None:
        first, last = _add(start.first, length[0]), _add(start.last, length[1])
        return Span(start, between(first, last))
    if events:
        return Span(events[0], events[-1] if len(events) > 1 else events[0])
    return None


def age_span(value: object, birth: When | None) -> When | None:
    """The days an Age (or a Range of ages) names, from the birth date: 45 years old is any
    day from the 45th birthday to the day before the 46th (calendar years and months)."""
    if birth is None or not isinstance(value, dict):
        return None
    if "low" in value or "high" in value:  # a Range
        low, high = value.get("low"), value.get("high")
    elif value.get("comparator"):
        return None  # '< 45 years': one side only
    else:
        low = high = value
    first = _plus(birth.first, low, 0)
    last = _plus(birth.last, high, 1)
    if first is None or last is None or last <= first:
        return None
    return When(first, last - dt.timedelta(days=1), "")


def _plus(day: dt.date, quantity: object, extra: int) -> dt.date | None:
    """``day`` plus an age (``extra`` more units: the end of 'aged n' is the (n+1)th
    birthday), by the calendar for years and months."""
    amount = _amount(quantity)
    if amount is None:
        return None
    value, unit = amount
    if unit in ("a", "mo") and value == value.to_integral_value():
        months = (int(value) + extra) * (12 if unit == "a" else 1)
        year, month = divmod(day.month - 1 + months, 12)
        try:
            return day.replace(year=day.year + year, month=month + 1,
                               day=min(day.day, calendar.monthrange(day.year + year,
                                                                    month + 1)[1]))
        except ValueError:
            return None
    return _add(day, (value + extra) * Decimal(_DAYS[unit]))


def choice(data: dict, name: str, birth: When | None = None) -> tuple[Span | None, str | None]:
    """The interval of a choice element ``name[x]`` in whichever type it is written, and the
    element found (None: absent). A string or an unreadable value is found but dates nothing."""
    for suffix in ("DateTime", "Instant", "Date", "Period", "Timing", "Age", "Range", "String"):
        key = name + suffix
        if key not in data:
            continue
        value = data[key]
        if suffix in ("DateTime", "Instant", "Date"):
            point = when(value)
            return (Span(point, point) if point else None), key
        if suffix == "Period":
            return period(value), key
        if suffix == "Timing":
            return timing(value), key
        if suffix in ("Age", "Range"):
            days = age_span(value, birth)
            if days is None:
                return None, key
            span = between(days.first, days.last) or days
            return Span(span, span), key
        return None, key  # a string: no date
    return None, None

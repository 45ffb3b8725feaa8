"""Calendar arithmetic the criteria need: completed years, calendar months (clinical-rules).
"""

from __future__ import annotations

import calendar
from datetime import date


def completed_years(born: date, on: date) -> int:
    """Age in completed years: a birthday counts from its day (29 Feb → 1 Mar otherwise)."""
    years = on.year - born.year
    return years - ((on.month, on.day) < (born.month, born.day))


def add_months(start: date, months: int) -> date:
    """The same day ``months`` calendar months later (clamped to the month's last day)."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def calendar_months_apart(earlier: date, later: date) -> int:
    """The fewest whole calendar months m with ``later`` on or before ``earlier`` + m months."""
    months = max(0, (later.year - earlier.year) * 12 + later.month - earlier.month - 1)
    while add_months(earlier, months) < later:
        months += 1
    return months

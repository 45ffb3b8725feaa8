"""When and how strictly a patient is assessed: the as-of date and the screening window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_WINDOW_DAYS = 28
# What an assessment may be: beyond these, date arithmetic overflows or a typing mistake
# (--as-of 0001-01-05, --window-days 100000000) would be taken at its word.
EARLIEST_AS_OF, LATEST_AS_OF = date(1900, 1, 1), date(2100, 12, 31)
MAX_WINDOW_DAYS = 3650


@dataclass(frozen=True)
class Assessment:
    """When and how strictly a patient is assessed."""

    as_of: date
    window_days: int = DEFAULT_WINDOW_DAYS

    def __post_init__(self) -> None:
        if not EARLIEST_AS_OF <= self.as_of <= LATEST_AS_OF:
            raise ValueError(f"the assessment date must lie from {EARLIEST_AS_OF} to "
                             f"{LATEST_AS_OF}, not {self.as_of}")
        if not 0 <= self.window_days <= MAX_WINDOW_DAYS:
            raise ValueError(f"the screening window must be 0 to {MAX_WINDOW_DAYS} days, not "
                             f"{self.window_days}")

    @property
    def window_start(self) -> date:
        """The earliest date a screening result may carry."""
        return self.as_of - timedelta(days=self.window_days)

"""When and how strictly a patient is assessed: the as-of date and the screening window.

The window's default is the protocol's rule parameter ``ql:ScreeningWindowDays`` (28 days in
the bundled ontology); ``--window-days`` / ``window_days=`` override it for a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..protocol.terminology import terminology

# What an assessment may be: beyond these, date arithmetic overflows or a typing mistake
# (--as-of 0001-01-05, --window-days 100000000) would be taken at its word.
EARLIEST_AS_OF, LATEST_AS_OF = date(1900, 1, 1), date(2100, 12, 31)
MAX_WINDOW_DAYS = 3650


@dataclass(frozen=True)
class Assessment:
    """When and how strictly a patient is assessed."""

    as_of: date
    window_days: int = None  # type: ignore[assignment]  # None: the protocol's default

    def __post_init__(self) -> None:
        if self.window_days is None:
            object.__setattr__(self, "window_days", default_window_days())
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


def default_window_days() -> int:
    """The protocol's screening window in days (``ql:ScreeningWindowDays``)."""
    days = terminology().parameter("ScreeningWindowDays")
    if days != days.to_integral_value():
        from ..errors import ShapesError

        raise ShapesError(f"ql:ScreeningWindowDays must be a whole number of days, not {days}")
    return int(days)

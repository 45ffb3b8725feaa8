"""When and how strictly a patient is assessed: the as-of date and the screening window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_WINDOW_DAYS = 28


@dataclass(frozen=True)
class Assessment:
    """When and how strictly a patient is assessed."""

    as_of: date
    window_days: int = DEFAULT_WINDOW_DAYS

    @property
    def window_start(self) -> date:
        """The earliest date a screening result may carry."""
        return self.as_of - timedelta(days=self.window_days)

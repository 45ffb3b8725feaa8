"""Numbers and units as a coordinator reads them: shared by every text that cites a value.
"""

from __future__ import annotations

from decimal import Decimal

from rdflib import Literal

from ..protocol.texts import format_decimal
from .uncertain import describe_interval, interval_of, is_interval

# How UCUM codes read to a coordinator; presentation only, never used for arithmetic.
_UNIT_DISPLAY = {"10*9/L": "×10⁹/L", "10*12/L": "×10¹²/L", "10*3/uL": "×10³/µL",
                 "10*6/uL": "×10⁶/µL", "/uL": "/µL", "umol/L": "µmol/L", "{INR}": "",
                 "[IU]/L": "IU/L", "g/d": "g/day", "mg/d": "mg/day", "mL/min": "mL/min"}


def show_unit(unit: object) -> str:
    """Return a unit as written for people, with a leading space, or '' for none."""
    if unit is None:
        return ""
    shown = _UNIT_DISPLAY.get(str(unit), str(unit))
    return f" {shown}" if shown else ""


def fmt_number(value: object) -> str:
    """Write a number without float noise: 1.50 -> 1.5, 2.3333333 -> 2.33; an interval as
    a coordinator reads it ('below 2', '65 to 66')."""
    if is_interval(value):
        interval = interval_of(value)
        return describe_interval(interval, fmt_number) if interval is not None else str(value)
    if isinstance(value, Literal):
        value = value.toPython()
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    written = str(value)
    key = (type(value), written)  # what the text depends on (-0.0 and 0.0 differ)
    text = _FORMATTED.get(key)
    if text is None:
        if len(_FORMATTED) >= 1 << 16:
            _FORMATTED.clear()
        text = _FORMATTED[key] = _format(Decimal(written))
    return text


_FORMATTED: dict[tuple[type, str], str] = {}  # a cohort repeats its numbers


_format = format_decimal  # one formatter: limits in protocol texts are written the same way

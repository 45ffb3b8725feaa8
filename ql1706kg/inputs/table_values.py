"""One cell of a long-format table read as a value (a text, yes/no, a number, a date, a coded
name): the cell layer of :mod:`.tables`, which assembles a patient's rows into its record. A cell
that cannot be read raises :class:`RowError` naming its column, never a value that could count.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

TRUE, FALSE = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}


class RowError(ValueError):
    """A row that cannot be read; names the column."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def coded(row: dict[str, Any]) -> str | dict:
    code, system = text(row, "code"), text(row, "system")
    if code and system:
        out: dict[str, Any] = {"system": system, "code": code}
        if row.get("value") not in (None, ""):
            out["display"] = str(row["value"])
        return out
    name = text(row, "value") or code
    if not name:
        raise RowError("value", "a name (value) or a code with its system is needed")
    return name


def text(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return value.strip() if type(value) is str else "" if value is None else str(value).strip()


_YES_NO = {**dict.fromkeys(TRUE, True), **dict.fromkeys(FALSE, False)}


def yes_no(row: dict[str, Any]) -> bool:
    value = row.get("value")  # text(row, "value"), inline: a supplement's most common cell
    said = value.strip() if type(value) is str else "" if value is None else str(value).strip()
    found = _YES_NO.get(said.casefold())
    if found is None:
        raise RowError("value", f"'{row.get('value')}' is not yes or no")
    return found


def numeric(row: dict[str, Any], column: str) -> float:
    value = row.get(column)
    if type(value) is not str and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).replace(",", ".").strip())
    except ValueError:
        raise RowError(column, f"'{value}' is not a number") from None


def number_or_word(value: Any) -> float | str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    said = str(value).strip()
    try:
        return float(said.replace(",", ".")) if said.replace(",", ".").replace(".", "", 1) \
            .lstrip("-").isdigit() else said
    except ValueError:
        return said


_DATES: dict[str, str] = {}  # a date cell's text -> its date, read once a process
DATES_KEPT = 100_000  # (a table's dates are far fewer: a site's visits, not its rows)


def date(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if type(value) is str:  # a text cell (any CSV cell): its reading, once per text
        said = value.strip()
        found = _DATES.get(said)
        if found is not None:
            return found
    elif isinstance(value, dt.datetime):
        return value.date().isoformat()
    elif isinstance(value, dt.date):
        return value.isoformat()
    else:
        said = text(row, column)
    try:
        found = dt.date.fromisoformat(said[:10]).isoformat()
    except ValueError:
        raise RowError(column, f"'{said}' is not a date (YYYY-MM-DD)") from None
    if len(_DATES) >= DATES_KEPT:
        _DATES.clear()
    _DATES[said] = found
    return found


def optional_date(row: dict[str, Any]) -> str | None:
    return date(row, "date") if row.get("date") not in (None, "") else None


def dated(row: dict[str, Any]) -> dict[str, str]:
    """{"date": the date column's date} when it has one, else {}."""
    return {"date": date(row, "date")} if row.get("date") not in (None, "") else {}

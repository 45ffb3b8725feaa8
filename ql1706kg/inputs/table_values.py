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
    return "" if value is None else str(value).strip()


def yes_no(row: dict[str, Any]) -> bool:
    said = text(row, "value").casefold()
    if said in TRUE:
        return True
    if said in FALSE:
        return False
    raise RowError("value", f"'{row.get('value')}' is not yes or no")


def numeric(row: dict[str, Any], column: str) -> float:
    value = row.get(column)
    if isinstance(value, int | float) and not isinstance(value, bool):
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


def date(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    said = text(row, column)
    try:
        return dt.date.fromisoformat(said[:10]).isoformat()
    except ValueError:
        raise RowError(column, f"'{said}' is not a date (YYYY-MM-DD)") from None


def optional_date(row: dict[str, Any]) -> str | None:
    return date(row, "date") if row.get("date") not in (None, "") else None


def dated(row: dict[str, Any]) -> dict[str, str]:
    when = optional_date(row)
    return {"date": when} if when else {}

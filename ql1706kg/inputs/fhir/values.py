"""Values in FHIR resources: dates, results, reference ranges and project values as records
write them.

A FHIR date may be partial, a result may be a Quantity, a code, a word or a boolean, and a
reference range may apply to one sex and be in another unit than its result: turning those
into the record's exact text and dates is one concern, shared by the resource families, so it
lives here, above the codes it reads and below the readers that use it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from ...errors import UnitError
from ...protocol.terminology import Terminology
from ...protocol.units import convert
from .codes import _codes, _project_code, _text

UCUM = "http://unitsofmeasure.org"


def _date(value: object) -> dt.date | None:
    """The calendar date of a FHIR date or dateTime, as written (its own time zone)."""
    if not value:
        return None
    text = str(value)
    try:
        if len(text) == 4:
            return None  # a year alone is too vague for a screening date
        if len(text) == 7:
            return None
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _has_value(part: dict) -> bool:
    return any(key.startswith("value") for key in part)


def _value(part: dict, term: Terminology) -> tuple[str | float | int, str | None]:
    """The result as the record writes it: a number kept exact as text, or a word/code."""
    if "valueQuantity" in part:
        quantity = part["valueQuantity"]
        unit = quantity.get("code") if quantity.get("system") == UCUM else None
        return _exact(quantity.get("value")), unit or quantity.get("unit")
    if "valueInteger" in part:
        return part["valueInteger"], None
    if "valueCodeableConcept" in part:
        concept = part["valueCodeableConcept"]
        for coding in concept.get("coding") or []:
            hit = term.find(str(coding["code"])) if coding.get("code") else None
            if hit is not None:
                return term.label(hit), None  # the grade's own name, e.g. "urine protein 2+"
        return _text(concept) or "", None
    if "valueString" in part:
        return str(part["valueString"]), None
    if "valueBoolean" in part:
        return "positive" if part["valueBoolean"] else "negative", None
    return "", None


def _exact(value: object) -> str:
    """A JSON number as exact decimal text (1.4 stays 1.4, never 1.3999...); anything else as
    written, for the record's validation to refuse with its field named ('' when absent)."""
    number = _decimal(value)
    if number is not None:
        return str(number)
    return "" if value is None else str(value)


_SEX_CODES = {"248153007": "male", "248152002": "female"}  # SNOMED CT, as FHIR examples use


def _range(ranges: list[dict], unit: str | None, sex: str | None
           ) -> tuple[str | None, str | None]:
    """ULN and LLN from the reference range that applies to this patient's sex (else one that
    applies to everyone, else the first), converted to the value's unit."""
    usable = [r for r in ranges if r.get("high") is not None or r.get("low") is not None]

    def applies_to(item: dict) -> set[str]:
        out = set()
        for concept in item.get("appliesTo") or []:
            words = {_SEX_CODES.get(c) for c in _codes(concept)} | {
                (_text(concept) or "").casefold()}
            out |= words & {"male", "female"}
        return out

    chosen = (next((r for r in usable if sex and sex in applies_to(r)), None)
              or next((r for r in usable if not applies_to(r)), None)
              or (usable[0] if usable else None))
    if chosen is None:
        return None, None
    return _in_unit(chosen.get("high"), unit), _in_unit(chosen.get("low"), unit)


def _in_unit(quantity: dict | None, unit: str | None) -> str | None:
    if not quantity or quantity.get("value") is None:
        return None
    value = _decimal(quantity["value"])
    if value is None:
        return None
    own = quantity.get("code") or quantity.get("unit")
    if own and unit and own != unit:
        try:
            value = convert(value, own, unit)
        except UnitError:
            return None
    return str(value)


def _project_value(part: dict) -> Any:
    if "valueBoolean" in part:
        return bool(part["valueBoolean"])
    if "valueQuantity" in part:
        number = _decimal((part["valueQuantity"] or {}).get("value"))
        return float(number) if number is not None else None
    if "valueCodeableConcept" in part:
        code = _project_code(part["valueCodeableConcept"])
        return code.replace("-", "_") if code else None
    if "valueInteger" in part:
        return part["valueInteger"]
    if "valueString" in part:
        return part["valueString"]
    return None


def _decimal(value: object) -> Decimal | None:
    """A FHIR decimal as an exact, finite Decimal; None for anything else (the record's own
    validation then names the field, or the fact is not read)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None

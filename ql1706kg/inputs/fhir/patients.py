"""What a Patient resource says of the person: whether they are a candidate at all, their birth
date as the interval it really names, and their death.

A Patient is no candidate when it is not a human subject (the ``patient-animal`` extension),
when its record is not in use (``active`` false: merged or obsolete, FHIR's modifier) or
replaced by another (``link`` of type replaced-by), or when it is set aside (a file of another
FHIR release, a modifier the reader does not understand): the person is then an error entry
naming why, never screened and never lost. A birth date is a date, a year-month or a year, and
an extension on ``_birthDate`` may say it is not exact (a data-absent-reason, a national
date-accuracy extension): it is then only as precise as the extension says (the element table's
``date_accuracy``), else not known.
"""

from __future__ import annotations

import re

from .codes import _text
from .elements import element_table
from .entries import Entry
from .semantics import modifier_problem
from .timing import When, when

ANIMAL = "http://hl7.org/fhir/StructureDefinition/patient-animal"  # R4 core extension
_PRECISION = {"year": 4, "month": 7, "day": 10}
# A date-accuracy code that says, for the day, the month and the year, whether each is Accurate,
# Estimated or Unknown (the Australian date-accuracy-indicator: AAA, AAU, UEA, UUU...).
_DMY = re.compile(r"^[AEU]{3}$")


def not_a_candidate(patient: Entry) -> tuple[str, str] | None:
    """Why a Patient is no candidate for screening (element, reason), or None."""
    data = patient.data
    if patient.aside is not None:
        return patient.aside[0], f"set aside: {patient.aside[1]}"
    problem = modifier_problem("Patient", data)
    if problem is not None:
        return problem[0], f"set aside: {problem[1]}"
    for extension in data.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == ANIMAL:
            species = next((_text(part.get("valueCodeableConcept"))
                            for part in extension.get("extension") or []
                            if isinstance(part, dict) and part.get("url") == "species"), None)
            return ("Patient.extension:animal",
                    f"not a human subject (patient-animal extension, species "
                    f"{species or 'not given'})")
    if data.get("active") is False:
        return "Patient.active", "a record not in use (active false: merged or obsolete)"
    for link in data.get("link") or []:
        if isinstance(link, dict) and link.get("type") == "replaced-by":
            other = (link.get("other") or {}).get("reference") if isinstance(
                link.get("other"), dict) else None
            return "Patient.link", (f"replaced by {other or 'another record'} (link "
                                    "replaced-by): screen that record")
    return None


def birth_date(data: dict) -> tuple[When | None, str | None]:
    """The birth date as the interval it names, and a note when it is not an exact day."""
    written = data.get("birthDate")
    extensions = [e for e in (data.get("_birthDate") or {}).get("extension") or []
                  if isinstance(e, dict)] if isinstance(data.get("_birthDate"), dict) else []
    accuracy = element_table().date_accuracy
    precision = 10
    unreadable = None
    for extension in extensions:
        url = str(extension.get("url") or "")
        if url in accuracy["harmless"]:
            continue
        if url in accuracy["absent"]:
            return None, "birthDate is absent (data-absent-reason), so the age is not known"
        found = _precision(extension, accuracy["precision_codes"])
        if found is None:
            unreadable = url
        precision = min(precision, found if found is not None else 0)
    interval = when(written) if isinstance(written, str) else None
    if interval is None:
        return None, (f"birthDate '{written}' cannot be read" if written else None)
    if precision < len(interval.text[:10]):
        if precision < 4:
            return None, (f"birthDate '{written}' carries an extension ({unreadable}) that may "
                          "say it is not exact, so the age is not known" if unreadable else
                          f"birthDate '{written}' is not known to its year (an extension on "
                          "its accuracy says so), so the age is not known")
        interval = when(interval.text[:precision])
        return interval, (f"birthDate '{written}' is exact to its "
                          f"{'year' if precision == 4 else 'month'} only (an extension on its "
                          "accuracy says so)")
    if not interval.exact:
        return interval, f"birthDate '{written}' is partial, so the age is known within a range"
    return interval, None


def _precision(extension: dict, codes: dict[str, str]) -> int | None:
    """How many characters of a date an accuracy extension says are known (4, 7, 10), from
    any code or string it carries (nested extensions too); None when it names none."""
    stack = [extension]
    while stack:
        item = stack.pop()
        for key, value in item.items():
            if key == "extension" and isinstance(value, list):
                stack += [v for v in value if isinstance(v, dict)]
            elif key.startswith("value"):
                candidates = [value] if isinstance(value, str) else [
                    c.get("code") for c in (value.get("coding") or [value])
                    if isinstance(c, dict)] if isinstance(value, dict) else []
                for code in candidates:
                    text = str(code) if code is not None else ""
                    if _DMY.match(text):  # day, month, year each Accurate/Estimated/Unknown
                        _day, month, year = text
                        return (10 if text == "AAA" else 7 if month == year == "A"
                                else 4 if year == "A" else 0)
                    meaning = codes.get(text)
                    if meaning is not None:
                        return _PRECISION.get(meaning, 0)
    return None


def deceased(data: dict) -> str | bool | None:
    """``deceased[x]`` in the record's form: the date of death, or True (a flag, or a death
    date too partial to compare with the assessment date: never screened as alive)."""
    if data.get("deceasedBoolean") is True:
        return True
    died = data.get("deceasedDateTime")
    if died:
        return str(died)[:10] if len(str(died)) >= 10 else True
    return None


def first_identifier(data: dict) -> str | None:
    for identifier in data.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            return identifier["value"]
    return None

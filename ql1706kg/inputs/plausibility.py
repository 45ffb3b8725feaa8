"""What a record may not hold: values no patient can have, and dates that contradict each other.

The rule above all: a fact we cannot trust never makes a patient eligible. A well-formed record
can still hold an impossible fact (an AST of -50 U/L, a creatinine of 0, an ANC of 3,000 ×10⁹/L,
a birth after the consent, an ICF dated 9999-12-31); screened, it would give an outcome (an AST
of -50 is "below the limit") or an absurd explanation ("age 8031 years"). Such a record is
refused with its file, record and field named, and the rest of the batch is screened.

Three layers, each with one entry point:
* :func:`json_problem` checks the JSON value before the model sees it: nesting depth, finite and
  sane numbers, text length, lone surrogates, control characters (none at all in an id).
* :func:`record_problem` checks a validated record against the protocol's data: each test's
  plausible range (``ql:plausibleMinimum``/``ql:plausibleMaximum`` in the ontology, in the
  test's canonical unit), normal limits above zero, and dates that contradict each other.
* :func:`date_problem` checks the dates against the assessment date: a date years after it is
  a typing mistake, not a fact to set aside.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from ..errors import UnitError
from ..protocol.namespaces import QL
from ..protocol.terminology import TestInfo, terminology
from ..protocol.units import convert
from .models import Coded, PatientRecord

MAX_DEPTH = 16  # a record nests 4 levels deep; anything deeper is not a record
MAX_TEXT = 4_000  # characters in any text value
MAX_ID = 128  # characters in a patient id
MAX_MAGNITUDE = 10**12  # no number a record holds comes near it
EARLIEST = date(1900, 1, 1)  # no date of a living patient's record is older
FUTURE_SLACK = timedelta(days=365)  # later than as-of by more than this: a typing mistake

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, CR and LF are text
_ID_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # an id is one plain line


def json_problem(value: object) -> tuple[str, str] | None:
    """The first thing in a JSON value that no record may hold, as (field path, message)."""
    stack: list[tuple[object, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path, f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = _text_problem(key, MAX_TEXT)
                if problem:
                    return path or "(record)", f"a field name {problem}"
                stack.append((child, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1)
                         for i, child in reversed(list(enumerate(item))))
        else:
            problem = _scalar_problem(item, id_field=(path == "id"))
            if problem:
                return path or "(record)", problem
    return None


def _scalar_problem(item: object, id_field: bool) -> str | None:
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, float) and not math.isfinite(item):
        return "is not a finite number (NaN or infinity)"
    if isinstance(item, int | float) and abs(item) > MAX_MAGNITUDE:
        return f"is a number beyond {MAX_MAGNITUDE:.0e}, which no record holds"
    if isinstance(item, str):
        problem = _text_problem(item, MAX_ID if id_field else MAX_TEXT)
        if problem:
            return problem
        if id_field and _ID_CONTROL.search(item):
            return "holds a control character (a line break, tab…); an id is one plain line"
    return None


def _text_problem(text: str, limit: int) -> str | None:
    if len(text) > limit:
        return f"is longer than {limit:,} characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds an invalid character (a lone UTF-16 surrogate)"
    if _CONTROL.search(text):
        return "holds a control character"
    return None


def record_problem(record: PatientRecord) -> tuple[str, str] | None:
    """The first impossible value or contradiction in a validated record, as (field, message)."""
    for index, obs in enumerate(record.observations):
        problem = _observation_problem(obs)
        if problem is not None:
            field, message = problem
            return f"observations[{index}].{field}", message
    return _dates_problem(record)


def _observation_problem(obs) -> tuple[str, str] | None:
    for name in ("uln", "lln"):
        limit = getattr(obs, name)
        if limit is not None and limit <= 0 and not (name == "lln" and limit == 0):
            return name, (f"a {'upper' if name == 'uln' else 'lower'} limit of normal of "
                          f"{limit:g} is impossible (it must be above 0)")
    if obs.uln is not None and obs.lln is not None and obs.lln >= obs.uln:
        return "lln", (f"the lower limit of normal ({obs.lln:g}) is not below the upper "
                       f"({obs.uln:g})")
    value = _number(obs.value)
    if value is None:
        return None
    if not value.is_finite() or abs(value) > MAX_MAGNITUDE:
        return "value", f"'{obs.value}' is not a finite number of sane size"
    info = _test_of(obs.test)
    if info is None:
        return None
    if value < 0:
        return "value", f"a {info.label} result cannot be negative ({value})"
    return _range_problem(info, value, obs.unit)


def _range_problem(info: TestInfo, value: Decimal, unit: str | None) -> tuple[str, str] | None:
    """The value against the test's plausible range, in the test's canonical unit."""
    low, high = info.plausible_min, info.plausible_max
    if low is None and high is None:
        return None
    if info.canonical_unit is None:
        canonical, shown = value, f"{value}"
    else:
        try:
            canonical = convert(value, unit, info.canonical_unit, info.molar_mass,
                                info.unit_aliases)
        except UnitError:
            return None  # an unconvertible unit makes the criterion unknown (derive says why)
        shown = f"{value} {unit or ''}".strip()
    in_unit = f" {info.canonical_unit}" if info.canonical_unit else ""
    if (low is not None and canonical < low) or (high is not None and canonical > high):
        return "value", (f"a {info.label} of {shown} is outside what a patient can have "
                         f"({low}–{high}{in_unit}); check the value and its unit")
    return None


def _number(value: float | str) -> Decimal | None:
    if isinstance(value, float | int):
        return Decimal(str(value))
    try:
        return Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        return None


def _test_of(test: str | Coded) -> TestInfo | None:
    term = terminology()
    if isinstance(test, Coded):
        hit = term.find_code(test.system, test.code, QL.Test)
        if hit is None and test.display:
            hit = term.find(test.display, QL.Test)
    else:
        hit = term.find(test, QL.Test)
    return term.tests.get(hit) if hit is not None else None


def _dated_fields(record: PatientRecord) -> Iterator[tuple[str, date]]:
    """Every date a record holds, with its field path (the birth date excepted)."""
    if record.consent and record.consent.icf_signed:
        yield "consent.icf_signed", record.consent.icf_signed
    if record.diagnosis and record.diagnosis.date:
        yield "diagnosis.date", record.diagnosis.date
    for name in ("metastases", "prior_therapies", "tumour_measurements", "lesions",
                 "observations", "supportive_care"):
        for index, item in enumerate(getattr(record, name) or ()):
            for key in ("date", "start", "end"):
                when = getattr(item, key, None)
                if when is not None:
                    yield f"{name}[{index}].{key}", when
    for name in ("recist", "expected_survival"):
        section = getattr(record, name)
        if section is not None and section.date is not None:
            yield f"{name}.date", section.date


def _dates_problem(record: PatientRecord) -> tuple[str, str] | None:
    born = record.birth_date
    if born is not None and born < EARLIEST:
        return "birth_date", f"a birth date of {born} is before {EARLIEST.year}"
    for field, when in _dated_fields(record):
        if when < EARLIEST:
            return field, f"a date of {when} is before {EARLIEST.year}"
        if born is not None and when < born:
            return "birth_date", f"the birth date {born} is after {field} ({when})"
    if isinstance(record.deceased, date) and born is not None and record.deceased < born:
        return "deceased", f"the date of death {record.deceased} is before the birth {born}"
    for index, therapy in enumerate(record.prior_therapies or ()):
        if therapy.start and therapy.end and therapy.end < therapy.start:
            return (f"prior_therapies[{index}].end",
                    f"the regimen ends ({therapy.end}) before it starts ({therapy.start})")
    return None


def date_problem(record: PatientRecord, as_of: date) -> tuple[str, str] | None:
    """A date that no assessment on ``as_of`` can take as written: the birth after the
    assessment, or any date more than a year after it (9999-12-31 is a typing mistake; a date
    a few days after it is only set aside)."""
    if record.birth_date is not None and record.birth_date > as_of:
        return "birth_date", f"the birth date {record.birth_date} is after the assessment " \
                             f"date {as_of}"
    dead = record.deceased
    if dead is True or (isinstance(dead, date) and dead <= as_of):
        on = f" on {dead}" if isinstance(dead, date) else ""
        return "deceased", f"recorded as deceased{on}: not a candidate, not screened"
    for field, when in _dated_fields(record):
        if when > as_of + FUTURE_SLACK:
            return field, (f"{when} is more than a year after the assessment date {as_of}; "
                           "check the date")
    return None

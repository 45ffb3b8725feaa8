"""What a record may not hold: values no patient can have, and dates that contradict each other.

The rule above all: a fact we cannot trust never makes a patient eligible, and one doubtful fact
never costs the rest of the record (issue 20). A well-formed record can still hold an impossible
fact (an AST of -50 U/L, a creatinine of 0, an ANC of 3,000 ×10⁹/L, a birth after the consent, a
regimen that ends before it starts); screened, it would give an outcome (an AST of -50 is "below
the limit") or an absurd explanation ("age 8031 years"). Such a fact is *set aside*: taken out of
the record and listed in its ``set_aside`` with the field and the reason, so every criterion that
reads it is at best unknown, naming it, and the rest of the record is screened.

Three layers, each with one entry point:
* :func:`json_problem` checks the JSON value before the model sees it: nesting depth, finite and
  sane numbers, text length, lone surrogates, control characters (none at all in an id). These
  are structural: the record is refused.
* :func:`implausible` lists what a validated record holds that no patient can have: each test's
  plausible range (``ql:plausibleMinimum``/``ql:plausibleMaximum`` in the ontology, in the
  test's canonical unit), normal limits above zero, and dates that contradict each other;
  :func:`without_implausible` sets them aside. Only a death before the birth refuses the record
  (:func:`record_problem`): a record that says the patient died is not screened at all.
* :func:`date_problem` checks the record against the assessment date: a patient not yet born or
  already dead is not screened. A date after the assessment date, however far, is a fact the
  screen does not see yet (a retrospective screen), not an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from ..errors import UnitError
from ..protocol.namespaces import QL
from ..protocol.terminology import TestInfo, terminology
from ..protocol.units import convert
from .models import Coded, PatientRecord, SetAside
from .when import When

MAX_DEPTH = 16  # a record nests 4 levels deep; anything deeper is not a record
MAX_TEXT = 4_000  # characters in any text value
MAX_ID = 128  # characters in a patient id
MAX_MAGNITUDE = 10**12  # no number a record holds comes near it
EARLIEST = date(1900, 1, 1)  # no date of a living patient's record is older

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


@dataclass(frozen=True)
class Problem:
    """An implausible fact: its field, why, and where it sits (section, item index, test)."""

    field: str
    message: str
    section: str
    index: int | None = None  # the item in a list section (None: the section's own field)
    test: str | Coded | None = None


def record_problem(record: PatientRecord) -> tuple[str, str] | None:
    """What refuses a validated record as a whole: a date of death before the birth."""
    born = record.birth_date
    if isinstance(record.deceased, When) and born is not None and \
            record.deceased.last < born.first:
        return "deceased", f"the date of death {record.deceased} is before the birth {born}"
    return None


def implausible(record: PatientRecord) -> list[Problem]:
    """Every impossible value or contradiction in a validated record."""
    out = []
    for index, obs in enumerate(record.observations):
        problem = _observation_problem(obs)
        if problem is not None:
            field, message = problem
            out.append(Problem(f"observations[{index}].{field}", message, "observations",
                               index, obs.test))
    return out + _dates_problems(record)


def without_implausible(record: PatientRecord, source: str) -> PatientRecord:
    """The record with its implausible facts taken out and listed in ``set_aside``."""
    problems = implausible(record)
    if not problems:
        return record
    update: dict[str, object] = {}
    dropped: dict[str, set[int]] = {}
    for problem in problems:
        if problem.index is not None:
            dropped.setdefault(problem.section, set()).add(problem.index)
        elif problem.section == "birth_date":
            update["birth_date"] = None
        else:  # a date field of a one-item section: consent.icf_signed, diagnosis.date...
            name = problem.field.split(".")[-1]
            section = update.get(problem.section, getattr(record, problem.section))
            update[problem.section] = section.model_copy(update={name: None})
    for section, indices in dropped.items():
        if section == "reproductive":  # its list of pregnancies
            rep = record.reproductive
            update[section] = rep.model_copy(update={"pregnancies": [
                item for i, item in enumerate(rep.pregnancies or []) if i not in indices]})
            continue
        items = getattr(record, section) or []
        update[section] = [item for i, item in enumerate(items) if i not in indices]
    aside = [SetAside(section=p.section, test=p.test, source=source, field=p.field,
                      reason=f"implausible: {p.message}") for p in problems]
    update["set_aside"] = [*record.set_aside, *aside]
    return record.model_copy(update=update)


def _observation_problem(obs) -> tuple[str, str] | None:
    for name in ("uln", "lln"):
        limit = getattr(obs, name)
        if limit is not None and limit <= 0 and not (name == "lln" and limit == 0):
            return name, (f"an {'upper' if name == 'uln' else 'lower'} limit of normal of "
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
    return _range_problem(info, value, obs.unit, obs.comparator)


def _range_problem(info: TestInfo, value: Decimal, unit: str | None,
                   comparator: str | None = None) -> tuple[str, str] | None:
    """The value against the test's plausible range, in the test's canonical unit. A bound
    is implausible only when every value it allows is ('<3' albumin in g/L; not '<300')."""
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
    upward, downward = comparator in (">", ">="), comparator in ("<", "<=")
    too_low = low is not None and not upward and (
        canonical <= low if comparator == "<" else canonical < low)
    too_high = high is not None and not downward and (
        canonical >= high if comparator == ">" else canonical > high)
    if too_low or too_high:
        return "value", (f"a {info.label} of {comparator or ''}{shown} is outside what a "
                         f"patient can have ({low}–{high}{in_unit}); check the value and its "
                         "unit")
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


# The dated items of a record: list sections, and the date fields each item may hold.
_DATED_LISTS = (("metastases", ("date", "resolved")), ("prior_therapies", ("start", "end")),
                ("tumour_measurements", ("date",)), ("lesions", ("date",)),
                ("observations", ("date",)), ("supportive_care", ("date", "start", "end")),
                ("conditions", ("date", "resolved")))
_DATED_FIELDS = (("consent", "icf_signed"), ("diagnosis", "date"), ("recist", "date"),
                 ("expected_survival", "date"))


def _dated_fields(record: PatientRecord) -> Iterator[tuple[str, str, int | None, When]]:
    """Every date a record holds (the birth date excepted): (field path, section, item
    index or None, date)."""
    for section, name in _DATED_FIELDS:
        item = getattr(record, section)
        when = getattr(item, name, None) if item is not None else None
        if isinstance(when, When):
            yield f"{section}.{name}", section, None, when
    for section, keys in _DATED_LISTS:
        for index, item in enumerate(getattr(record, section) or ()):
            for key in keys:
                when = getattr(item, key, None)
                if isinstance(when, When):
                    yield f"{section}[{index}].{key}", section, index, when
    pregnancies = record.reproductive.pregnancies if record.reproductive else None
    for index, item in enumerate(pregnancies or ()):
        for key in ("date", "start", "end"):
            when = getattr(item, key)
            if when is not None:
                yield f"reproductive.pregnancies[{index}].{key}", "reproductive", index, when


def _dates_problems(record: PatientRecord) -> list[Problem]:
    out: list[Problem] = []
    born = record.birth_date
    if born is not None and born.last < EARLIEST:
        out.append(Problem("birth_date", f"a birth date of {born} is before {EARLIEST.year}",
                           "birth_date"))
        born = None
    for field, section, index, when in _dated_fields(record):
        if when.last < EARLIEST:
            out.append(Problem(field, f"a date of {when} is before {EARLIEST.year}", section,
                               index))
        elif born is not None and when.last < born.first:
            out.append(Problem("birth_date", f"the birth date {born} is after {field} "
                                             f"({when})", "birth_date"))
            born = None
    for section, first, then, words in (
            ("prior_therapies", "start", "end", "the regimen ends ({then}) before it starts "
                                                "({first})"),
            ("supportive_care", "start", "end", "the course ends ({then}) before it starts "
                                                "({first})"),
            ("metastases", "date", "resolved", "it resolved ({then}) before it was found "
                                               "({first})"),
            ("conditions", "date", "resolved", "it resolved ({then}) before it was found "
                                               "({first})")):
        for index, item in enumerate(getattr(record, section) or ()):
            a, b = getattr(item, first, None), getattr(item, then, None)
            if isinstance(a, When) and isinstance(b, When) and b.last < a.first:
                out.append(Problem(f"{section}[{index}].{then}",
                                   words.format(first=a, then=b), section, index))
    return _unique(out)


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for problem in problems:
        key = (problem.section, problem.index, problem.field if problem.index is None else "")
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def date_problem(record: PatientRecord, as_of: date) -> tuple[str, str] | None:
    """What no assessment on ``as_of`` can screen: a patient not yet born on it, or recorded
    as dead on or before it. A fact dated after ``as_of`` (however far) is not a problem: the
    screen does not see it yet (derive's as-of cut)."""
    born = record.birth_date
    if born is not None and born.first > as_of:
        return "birth_date", f"the birth date {born} is after the assessment date {as_of}"
    dead = record.deceased
    if dead is True or (isinstance(dead, When) and dead.last <= as_of):
        when = f" on {dead}" if isinstance(dead, When) else ""
        return "deceased", f"recorded as deceased{when}: not a candidate, not screened"
    return None
